"""Plugin manager factory and a safe entry-point loader.

Plugins are distributions that declare an entry point in the group ``patter``::

    [project.entry-points.patter]
    mytts = "patter_mytts._hooks"

The loader imports each entry point on its own, inside a ``try``: a plugin that fails to import (or
declares a hook that does not exist) is recorded with its error and unregistered, and never breaks
the other plugins or the CLI. Each attempt leaves a :class:`PluginInfo` record.

Environment switches (read when a manager is built, so tests can pass their own mapping):

``PATTER_DISABLE_PLUGIN_AUTOLOAD=1``
    load no entry points at all (only what the caller registers by hand);
``PATTER_PLUGINS=a,b``
    allow-list: load only these (entry-point or distribution names);
``PATTER_BLOCK_PLUGINS=a,b``
    block-list: never load these.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

import attrs
import importlib_metadata
import pluggy

from patter_core import hookspecs
from patter_core.hookspecs import PROJECT_NAME

__all__ = [
    "ENTRY_POINT_GROUP",
    "PatterPluginManager",
    "PluginInfo",
    "make_plugin_manager",
]

ENTRY_POINT_GROUP = PROJECT_NAME
_TRUE = {"1", "true", "yes", "on"}


@attrs.define
class PluginInfo:
    """What the loader learned about one plugin: where it came from and whether it loaded."""

    name: str
    """Distribution name (``patter-twilio``), or the plugin name for hand-registered plugins."""
    version: str | None
    entry_point: str
    """``"<name> = <module>"`` as declared, or ``"builtin"`` / ``"manual"``."""
    module: str | None
    error: str | None = None
    status: str = "loaded"
    """``loaded``, ``failed`` or ``blocked``."""
    plugin: Any = attrs.field(default=None, repr=False, eq=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == "loaded"


class PatterPluginManager(pluggy.PluginManager):
    """A pluggy manager that also keeps one :class:`PluginInfo` per plugin it tried to load."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.plugin_infos: list[PluginInfo] = []

    def add_plugin(
        self, plugin: object, *, name: str, version: str | None = None, entry_point: str = "manual"
    ) -> PluginInfo:
        """Register ``plugin`` (a module or object with hookimpls) and record it; never raises."""
        module = getattr(plugin, "__name__", type(plugin).__name__)
        info = PluginInfo(name=name, version=version, entry_point=entry_point, module=module, plugin=plugin)
        try:
            self.register(plugin, name=_unique_name(self, name))
            self._check_one(plugin)
        except Exception as exc:
            info.error = _describe(exc)
            info.status = "failed"
        self.plugin_infos.append(info)
        return info

    def _check_one(self, plugin: object) -> None:
        try:
            self.check_pending()
        except pluggy.PluginValidationError:
            self.unregister(plugin)
            raise

    def info_for(self, plugin: object) -> PluginInfo | None:
        for info in self.plugin_infos:
            if info.plugin is plugin:
                return info
        return None


def make_plugin_manager(
    *,
    load_entrypoints: bool = True,
    env: Mapping[str, str] | None = None,
    extra_plugins: Iterable[tuple[str, object]] = (),
) -> PatterPluginManager:
    """Build a fresh manager: the core's built-in providers, then every allowed entry point.

    ``extra_plugins`` are ``(name, plugin)`` pairs registered by hand (handy in tests).
    """
    env = os.environ if env is None else env
    pm = PatterPluginManager()
    from patter_core import _builtin_plugin

    pm.add_plugin(
        _builtin_plugin, name="patter-core", version=_dist_version("patter-core"), entry_point="builtin"
    )
    if load_entrypoints and env.get("PATTER_DISABLE_PLUGIN_AUTOLOAD", "").strip().lower() not in _TRUE:
        _load_entrypoints(
            pm, allow=_split(env.get("PATTER_PLUGINS")), block=_split(env.get("PATTER_BLOCK_PLUGINS"))
        )
    for name, plugin in extra_plugins:
        pm.add_plugin(plugin, name=name)
    return pm


def _load_entrypoints(pm: PatterPluginManager, *, allow: set[str] | None, block: set[str] | None) -> None:
    seen: set[tuple[str, str]] = set()
    for ep in sorted(importlib_metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else ep.name
        version = ep.dist.version if ep.dist is not None else None
        key = (_norm(dist), ep.name)
        if key in seen:  # the same distribution visible twice on sys.path (editable + site)
            continue
        seen.add(key)
        declared = f"{ep.name} = {ep.value}"
        names = {_norm(ep.name), _norm(dist)}
        if (allow is not None and not names & allow) or (block is not None and names & block):
            pm.plugin_infos.append(
                PluginInfo(
                    name=dist, version=version, entry_point=declared, module=ep.module, status="blocked"
                )
            )
            continue
        try:
            plugin: ModuleType | Any = ep.load()
        except BaseException as exc:  # a plugin may even call sys.exit() at import
            if isinstance(exc, KeyboardInterrupt):
                raise
            pm.plugin_infos.append(
                PluginInfo(
                    name=dist,
                    version=version,
                    entry_point=declared,
                    module=ep.module,
                    error=_describe(exc),
                    status="failed",
                )
            )
            continue
        pm.add_plugin(plugin, name=dist, version=version, entry_point=declared)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _split(value: str | None) -> set[str] | None:
    if value is None or not value.strip():
        return None
    return {_norm(v) for v in value.split(",") if v.strip()}


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _unique_name(pm: pluggy.PluginManager, name: str) -> str:
    candidate, n = name, 1
    while pm.has_plugin(candidate):
        n += 1
        candidate = f"{name}#{n}"
    return candidate


def _dist_version(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None
