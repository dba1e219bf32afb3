"""The webhook route on the real server: 403 for anything unsigned, forged or stale; 400 for junk."""

from __future__ import annotations

import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from patter_telnyx import Telnyx
from patter_telnyx.testing import TelnyxSimulator, envelope, sign_webhook

from patter_core.errors import ConfigurationError
from patter_core.phone import Patter
from patter_core.plugins import make_plugin_manager
from patter_core.registry import Registry
from patter_core.testing import FakeEngine

from .conftest import ServeFactory, until


async def test_forged_wrong_key_stale_and_unsigned_webhooks_get_403(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve()
    call = await sim.incoming_call(deliver=False)
    payload = call.payload()
    now = int(time.time())
    send = sim.webhooks.send
    forged = envelope("call.initiated", {**payload, "to": "+19005550000"})
    assert await send("call.initiated", payload, body=forged) == [403]
    assert await send("call.initiated", payload, key=Ed25519PrivateKey.generate()) == [403]
    assert await send("call.initiated", payload, timestamp=str(now - 301)) == [403]
    assert await send("call.initiated", payload, timestamp=str(now + 301)) == [403]
    assert await send("call.initiated", payload, signature="") == [403]
    assert await send("call.initiated", payload, timestamp=str(now * 1000)) == [403]
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(sim.webhooks.url or "", content=envelope("call.initiated", payload))
    assert unsigned.status_code == 403
    await served.carrier.wait_idle()
    assert sim.api.requests == []  # nothing refused reached Call Control
    assert served.carrier.webhooks.refused == 7


async def test_malformed_bodies_get_400_and_unknown_events_200(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    await serve()
    stamp = str(int(time.time()))
    async with httpx.AsyncClient() as client:
        for body, expected in (
            (b"{not json", 400),
            (b"[]", 400),
            (b'{"data": {"event_type": "call.initiated"}}', 400),
            (b'{"data": {"payload": {}}}', 400),
            (b'{"data": {"event_type": "call.cost", "payload": {"call_control_id": "v3:x"}}}', 200),
            (b'{"data": {"event_type": "call.answered", "payload": {}}}', 200),
        ):
            response = await client.post(
                sim.webhooks.url or "",
                content=body,
                headers={"telnyx-signature-ed25519": sign_webhook(body, stamp), "telnyx-timestamp": stamp},
            )
            assert response.status_code == expected, body
    call = await sim.incoming_call(deliver=False)
    assert await call.send("call.playback.ended") == [200]
    assert sim.api.requests == []


async def test_serve_refuses_without_a_public_key_unless_verification_is_off(sim: TelnyxSimulator) -> None:
    carrier = Telnyx(api_key=sim.api_key, base_url=sim.base_url)
    phone = Patter(
        carrier=carrier,
        phone_number="+15559870000",
        webhook_url=sim.public_host,
        registry=Registry(make_plugin_manager(load_entrypoints=False)),
    )
    agent = phone.agent(system_prompt="hi", engine=FakeEngine())
    with pytest.raises(ConfigurationError, match="TELNYX_PUBLIC_KEY is not set"):
        await phone.serve(agent, host="127.0.0.1", port=0)


async def test_without_verification_unsigned_webhooks_are_handled(
    serve: ServeFactory, sim: TelnyxSimulator
) -> None:
    served = await serve(public_key=None, verify_webhooks=False)
    call = await sim.incoming_call(deliver=False)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            sim.webhooks.url or "", content=envelope("call.initiated", call.payload())
        )
    assert response.status_code == 200
    await until(lambda: sim.api.commands("answer"), what="the answer command")
    await served.carrier.wait_idle()
