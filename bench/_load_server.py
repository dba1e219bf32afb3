"""The server side of ``bench/load.py``: Patter as a user deploys it, or the bare relay it is compared with.

``--mode patter``: the real server as ``patter-core serve`` runs it (quart + hypercorn for webhooks,
media WebSockets on the lean path of ``patter_core/server/front.py``, start-up objects frozen out of
the garbage collector), the Twilio carrier
with signature verification and per-call tokens, an engine-mode agent on the OpenAI Realtime engine
pointed at the engine fake (``--engine-url``), with a first message (the fake then streams audio for
as long as the load generator configured).

``--mode relay``: the limit of the stack -- a minimal ``websockets`` server that relays the same frames:
Twilio ``media`` in -> ``input_audio_buffer.append`` out (the base64 payload passed through as is) to a
``websockets`` client connection to the same fake; ``response.output_audio.delta`` in -> 160-byte
Twilio ``media`` frames out. No webhook, no pacing, no marks, no tokens, no validation.

Prints one JSON line ``{"port": ..., "pid": ...}`` when it accepts connections, then serves until
SIGTERM. ``--uvloop`` runs it on uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
import sys
from typing import Any

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token-0123456789"
WEBHOOK_HOST = "agent.bench"
GREETING = "Hello, thanks for calling the load test line."

RELAY_SESSION = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "bench",
        "output_modalities": ["audio"],
        "audio": {
            "input": {"format": {"type": "audio/pcmu"}, "turn_detection": {"type": "server_vad"}},
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
    },
}
RELAY_GREETING = {"type": "response.create", "response": {"instructions": f'Say exactly "{GREETING}"'}}


def _ready(port: int) -> None:
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)


async def serve_patter(args: argparse.Namespace, stop: asyncio.Event) -> None:
    from patter_openai import OpenAIRealtime
    from patter_twilio import Twilio

    from patter_core.phone import Patter
    from patter_core.session.call import SessionOptions

    twilio = Twilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, base_url="http://127.0.0.1:9")
    phone = Patter(carrier=twilio, phone_number="+15550002222", webhook_url=WEBHOOK_HOST, secret=args.secret)
    agent = phone.agent(
        system_prompt="You are the load-test agent.",
        engine=OpenAIRealtime(api_key="sk-bench", base_url=args.engine_url),
        first_message=GREETING,
    )
    serving = asyncio.ensure_future(
        phone.serve(agent, host="127.0.0.1", port=args.port, session_options=SessionOptions())
    )
    ready = asyncio.ensure_future(phone.wait_ready(30))
    await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        serving.result()
    assert phone.port is not None
    if args.freeze:  # as `patter-core serve` does once it is ready
        from patter_core.server.tuning import freeze_startup_objects

        freeze_startup_objects()
    _ready(phone.port)
    await stop.wait()
    await phone.stop()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(serving, 20)


async def serve_relay(args: argparse.Namespace, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    engine_url = args.engine_url.replace("http://", "ws://").rstrip("/") + "/realtime?model=gpt-realtime"
    session_update = json.dumps(RELAY_SESSION)
    greeting = json.dumps(RELAY_GREETING)

    async def relay(ws: ServerConnection) -> None:
        stream_sid = None
        async for message in ws:
            data = json.loads(message)
            if data.get("event") == "start":
                stream_sid = data["start"]["streamSid"]
                break
        if stream_sid is None:
            return
        engine = await connect(
            engine_url,
            additional_headers={"Authorization": "Bearer sk-bench"},
            compression=None,
            ping_interval=None,
            max_size=2**24,
        )
        await engine.send(session_update)
        await engine.send(greeting)
        prefix = '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"'

        async def down() -> None:
            pending = b""
            async for raw in engine:
                event = json.loads(raw)
                if event.get("type") != "response.output_audio.delta":
                    continue
                pending += base64.b64decode(event["delta"])
                while len(pending) >= 160:
                    frame, pending = pending[:160], pending[160:]
                    await ws.send(prefix + base64.b64encode(frame).decode("ascii") + '"}}')

        downstream = asyncio.ensure_future(down())
        try:
            async for message in ws:
                data = json.loads(message)
                kind = data.get("event")
                if kind == "media":
                    await engine.send(
                        '{"type":"input_audio_buffer.append","audio":"' + data["media"]["payload"] + '"}'
                    )
                elif kind == "stop":
                    break
        except ConnectionClosed:
            pass
        finally:
            downstream.cancel()
            with contextlib.suppress(BaseException):
                await downstream
            await engine.close()
            await ws.close()

    async with serve(relay, "127.0.0.1", args.port, ping_interval=None, compression=None) as server:
        _ready(server.sockets[0].getsockname()[1])
        await stop.wait()


_KEEP: set[asyncio.Future[None]] = set()


def _trace_growth(loop: asyncio.AbstractEventLoop) -> None:
    """SIGUSR1: snapshot the heap; SIGUSR2: print what grew since (for the churn's leak hunt)."""
    import gc
    import tracemalloc

    tracemalloc.start(8)
    snapshots: list[Any] = []

    def first() -> None:
        gc.collect()
        snapshots[:] = [tracemalloc.take_snapshot()]

    def second() -> None:
        gc.collect()
        if not snapshots:
            return
        stats = tracemalloc.take_snapshot().compare_to(snapshots[0], "traceback")
        for stat in stats[:12]:
            print(f"+{stat.size_diff / 1024:.1f} KiB in {stat.count_diff} blocks", file=sys.stderr)
            for line in stat.traceback.format()[-8:]:
                print("    " + line, file=sys.stderr)

    loop.add_signal_handler(signal.SIGUSR1, first)
    loop.add_signal_handler(signal.SIGUSR2, second)


def _diagnose(who: str = "server ") -> None:
    """Report GC pauses over 2 ms and event-loop lag over 10 ms (stderr), to explain late frames."""
    import gc
    import time

    started: dict[int, float] = {}
    totals = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            ms = (time.perf_counter() - started.get(0, time.perf_counter())) * 1000
            totals[info["generation"]][0] += 1
            totals[info["generation"]][1] += ms
            if ms > 5:
                print(f"{who}{time.monotonic():.2f} gc gen{info['generation']}: {ms:.1f} ms", file=sys.stderr)

    async def report() -> None:
        while True:
            await asyncio.sleep(5)
            text = ", ".join(f"gen{g}: {n} x, {ms:.0f} ms" for g, (n, ms) in totals.items())
            print(
                f"{who}{time.monotonic():.2f} gc in 5 s: {text}; {len(gc.get_objects())} objects",
                file=sys.stderr,
            )
            for value in totals.values():
                value[0], value[1] = 0, 0.0

    gc.callbacks.append(on_gc)

    async def lag() -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            late = (loop.time() - t - 0.01) * 1000
            if late > 10:
                print(f"{who}{time.monotonic():.2f} loop lag {late:.0f} ms", file=sys.stderr)

    _KEEP.update({asyncio.ensure_future(lag()), asyncio.ensure_future(report())})


async def serve_relay_asgi(args: argparse.Namespace, stop: asyncio.Event) -> None:
    """The same bare relay as an ASGI app on hypercorn (how Patter's media sockets are served)."""
    from websockets.asyncio.client import connect

    from patter_core.server.runner import bind_socket, run_hypercorn

    engine_url = args.engine_url.replace("http://", "ws://").rstrip("/") + "/realtime?model=gpt-realtime"
    session_update = json.dumps(RELAY_SESSION)
    greeting = json.dumps(RELAY_GREETING)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        stream_sid = None
        while stream_sid is None:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            data = json.loads(message["text"])
            if data.get("event") == "start":
                stream_sid = data["start"]["streamSid"]
        engine = await connect(
            engine_url,
            additional_headers={"Authorization": "Bearer sk-bench"},
            compression=None,
            ping_interval=None,
            max_size=2**24,
        )
        await engine.send(session_update)
        await engine.send(greeting)
        prefix = '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"'

        async def down() -> None:
            pending = b""
            async for raw in engine:
                event = json.loads(raw)
                if event.get("type") != "response.output_audio.delta":
                    continue
                pending += base64.b64decode(event["delta"])
                while len(pending) >= 160:
                    frame, pending = pending[:160], pending[160:]
                    await send(
                        {"type": "websocket.send", "text": prefix + base64.b64encode(frame).decode() + '"}}'}
                    )

        downstream = asyncio.ensure_future(down())
        try:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break
                data = json.loads(message["text"])
                kind = data.get("event")
                if kind == "media":
                    await engine.send(
                        '{"type":"input_audio_buffer.append","audio":"' + data["media"]["payload"] + '"}'
                    )
                elif kind == "stop":
                    break
        finally:
            downstream.cancel()
            with contextlib.suppress(BaseException):
                await downstream
            await engine.close()
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": 1000})

    sock = bind_socket("127.0.0.1", args.port)
    _ready(sock.getsockname()[1])
    await run_hypercorn(app, sock, shutdown=stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("patter", "relay", "relay-hypercorn"), default="patter")
    parser.add_argument("--engine-url", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", default="bench-secret-0123456789abcdef")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument(
        "--no-freeze",
        dest="freeze",
        action="store_false",
        help="skip gc.freeze() of the start-up objects (patter-core serve does it)",
    )
    parser.add_argument("--diagnose", action="store_true", help="log GC pauses and event-loop lag to stderr")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if args.diagnose:
            _diagnose()
        if os.environ.get("PATTER_LOAD_TRACEMALLOC"):
            _trace_growth(loop)
        if args.mode == "patter":
            await serve_patter(args, stop)
        elif args.mode == "relay":
            await serve_relay(args, stop)
        else:
            await serve_relay_asgi(args, stop)

    factory: Any = None
    if args.uvloop:
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(run())


if __name__ == "__main__":
    main()
