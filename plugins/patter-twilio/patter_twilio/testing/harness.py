"""A whole Twilio deployment on loopback, for end-to-end tests of agents and of the core.

``twilio_env()`` starts the fake Twilio REST API, a real Patter server (hypercorn on a free port) with
the :class:`~patter_twilio.Twilio` carrier pointed at that fake, and an agent (by default the core's
:class:`~patter_core.testing.FakeEngine`)::

    async with twilio_env(agent={"first_message": "Hello!"}) as env:
        async with env.caller() as caller:                 # an inbound call, Twilio-style
            await caller.wait_for(lambda: caller.heard_ms >= 500)
        outbound = await env.phone.call("+15557654321")    # an outbound call through the fake API
        print((await outbound.outcome()).outcome)

``env.records`` / ``env.statuses`` collect call records and status updates; ``env.api`` is the
:class:`~patter_twilio.testing.FakeTwilioAPI` (requests, calls, callbacks, fault injection).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from patter_core.hookspecs import hookimpl
from patter_core.interfaces.carrier import CallStatusEvent
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.session.call import SessionOptions
from patter_core.session.record import CallRecord
from patter_core.testing import FakeEngine
from patter_twilio.carrier import Twilio
from patter_twilio.testing.fake_api import FakeTwilioAPI
from patter_twilio.testing.simulator import TwilioCallerSimulator

__all__ = ["OUR_NUMBER", "WEBHOOK_HOST", "TwilioEnv", "twilio_env"]

WEBHOOK_HOST = "agent.test"
OUR_NUMBER = "+15550002222"


class TwilioEnv:
    def __init__(self, phone: Patter, twilio: Twilio, api: FakeTwilioAPI, engine: FakeEngine | None) -> None:
        self.phone, self.twilio, self.api, self._engine = phone, twilio, api, engine
        self.records: list[CallRecord] = []
        self.statuses: list[CallStatusEvent] = []

    @property
    def engine(self) -> FakeEngine:
        if self._engine is None:
            raise RuntimeError("this environment's agent has no FakeEngine")
        return self._engine

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.phone.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.phone.port}"

    def caller(self, **kwargs: Any) -> TwilioCallerSimulator:
        """An inbound call to our number (a simulator bound to a call the fake API can control)."""
        kwargs.setdefault("to", self.phone.phone_number or OUR_NUMBER)
        return self.api.inbound_call(**kwargs)

    def session(self, call_id: str) -> Any:
        """The live :class:`~patter_core.session.call.CallSession` of ``call_id``."""
        host = self.phone._host
        return None if host is None else host.active.get(call_id)

    def statuses_of(self, call_id: str) -> list[CallStatusEvent]:
        return [s for s in self.statuses if s.call_id == call_id]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async def poll() -> None:
            while not predicate():  # noqa: ASYNC110 - any predicate over server state: polled
                await asyncio.sleep(0.01)

        await asyncio.wait_for(poll(), timeout)

    async def record(self, call_id: str, timeout: float = 10.0) -> CallRecord:
        await self.wait(lambda: any(r.call.call_id == call_id for r in self.records), timeout)
        return next(r for r in self.records if r.call.call_id == call_id)


@contextlib.asynccontextmanager
async def twilio_env(
    *,
    twilio: dict[str, Any] | None = None,
    agent: dict[str, Any] | None = None,
    engine: FakeEngine | bool | None = True,
    api: dict[str, Any] | None = None,
    verify_webhooks: bool = True,
    session_options: SessionOptions | None = None,
    webhook_host: str = WEBHOOK_HOST,
    phone_number: str = OUR_NUMBER,
) -> AsyncIterator[TwilioEnv]:
    """Serve an agent behind the Twilio carrier and a fake Twilio; see the module docstring.

    ``twilio`` = extra :class:`Twilio` options, ``agent`` = ``phone.agent(...)`` options (they win over
    the defaults), ``engine`` = a :class:`FakeEngine`, ``True`` for a new one, ``None`` for a pipeline
    agent (pass ``stt``/``llm``/``tts`` in ``agent``), ``api`` = :class:`FakeTwilioAPI` options.
    """
    fake = FakeTwilioAPI(webhook_url=webhook_host, **(api or {}))
    await fake.start()
    carrier = Twilio(
        account_sid=fake.account_sid, auth_token=fake.auth_token, base_url=fake.base_url, **(twilio or {})
    )

    class _Plugin:
        @hookimpl
        def register_carriers(self, register: Any) -> None:
            register(lambda **_: carrier, name="twilio")

    registry = Registry(
        make_plugin_manager(load_entrypoints=False, extra_plugins=[("twilio-env", _Plugin())])
    )
    phone = Patter(carrier="twilio", phone_number=phone_number, webhook_url=webhook_host, registry=registry)
    fake_engine = FakeEngine() if engine is True else (engine or None)
    options: dict[str, Any] = {
        "system_prompt": "You are a test agent.",
        "first_message": "Hello from Twilio.",
    }
    if fake_engine is not None:
        options["engine"] = fake_engine
    options.update(agent or {})
    env = TwilioEnv(phone, carrier, fake, fake_engine)
    task = asyncio.create_task(
        phone.serve(
            phone.agent(**options),
            host="127.0.0.1",
            port=0,
            on_call_end=env.records.append,
            on_call_status=env.statuses.append,
            verify_webhooks=verify_webhooks,
            session_options=session_options,
        )
    )
    try:
        await phone.wait_ready()
        fake.attach(env.base)
        yield env
    finally:
        await fake.stop()
        await phone.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 20)
