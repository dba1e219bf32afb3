"""Opening one Realtime WebSocket: connect, ``session.created``, ``session.update``, ``session.updated``.

Every step is bounded by one deadline, so a service that accepts the socket and then says nothing can
never hang a call. A refusal at any step (HTTP status on upgrade, an ``error`` event answering the
``session.update``, a close) becomes :class:`ProviderConnectionError` carrying the service's code.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import attrs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from patter_core.audio.format import PCM16_24K, AudioFormat
from patter_core.errors import ProviderConnectionError
from patter_openai._common import as_object
from patter_openai.realtime.formats import format_from_wire

__all__ = ["RealtimeConnection", "close_details", "negotiated_formats", "open_realtime"]

log = logging.getLogger("patter.openai.realtime")
_PROVIDER = "openai-realtime"
#: Server events can be large (``session.created`` echoes the whole configuration, audio deltas).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: How long a closing handshake may take before the socket is simply aborted. It bounds how late a
#: silent peer is noticed: a missed pong fails the connection only once this has passed too.
CLOSE_TIMEOUT = 1.0


@attrs.define
class RealtimeConnection:
    """An open socket whose session is configured, and the effective session the service reported."""

    ws: ClientConnection
    session: Mapping[str, Any]


async def open_realtime(
    url: str,
    headers: Mapping[str, str],
    session_update: dict[str, Any],
    *,
    timeout: float,
    keepalive_interval: float | None,
    keepalive_timeout: float | None,
) -> RealtimeConnection:
    """Connect to ``url`` and configure the session, all within ``timeout`` seconds."""
    ws: ClientConnection | None = None
    try:
        async with asyncio.timeout(timeout):
            ws = await connect(
                url,
                additional_headers=dict(headers),
                open_timeout=None,  # bounded by the deadline above
                ping_interval=keepalive_interval,
                ping_timeout=keepalive_timeout,
                close_timeout=CLOSE_TIMEOUT,
                max_size=MAX_MESSAGE_BYTES,
                compression=None,
            )
            await _expect(ws, "session.created")
            await ws.send(json.dumps(session_update, separators=(",", ":")))
            updated = await _expect(ws, "session.updated", answering=session_update.get("event_id"))
            session = updated.get("session")
            return RealtimeConnection(ws=ws, session=session if isinstance(session, Mapping) else {})
    except TimeoutError:
        await _abort(ws)
        raise ProviderConnectionError(
            f"no answer within {timeout:g} s while opening the Realtime session at {_redact(url)}",
            provider=_PROVIDER,
            code="timeout",
        ) from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        hint = " (check the API key: pass api_key= or set OPENAI_API_KEY)" if status in (401, 403) else ""
        raise ProviderConnectionError(
            f"the Realtime endpoint refused the WebSocket with HTTP {status}{hint}",
            provider=_PROVIDER,
            code=str(status),
            fatal=status in (401, 403, 404),
        ) from None
    except (OSError, InvalidHandshake) as exc:
        await _abort(ws)
        raise ProviderConnectionError(
            f"cannot connect to {_redact(url)}: {exc}", provider=_PROVIDER, code="connect_failed"
        ) from None
    except ConnectionClosed as exc:
        code, reason = close_details(exc)
        raise ProviderConnectionError(
            f"the Realtime socket closed during setup (code {code}{', ' + reason if reason else ''})",
            provider=_PROVIDER,
            code=str(code),
        ) from None
    except ProviderConnectionError:
        await _abort(ws)
        raise
    except asyncio.CancelledError:  # the call ended while we were connecting: leave nothing open
        await _abort(ws)
        raise


async def _expect(ws: ClientConnection, wanted: str, *, answering: object = None) -> dict[str, Any]:
    """Read until the ``wanted`` event; an ``error`` event (or one about our request) fails setup."""
    while True:
        raw = await ws.recv()
        try:
            event = json.loads(raw)
        except (TypeError, ValueError):
            log.warning("dropping a non-JSON message during Realtime setup")
            continue
        if not isinstance(event, dict):
            log.warning("dropping a non-object message during Realtime setup")
            continue
        kind = event.get("type")
        if kind == wanted:
            return event
        if kind == "error":
            error = as_object(event.get("error"))
            code = error.get("code") or error.get("type")
            message = error.get("message") or "unknown error"
            raise ProviderConnectionError(
                f"the service refused the session ({code}): {message}",
                provider=_PROVIDER,
                code=str(code) if code else None,
                fatal=True,
            )
        log.debug("ignoring %s while waiting for %s", kind, wanted)


def negotiated_formats(
    session: Mapping[str, Any], requested_in: AudioFormat, requested_out: AudioFormat
) -> tuple[AudioFormat, AudioFormat]:
    """The input and output formats ``session.updated`` reports; PCM 24 kHz when absent or unknown.

    A service that does not honour a requested G.711 format (PROTOCOLS §3.3) is logged once here.
    """
    audio = as_object(session.get("audio"))
    result: list[AudioFormat] = []
    for direction, requested in (("input", requested_in), ("output", requested_out)):
        block = as_object(audio.get(direction))
        reported = format_from_wire(block.get("format"))
        actual = reported or PCM16_24K
        if actual != requested:
            log.warning(
                "OpenAI Realtime did not honour %s %s (session.updated reports %s); using %s with local "
                "conversion",
                direction,
                requested,
                reported or "no known format",
                actual,
            )
        result.append(actual)
    return result[0], result[1]


async def _abort(ws: ClientConnection | None) -> None:
    if ws is not None:
        ws.transport.abort()


def close_details(exc: ConnectionClosed) -> tuple[int, str]:
    """The close code and reason the peer sent (1006 / "" when the connection just dropped)."""
    frame = exc.rcvd
    return (frame.code, frame.reason) if frame is not None else (1006, "")


def _redact(url: str) -> str:
    return url.split("?", 1)[0]
