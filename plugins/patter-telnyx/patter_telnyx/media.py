"""The media WebSocket route: authenticate the stream, then hand a channel to the session.

Telnyx opens ``wss://{webhook_url}/ws/telnyx/stream/{encoded call id}`` after ``streaming_start``. The
stream must prove it belongs to a call this server started streaming: the per-call token minted by
``CallHost.issue_call_token`` travels as ``stream_auth_token``, which Telnyx sends as the
``x-telnyx-streaming-auth-token`` upgrade header (documented) -- and, as a fallback for proxies that
strip unknown upgrade headers, in ``custom_parameters`` (``patter_token``, echoed in the ``start``
frame) or in the ``connected`` frame. A wrong header is refused before the upgrade is accepted (HTTP
403); without a header the socket is accepted, the token is read from the first frames, and the
socket is closed (1008) unless it verifies for the call id in the path and in ``start``. Nothing about
the call -- no engine, no provider -- is created before that.

:class:`TelnyxMediaChannel` is the core's :class:`~patter_core.server.media.JsonMediaChannel` plus the
Telnyx specifics: frames released together by the jitter buffer, and (defensively) conversion when
Telnyx streams a codec other than the one requested.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from typing import cast

from patter_core.audio import Converter
from patter_core.audio.format import AudioFormat
from patter_core.interfaces.carrier import AudioReceived, CallHost, CallInfo, MediaEvent, StreamStopped
from patter_core.server.http import WebSocketConnection
from patter_core.server.media import JsonMediaChannel, accept_stream
from patter_telnyx.codec import StreamCodec
from patter_telnyx.dialect import TelnyxDialect
from patter_telnyx.paths import decode_call_id

__all__ = ["AUTH_HEADER", "TOKEN_PARAMETER", "TelnyxMediaChannel", "serve_stream"]

log = logging.getLogger("patter.telnyx")

AUTH_HEADER = "x-telnyx-streaming-auth-token"
TOKEN_PARAMETER = "patter_token"
"""The ``custom_parameters`` name that carries the stream token as a fallback."""


class TelnyxMediaChannel(JsonMediaChannel):
    def __init__(
        self,
        ws: WebSocketConnection,
        dialect: TelnyxDialect,
        *,
        call: CallInfo,
        format: AudioFormat,
        inbound_format: AudioFormat | None = None,
    ) -> None:
        super().__init__(ws, dialect, call=call, format=format, supports_marks=True)
        self.dialect = dialect
        self._inbound: Converter | None = None
        if inbound_format is not None and inbound_format != format:
            log.warning(
                "call %s: Telnyx streams %s, not the requested %s; converting",
                call.call_id,
                inbound_format,
                format,
            )
            self._inbound = Converter(inbound_format, format)

    async def events(self) -> AsyncGenerator[MediaEvent, None]:
        source = cast(AsyncGenerator[MediaEvent, None], super().events())
        try:
            async for event in source:
                for item in (event, *self.dialect.take_ready()):
                    converted = item
                    if self._inbound is not None and type(item) is AudioReceived:
                        converted = AudioReceived(self._inbound.convert(item.payload))
                    yield converted
                    if isinstance(converted, StreamStopped):
                        return
        finally:
            await source.aclose()


async def serve_stream(
    ws: WebSocketConnection,
    *,
    host: CallHost,
    codec: StreamCodec,
    on_live: Callable[[str], None] | None = None,
    start_timeout: float = 10.0,
    reorder_window: int = 3,
) -> None:
    """Authenticate one media socket and run its call (returns when the call ends)."""
    call_id = decode_call_id(ws.path_params.get("call_id", ""))
    if call_id is None:
        log.warning("Telnyx stream refused: %s is not a stream path this server issued", ws.path[:120])
        await ws.close(1008, "unknown call")
        return
    claims = None
    header = ws.headers.get(AUTH_HEADER)
    if header is not None:
        claims = host.verify_call_token(header, call_id)
        if claims is None:
            log.warning("Telnyx stream for call %s refused: invalid %s", call_id, AUTH_HEADER)
            await ws.close(1008, "unauthorized")
            return
    await ws.accept()
    dialect = TelnyxDialect(default_format=codec.format, reorder_window=reorder_window)
    start = await accept_stream(ws, dialect, timeout=start_timeout, label=f"telnyx stream {call_id}")
    if start is None or start.call_id != call_id:
        log.warning("Telnyx stream for call %s refused: no start for this call", call_id)
        await ws.close(1008, "unauthorized")
        return
    if claims is None:
        token = dialect.auth_token or start.parameters.get(TOKEN_PARAMETER)
        claims = host.verify_call_token(token, call_id) if token else None
        if claims is None:
            log.warning("Telnyx stream for call %s refused: missing or invalid stream token", call_id)
            await ws.close(1008, "unauthorized")
            return
    call = CallInfo(
        call_id=call_id,
        carrier="telnyx",
        direction=claims.get("direction") or "inbound",
        caller=claims.get("caller") or start.caller,
        callee=claims.get("callee") or start.callee,
        stream_id=start.stream_id,
        parameters={k: v for k, v in start.parameters.items() if k != TOKEN_PARAMETER},
    )
    channel = TelnyxMediaChannel(
        ws, dialect, call=call, format=codec.format, inbound_format=dialect.start_format
    )
    if on_live is not None:
        on_live(call_id)
    await host.run_call(channel)
