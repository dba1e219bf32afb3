"""Patter: put an AI agent on the phone.

::

    from patter_core import Patter

    phone = Patter(carrier="twilio", phone_number="+15550001111", webhook_url="agent.example.com")
    agent = phone.agent(system_prompt="You are a friendly receptionist.", engine="openai-realtime")
    await phone.serve(agent)

The core is a microkernel: carriers and AI providers are plugins (``patter-core list-plugins`` shows
what is installed). Names below are imported lazily so ``import patter_core`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from patter_core import logmask as _logmask
from patter_core.hookspecs import hookimpl

__version__ = "0.1.0"

_logmask.install()  # phone numbers and secrets never reach a log (opt out: PATTER_LOG_UNMASKED=1)

__all__ = [
    "Agent",
    "CallRecord",
    "CallerTurn",
    "Guardrail",
    "OutboundCall",
    "Patter",
    "Registry",
    "SessionOptions",
    "Tool",
    "ToolContext",
    "ToolError",
    "__version__",
    "errors",
    "guardrail",
    "hookimpl",
    "interfaces",
    "tool",
    "webhook_tool",
]

_LAZY = {
    "Agent": "patter_core.agent",
    "CallRecord": "patter_core.session.record",
    "CallerTurn": "patter_core.session.turns",
    "Guardrail": "patter_core.guardrails",
    "guardrail": "patter_core.guardrails",
    "OutboundCall": "patter_core.phone",
    "Patter": "patter_core.phone",
    "Registry": "patter_core.registry",
    "SessionOptions": "patter_core.session.call",
    "Tool": "patter_core.tools",
    "ToolContext": "patter_core.tools",
    "tool": "patter_core.tools",
    "ToolError": "patter_core.errors",
    "webhook_tool": "patter_core.webhooks",
}
_MODULES = {"errors", "interfaces", "audio", "testing"}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return import_module(f"patter_core.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'patter_core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | _MODULES)


if TYPE_CHECKING:
    from patter_core import errors, interfaces
    from patter_core.agent import Agent
    from patter_core.errors import ToolError
    from patter_core.guardrails import Guardrail, guardrail
    from patter_core.phone import OutboundCall, Patter
    from patter_core.registry import Registry
    from patter_core.session.call import SessionOptions
    from patter_core.session.record import CallRecord
    from patter_core.session.turns import CallerTurn
    from patter_core.tools import Tool, ToolContext, tool
    from patter_core.webhooks import webhook_tool
