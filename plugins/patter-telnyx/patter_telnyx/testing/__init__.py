"""Test helpers: a Telnyx simulator that other tests, benchmarks and users can reuse.

* :class:`TelnyxSimulator` -- fake Call Control API + signed webhooks + media streams (start here);
* :class:`FakeCallControl` -- the REST API alone (with the account's numbers and Call Control
  Applications: :class:`FakePhoneNumber`, :class:`FakeApplication`); :class:`WebhookSender` -- signed
  webhook deliveries;
* :class:`TelnyxCallerDialect` -- Telnyx's media frames for :class:`patter_core.testing.SimulatedCaller`;
* :data:`TEST_PUBLIC_KEY` / :data:`TEST_PRIVATE_KEY` -- the PROTOCOLS.md §2.3 test key (NOT a real key).
"""

from patter_telnyx.testing.caller import TelnyxCallerDialect
from patter_telnyx.testing.fake_account import FakeAccount, FakeApplication, FakePhoneNumber
from patter_telnyx.testing.fake_api import FakeCallControl, RecordedRequest
from patter_telnyx.testing.simulator import Callee, SimCall, TelnyxSimulator
from patter_telnyx.testing.webhooks import (
    TEST_PRIVATE_KEY,
    TEST_PUBLIC_KEY,
    Delivery,
    WebhookSender,
    envelope,
    sign_webhook,
)

__all__ = [
    "TEST_PRIVATE_KEY",
    "TEST_PUBLIC_KEY",
    "Callee",
    "Delivery",
    "FakeAccount",
    "FakeApplication",
    "FakeCallControl",
    "FakePhoneNumber",
    "RecordedRequest",
    "SimCall",
    "TelnyxCallerDialect",
    "TelnyxSimulator",
    "WebhookSender",
    "envelope",
    "sign_webhook",
]
