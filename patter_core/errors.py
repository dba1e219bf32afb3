"""Every error Patter raises on purpose, in one hierarchy::

PatterError
├── ConfigurationError          a setting is missing or invalid; the message names the fix
│   ├── MissingCredentialError  an API key / token is neither passed nor in the environment
│   └── MissingDependencyError  an optional package is not installed; says what to pip install
├── PluginError
│   ├── UnknownProviderError    no installed plugin provides that name
│   └── DuplicateProviderError  two plugins claim the same name
├── ProviderError               a provider failed at run time (network, protocol, auth)
│   └── ProviderConnectionError its connection dropped or could not be opened
├── CarrierError                a carrier REST call failed
├── ToolError                   a tool failed; the model receives the message as the result
└── CallEnded                   the call is over (hang-up); raised into work that outlived it
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CallEnded",
    "CarrierError",
    "ConfigurationError",
    "DuplicateProviderError",
    "MissingCredentialError",
    "MissingDependencyError",
    "PatterError",
    "PluginError",
    "ProviderConnectionError",
    "ProviderError",
    "ToolError",
    "UnknownProviderError",
]


class PatterError(Exception):
    """Base class of Patter's own errors."""


class ConfigurationError(PatterError, ValueError):
    """A setting is missing or invalid. The message says how to fix it."""


class MissingCredentialError(ConfigurationError):
    """A credential is neither passed nor set in the environment."""

    def __init__(self, what: str, *, argument: str, env: str | None = None) -> None:
        hint = f"pass {argument}=" + (f" or set the {env} environment variable" if env else "")
        super().__init__(f"{env or what} is not set: {hint}" if env else f"{what} is not set: {hint}")
        self.argument = argument
        self.env = env


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, *, purpose: str) -> None:
        super().__init__(f"{purpose} needs the '{package}' package: pip install {package}")
        self.package = package


class PluginError(PatterError):
    """Something about the installed plugins prevents resolving a provider."""


def _plugin_hint(name: str) -> str:
    vendor = name.split("-", 1)[0]
    return (
        f"first-party plugins are named patter-<vendor> (try: pip install patter-{vendor}); "
        "run `patter-core list-plugins` to see what is installed"
    )


class UnknownProviderError(PluginError, LookupError):
    """No installed plugin registers this provider name."""

    def __init__(
        self, kind: str, name: str, installed: Sequence[str], *, suggestion: str | None = None
    ) -> None:
        have = ", ".join(installed) if installed else "none"
        did_you_mean = f" Did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(
            f"No {kind} provider named {name!r} is installed (installed {kind} providers: {have}).{did_you_mean} "
            f"Install the plugin that provides it: {_plugin_hint(name)}."
        )
        self.kind, self.name, self.installed = kind, name, list(installed)


class DuplicateProviderError(PluginError):
    """Two distributions register the same ``(kind, name)``."""

    def __init__(self, kind: str, name: str, distributions: Sequence[str]) -> None:
        dists = " and ".join(repr(d) for d in distributions)
        super().__init__(
            f"the {kind} provider name {name!r} is registered by both {dists}: uninstall one of them, "
            f"or block one with PATTER_BLOCK_PLUGINS=<distribution>"
        )
        self.kind, self.name, self.distributions = kind, name, list(distributions)


class ProviderError(PatterError):
    """A provider failed at run time."""

    def __init__(
        self, message: str, *, provider: str = "", code: str | None = None, fatal: bool = False
    ) -> None:
        super().__init__(f"{provider}: {message}" if provider else message)
        self.provider, self.code, self.fatal = provider, code, fatal


class ProviderConnectionError(ProviderError):
    """A provider's connection could not be opened, or dropped."""


class CarrierError(PatterError):
    """A carrier API request failed."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class ToolError(PatterError):
    """Raise from a tool to return a clean error message to the model."""


class CallEnded(PatterError):
    """The call has ended."""
