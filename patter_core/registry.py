"""Providers by kind and name, built from the plugins' ``register_*`` hooks.

Each hook implementation is called on its own, so a plugin whose hook raises is reported and the
others still register. Two plugins registering the same ``(kind, name)`` is a conflict: the name
becomes unusable (resolving it raises :class:`DuplicateProviderError` naming both distributions) and
the second plugin is marked failed in ``patter-core list-plugins``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import attrs

from patter_core.errors import DuplicateProviderError, UnknownProviderError
from patter_core.plugins import PatterPluginManager, PluginInfo, make_plugin_manager

__all__ = [
    "HOOK_KINDS",
    "KINDS",
    "ProviderEntry",
    "RegisterCallback",
    "Registry",
    "default_registry",
]

#: Provider kinds, in display order.
KINDS: tuple[str, ...] = ("carrier", "engine", "stt", "llm", "tts", "vad", "tool", "guardrail")

#: Which hook registers which kind.
HOOK_KINDS: Mapping[str, str] = {
    "register_carriers": "carrier",
    "register_engines": "engine",
    "register_stt": "stt",
    "register_llms": "llm",
    "register_tts": "tts",
    "register_vads": "vad",
    "register_tools": "tool",
    "register_guardrails": "guardrail",
}


class RegisterCallback(Protocol):
    """What a ``register_*`` hook receives: call it once per provider."""

    def __call__(self, factory: Callable[..., Any], *, name: str, **metadata: Any) -> None: ...


@attrs.frozen
class ProviderEntry:
    kind: str
    name: str
    factory: Callable[..., Any]
    distribution: str
    metadata: Mapping[str, Any] = attrs.field(factory=dict)

    def create(self, **kwargs: Any) -> Any:
        """Instantiate the provider with the user's keyword arguments."""
        return self.factory(**kwargs)


class Registry:
    """Every provider the loaded plugins registered, addressable as ``(kind, name)``."""

    def __init__(self, plugin_manager: PatterPluginManager) -> None:
        self.plugin_manager = plugin_manager
        self._entries: dict[tuple[str, str], ProviderEntry] = {}
        self._conflicts: dict[tuple[str, str], list[str]] = {}
        self._provided: dict[str, dict[str, list[str]]] = {}
        for hook_name, kind in HOOK_KINDS.items():
            self._run_hook(hook_name, kind)

    @classmethod
    def build(cls, **manager_kwargs: Any) -> Registry:
        """A registry over a fresh plugin manager (see :func:`make_plugin_manager`)."""
        return cls(make_plugin_manager(**manager_kwargs))

    # -- building -----------------------------------------------------------------------------

    def _run_hook(self, hook_name: str, kind: str) -> None:
        hook = getattr(self.plugin_manager.hook, hook_name)
        for impl in hook.get_hookimpls():
            info = self.plugin_manager.info_for(impl.plugin)
            dist = info.name if info is not None else impl.plugin_name

            def register(
                factory: Callable[..., Any],
                *,
                name: str,
                _dist: str = dist,
                _info: PluginInfo | None = info,
                **metadata: Any,
            ) -> None:
                entry = ProviderEntry(
                    kind=kind, name=name, factory=factory, distribution=_dist, metadata=metadata
                )
                self._add(entry, _info)

            try:
                impl.function(register)
            except Exception as exc:
                self._fail(info, f"{hook_name} raised {type(exc).__name__}: {exc}")

    def _add(self, entry: ProviderEntry, info: PluginInfo | None) -> None:
        if not isinstance(entry.name, str) or not entry.name:
            self._fail(info, f"registered a {entry.kind} with an empty or non-string name")
            return
        if not callable(entry.factory):
            self._fail(info, f"registered {entry.kind} '{entry.name}' with a factory that is not callable")
            return
        key = (entry.kind, entry.name)
        existing = self._entries.get(key)
        if existing is not None and existing.distribution != entry.distribution:
            self._conflicts.setdefault(key, [existing.distribution]).append(entry.distribution)
            error = DuplicateProviderError(
                entry.kind, entry.name, [existing.distribution, entry.distribution]
            )
            self._fail(info, str(error))
            return
        self._entries[key] = entry
        names = self._provided.setdefault(entry.distribution, {})
        kind_names = names.setdefault(entry.kind, [])
        if entry.name not in kind_names:
            kind_names.append(entry.name)

    @staticmethod
    def _fail(info: PluginInfo | None, message: str) -> None:
        if info is None:
            return
        info.error = message if info.error is None else f"{info.error}; {message}"
        info.status = "failed"

    # -- queries ------------------------------------------------------------------------------

    def get(self, kind: str, name: str) -> ProviderEntry:
        """The entry for ``name``; raises a clear error when it is unknown or ambiguous."""
        if kind not in KINDS:
            raise ValueError(f"unknown provider kind {kind!r}; kinds are: {', '.join(KINDS)}")
        key = (kind, name)
        if key in self._conflicts:
            raise DuplicateProviderError(kind, name, self._conflicts[key])
        try:
            return self._entries[key]
        except KeyError:
            installed = self.names(kind)
            close = difflib.get_close_matches(name, installed, n=1)
            raise UnknownProviderError(
                kind, name, installed, suggestion=close[0] if close else None
            ) from None

    def create(self, kind: str, name: str, **kwargs: Any) -> Any:
        """Resolve ``name`` and construct the provider with ``kwargs``."""
        return self.get(kind, name).create(**kwargs)

    def default(self, kind: str) -> ProviderEntry | None:
        """The provider of ``kind`` registered with the highest ``default_priority=`` (none without one)."""
        ranked = [
            e
            for (k, n), e in self._entries.items()
            if k == kind
            and (k, n) not in self._conflicts
            and isinstance(e.metadata.get("default_priority"), int)
        ]
        if not ranked:
            return None
        return max(ranked, key=lambda e: (e.metadata["default_priority"], e.name))

    def network_carriers(self) -> list[str]:
        """Carriers that reach the telephone network (not those registered with ``offline=True``)."""
        return [n for n in self.names("carrier") if not self._entries[("carrier", n)].metadata.get("offline")]

    def names(self, kind: str) -> list[str]:
        return sorted(n for (k, n) in self._entries if k == kind)

    def entries(self) -> Iterator[ProviderEntry]:
        return iter(self._entries.values())

    def provided_by(self, distribution: str) -> dict[str, list[str]]:
        """``{kind: [names]}`` for one distribution, every kind present (possibly empty)."""
        provided = self._provided.get(distribution, {})
        return {kind: sorted(provided.get(kind, [])) for kind in KINDS}

    @property
    def plugins(self) -> list[PluginInfo]:
        return self.plugin_manager.plugin_infos


@functools.cache
def default_registry() -> Registry:
    """The registry of this process's installed plugins, built on first use.

    Code that needs isolation (tests, multi-tenant hosts) builds its own with :meth:`Registry.build`
    and passes it where a ``registry=`` argument is accepted.
    """
    return Registry.build()
