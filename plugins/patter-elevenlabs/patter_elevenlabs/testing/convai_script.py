"""Steps of a :class:`~patter_elevenlabs.testing.FakeConvAIServer` script.

A script is a sequence of these steps, run in order on every connection right after the fake sent
``conversation_initiation_metadata``. Example -- the agent greets, waits for the caller, asks for a tool,
pings, then hangs up::

    script = [
        Speak(ms=300, text="Hello, how can I help?"),
        WaitForUserAudio(ms=200),
        UserTranscript("I need a human"),
        ToolCall("transfer_call", {"number": "+15551234567"}),
        Ping(),
        Close(1000),
    ]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "AgentResponse",
    "Audio",
    "Close",
    "Correction",
    "Drop",
    "Interrupt",
    "Ping",
    "Send",
    "Sleep",
    "Speak",
    "Step",
    "ToolCall",
    "UserTranscript",
    "WaitForUserAudio",
]


@attrs.frozen
class Step:
    """Base class of every script step (so a mixed list of steps is a ``list[Step]``)."""


@attrs.frozen
class Speak(Step):
    """A new agent turn (a fresh ``event_id``): ``agent_response`` with ``text`` if given, then ``ms`` of
    tone as ``audio`` events of ``chunk_ms`` each, paced at the fake's ``speed``. ``wait=False`` speaks
    in the background so later steps (``Interrupt``) run while it plays."""

    ms: float = 200
    text: str | None = None
    chunk_ms: float = 50
    wait: bool = True


@attrs.frozen
class Audio(Step):
    """One ``audio`` event with an explicit ``event_id`` (default: the current turn's), e.g. a late chunk
    of an interrupted turn that the client must drop."""

    ms: float = 40
    event_id: int | None = None


@attrs.frozen
class Interrupt(Step):
    """Stop the background speech and send ``interruption`` with the current turn's ``event_id``."""


@attrs.frozen
class AgentResponse(Step):
    text: str


@attrs.frozen
class Correction(Step):
    """``agent_response_correction``: what the agent really said before it was interrupted."""

    original: str
    corrected: str


@attrs.frozen
class UserTranscript(Step):
    text: str


@attrs.frozen
class Ping(Step):
    """``ping`` with a fresh ``event_id``; without the matching ``pong`` within the fake's
    ``pong_timeout`` the fake closes the conversation (code 1008) and stops the script."""

    ping_ms: int | None = None


@attrs.frozen
class ToolCall(Step):
    """``client_tool_call``; waits up to ``timeout`` seconds for the matching ``client_tool_result``."""

    name: str
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    call_id: str | None = None
    timeout: float = 5.0


@attrs.frozen
class WaitForUserAudio(Step):
    """Wait until this much caller audio (in the agent's input format) has arrived on the connection."""

    ms: float = 20
    timeout: float = 10.0


@attrs.frozen
class Sleep(Step):
    seconds: float


@attrs.frozen
class Send(Step):
    """A raw frame: a dict is sent as JSON, a string as-is (malformed frames for robustness tests)."""

    message: Mapping[str, Any] | str


@attrs.frozen
class Close(Step):
    """Close the WebSocket; 1000 is how ElevenLabs ends a conversation the agent finished."""

    code: int = 1000
    reason: str = ""


@attrs.frozen
class Drop(Step):
    """Abort the TCP connection with no close frame (the client sees 1006)."""
