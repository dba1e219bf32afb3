"""Test doubles for the Twilio carrier, for this plugin's tests, the lead's end-to-end tests and users.

* :class:`TwilioCallerSimulator` -- Twilio placing a call on your server: signed voice webhook, TwiML,
  the Media Streams socket driven by :class:`patter_core.testing.SimulatedCaller` (real-time playout,
  mark echoes after playback, ``clear``, DTMF, hang-up).
* :class:`TwilioCallerDialect` -- Twilio's frames from Twilio's side.
* :class:`FakeTwilioAPI` -- the REST API on a loopback port, which also "runs" the calls it creates
  (status callbacks, machine detection, media) as scripted by :class:`CallScript`, and serves the
  Account and the numbers (:class:`FakeNumber`) that ``configure_number`` / ``doctor`` use.
* :func:`twilio_env` -- a whole deployment on loopback (fake API + Patter server + agent).
* :class:`TwilioSimulator` -- the core's ``CarrierSimulator`` for ``simulate_call`` / ``patter-core demo``.

Typical use::

    async with FakeTwilioAPI(webhook_url="agent.test") as api:
        twilio = Twilio(account_sid=api.account_sid, auth_token=api.auth_token, base_url=api.base_url)
        ...  # start Patter(carrier=twilio, webhook_url="agent.test").serve(agent, port=0)
        api.attach(f"http://127.0.0.1:{phone.port}")
        async with api.inbound_call(from_="+15550001111") as caller:
            await caller.wait_for(lambda: caller.heard_ms > 500)
"""

from patter_twilio.testing.fake_api import FakeTwilioAPI
from patter_twilio.testing.harness import TwilioEnv, twilio_env
from patter_twilio.testing.network import TwilioSimulator
from patter_twilio.testing.numbers import FakeNumber
from patter_twilio.testing.records import CallScript, FakeCall, RecordedCallback, RecordedRequest
from patter_twilio.testing.simulator import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    PublicAddress,
    StreamInstruction,
    TwilioCallerDialect,
    TwilioCallerSimulator,
    TwiMLError,
    new_sid,
    parse_stream_twiml,
)

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "CallScript",
    "FakeCall",
    "FakeNumber",
    "FakeTwilioAPI",
    "PublicAddress",
    "RecordedCallback",
    "RecordedRequest",
    "StreamInstruction",
    "TwiMLError",
    "TwilioCallerDialect",
    "TwilioCallerSimulator",
    "TwilioEnv",
    "TwilioSimulator",
    "new_sid",
    "parse_stream_twiml",
    "twilio_env",
]
