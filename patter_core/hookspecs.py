"""The extension points of Patter, and nothing else.

Every hook is called once per plugin when a registry is built, is synchronous and cheap, and only
*registers*: it receives a ``register`` callback and calls it once per provider it ships::

    from patter_core import hookimpl

    @hookimpl
    def register_tts(register):
        register(MyTTS, name="mytts")

``register(factory, name=..., **metadata)`` records a class (or any callable returning a provider),
not an instance: users pass their credentials when they construct it. Optional keyword metadata
(``description=``, ``env=`` for the environment variables the provider reads) is shown by
``patter-core list-plugins`` and ``patter-core doctor``.

``register_commands(cli)`` receives the CLI's :class:`argparse` sub-command registry so a plugin
can add ``patter-core <command>`` entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from patter_core.registry import RegisterCallback

__all__ = [
    "PROJECT_NAME",
    "hookimpl",
    "hookspec",
    "register_carriers",
    "register_commands",
    "register_engines",
    "register_guardrails",
    "register_llms",
    "register_stt",
    "register_tools",
    "register_tts",
    "register_vads",
]

#: The one pluggy project name: hook markers, plugin manager and entry-point group.
PROJECT_NAME = "patter"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_carriers(register: RegisterCallback) -> None:
    """Register telephony carriers (:class:`patter_core.interfaces.Carrier` factories)."""


@hookspec
def register_engines(register: RegisterCallback) -> None:
    """Register speech-to-speech engines (:class:`patter_core.interfaces.Engine` factories)."""


@hookspec
def register_stt(register: RegisterCallback) -> None:
    """Register speech-to-text providers (:class:`patter_core.interfaces.STT` factories)."""


@hookspec
def register_llms(register: RegisterCallback) -> None:
    """Register language models (:class:`patter_core.interfaces.LLM` factories)."""


@hookspec
def register_tts(register: RegisterCallback) -> None:
    """Register text-to-speech providers (:class:`patter_core.interfaces.TTS` factories)."""


@hookspec
def register_vads(register: RegisterCallback) -> None:
    """Register voice-activity detectors (:class:`patter_core.interfaces.VAD` factories)."""


@hookspec
def register_tools(register: RegisterCallback) -> None:
    """Register ready-made tools (:class:`patter_core.tools.Tool` objects or factories)."""


@hookspec
def register_guardrails(register: RegisterCallback) -> None:
    """Register ready-made guardrails (:class:`patter_core.guardrails.Guardrail` factories)."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add sub-commands to ``patter-core``; ``cli`` is a :class:`patter_core.cli.CommandRegistry`."""
