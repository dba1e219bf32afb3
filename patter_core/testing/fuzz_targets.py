"""The core's parsers of untrusted input, as :class:`~patter_core.testing.fuzz.FuzzTarget` s.

Each target's feed function checks more than "does not crash" where the parser guards something:

* ``call-token`` -- a mutated per-call token never verifies (only the exact token does), a token of
  another call or an expired one never verifies for this call;
* ``webhook-signature`` / ``webhook-timestamp`` -- only the exact signature, for the right time window,
  is accepted;
* ``sse`` -- the events do not depend on how the body was cut into chunks;
* ``tool-arguments`` -- ``Tool.run`` turns any argument text into a result, never an exception;
* ``http-json`` / ``http-form`` / ``fake-webhook`` -- webhook bodies give 4xx, never 5xx;
* ``fake-media`` -- the fake carrier's media dialect (the reference for carrier plugins).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import AsyncIterator
from typing import Literal

from patter_core.providers.sse import ServerSentEvent, iter_sse
from patter_core.server.http import BadRequest, HttpRequest
from patter_core.server.tokens import CallTokens
from patter_core.testing.fuzz import Feed, FuzzTarget, dialect_target
from patter_core.testing.mutate import Message
from patter_core.tools import Tool, ToolResult, tool
from patter_core.webhooks import sign_body, verify_signature

__all__ = ["fuzz_targets"]

_NOW = 1_700_000_000
_SECRET = b"fuzz-secret-0123456789abcdef"


def _fake_media() -> FuzzTarget:
    from patter_core.testing.carrier import FakeDialect

    frames = [
        {"event": "start", "call_id": "CA1", "token": "v1.abc.def"},
        {"event": "media", "payload": "//79/Pv6+fj3"},
        {"event": "mark", "name": "seg-1:100"},
        {"event": "dtmf", "digit": "7"},
        {"event": "stop"},
    ]
    return dialect_target("fake-media", FakeDialect, [json.dumps(f) for f in frames])


def _call_token() -> FuzzTarget:
    tokens = CallTokens(_SECRET, ttl_s=600, clock=lambda: _NOW)
    valid = tokens.issue("CA1", caller="+15550001111")
    other_call = tokens.issue("CA2", caller="+15550001111")
    expired = CallTokens(_SECRET, ttl_s=600, clock=lambda: _NOW - 601).issue("CA1")

    def make() -> Feed:
        def feed(message: Message) -> None:
            token = message if isinstance(message, str) else message.decode("latin-1")
            claims = tokens.verify(token, "CA1")
            if claims is not None and token != valid:
                raise AssertionError(f"a token that is not the issued one verified: {token!r}")
            if claims is not None and dict(claims) != {"caller": "+15550001111"}:
                raise AssertionError(f"claims changed: {claims!r}")

        return feed

    return FuzzTarget("call-token", (valid, other_call, expired), make)


def _webhook_signature() -> FuzzTarget:
    body = b'{"tool":"book","arguments":{"day":"Tuesday"}}'
    valid = sign_body(_SECRET, _NOW, body)

    def make() -> Feed:
        def feed(message: Message) -> None:
            signature = message if isinstance(message, str) else message.decode("latin-1")
            ok = verify_signature(_SECRET, str(_NOW), body, signature, now=_NOW)
            if ok is not (signature == valid):
                raise AssertionError(f"verify_signature({signature!r}) returned {ok}")

        return feed

    return FuzzTarget("webhook-signature", (valid, f"v1={'0' * 64}"), make)


def _webhook_timestamp() -> FuzzTarget:
    body = b"{}"
    signature = sign_body(_SECRET, _NOW, body)

    def make() -> Feed:
        def feed(message: Message) -> None:
            stamp = message if isinstance(message, str) else message.decode("latin-1")
            ok = verify_signature(_SECRET, stamp, body, signature, now=_NOW)
            if ok and int(stamp) != _NOW:
                raise AssertionError(f"timestamp {stamp!r} accepted for a body signed at {_NOW}")

        return feed

    return FuzzTarget("webhook-timestamp", (str(_NOW), str(_NOW - 400)), make)


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _events(parts: list[bytes]) -> list[ServerSentEvent]:
    return [event async for event in iter_sse(_chunks(parts), max_event_bytes=256 * 1024)]


def _sse() -> FuzzTarget:
    examples = (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi \xc3\xa9"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
        b"event: audio\r\nid: 7\r\ndata: line one\r\ndata: line two\r\n\r\n: comment\r\n\r\n",
        b"retry: 1000\rdata: cr only\r\rdata: last without blank line",
    )

    def make() -> Feed:
        async def feed(message: Message) -> None:
            body = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
            rnd = random.Random(hashlib.sha256(body).digest())
            cuts = sorted(rnd.sample(range(len(body) + 1), min(len(body) + 1, rnd.randrange(1, 6))))
            parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
            whole, cut = await _events([body]), await _events(parts)
            if whole != cut:
                raise AssertionError(f"chunking changed the events: {whole!r} != {cut!r}")

        return feed

    return FuzzTarget("sse", examples, make, allowed=(ValueError,))


def _tool_arguments() -> FuzzTarget:
    @tool
    async def book(
        day: str, slots: list[int], kind: Literal["cut", "colour"], note: str | None = None
    ) -> str:
        """Book.

        Args:
            day: The day.
            slots: Slot numbers.
            kind: What to book.
            note: Anything else.
        """
        return f"{day} {sum(slots)} {kind} {note}"

    examples = (
        '{"day":"Tuesday","slots":[1,2],"kind":"cut"}',
        '{"day":"Mon","slots":[],"kind":"colour","note":"x"}',
    )

    def make() -> Feed:
        target: Tool = book

        async def feed(message: Message) -> None:
            result = await target.run(message)  # type: ignore[arg-type]
            if not isinstance(result, ToolResult) or not isinstance(result.output, str):
                raise AssertionError(f"Tool.run returned {result!r}")

        return feed

    return FuzzTarget("tool-arguments", examples, make)


def _http_body(kind: str) -> FuzzTarget:
    examples: tuple[Message, ...]
    if kind == "json":
        examples = (
            b'{"call_id":"CA1","from":"+15550001111","to":"+15550002222"}',
            b'{"data":{"event_type":"call.initiated"}}',
        )
    else:
        examples = (b"CallSid=CA1&From=%2B15550001111&To=%2B15550002222&CallStatus=ringing", b"a=1&a=2&b=")

    def make() -> Feed:
        def feed(message: Message) -> None:
            body = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
            request = HttpRequest(method="POST", path="/webhooks/x", query_string="", headers={}, body=body)
            request.json() if kind == "json" else request.form()

        return feed

    return FuzzTarget(f"http-{kind}", examples, make, allowed=(BadRequest,))


def _fake_webhook() -> FuzzTarget:
    """The fake carrier's voice webhook, signed (so the body really is parsed): never a 5xx."""
    from patter_core.testing.carrier import FakeCarrier, sign_fake_webhook

    def make() -> Feed:
        from patter_core.server.host import ServerHost

        carrier = FakeCarrier(secret="fuzz-carrier-secret")
        ServerHost(
            carrier=carrier,
            webhook_url="agent.test",
            tokens=CallTokens(_SECRET),
            session_factory=lambda channel: None,  # type: ignore[arg-type,return-value]
        )

        async def feed(message: Message) -> None:
            body = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
            request = HttpRequest(
                method="POST",
                path="/webhooks/fake/voice",
                query_string="",
                headers={"x-fake-signature": sign_fake_webhook(carrier.secret, body)},
                body=body,
            )
            try:
                response = await carrier._voice(request)
            except BadRequest:
                return  # the server answers 400
            if response.status >= 500:
                raise AssertionError(f"webhook answered {response.status}")

        return feed

    examples = (json.dumps({"call_id": "CA1", "from": "+15550001111", "to": "+15550002222"}),)
    return FuzzTarget("fake-webhook", examples, make)


def fuzz_targets() -> list[FuzzTarget]:
    """The core's targets (see the module docstring)."""
    return [
        _fake_media(),
        _call_token(),
        _webhook_signature(),
        _webhook_timestamp(),
        _sse(),
        _tool_arguments(),
        _http_body("json"),
        _http_body("form"),
        _fake_webhook(),
    ]
