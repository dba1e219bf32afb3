"""Ed25519 webhook verification (PROTOCOLS.md §2.3), including its test vector."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from patter_telnyx.signature import SignatureError, WebhookVerifier, load_public_key
from patter_telnyx.testing import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, sign_webhook

from patter_core.errors import ConfigurationError

VECTOR_KEY = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
VECTOR_TIMESTAMP = "1700000000"
VECTOR_BODY = (
    b'{"data":{"event_type":"call.initiated","id":"e1","occurred_at":"2023-11-14T22:13:20Z","payload":'
    b'{"call_control_id":"v3:abc","direction":"incoming","from":"+15551230000","to":"+15559870000",'
    b'"state":"parked"},"record_type":"event"},"meta":{"attempt":1,"delivered_to":'
    b'"https://example.com/webhooks/telnyx"}}'
)
VECTOR_SIGNATURE = "BgNDJjoSrOYn98G5u/bUTcwrWlDzliHj8PdoeRC9qBu8yVBABgv/RxdBEjV0l34+d4/jHkmSD133y5XuGBXGBQ=="


def verifier(key: str = VECTOR_KEY, now: float = 1700000000) -> WebhookVerifier:
    return WebhookVerifier(key, clock=lambda: now)


def test_protocols_vector_verifies() -> None:
    verifier().verify(signature=VECTOR_SIGNATURE, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)


def test_the_simulator_key_is_the_vector_key_and_signs_the_vector() -> None:
    assert TEST_PUBLIC_KEY == VECTOR_KEY
    assert sign_webhook(VECTOR_BODY, VECTOR_TIMESTAMP, TEST_PRIVATE_KEY) == VECTOR_SIGNATURE


def test_one_appended_space_breaks_it() -> None:
    with pytest.raises(SignatureError):
        verifier().verify(signature=VECTOR_SIGNATURE, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY + b" ")


def test_the_timestamp_is_part_of_the_signed_message() -> None:
    with pytest.raises(SignatureError):
        verifier(now=1700000001).verify(signature=VECTOR_SIGNATURE, timestamp="1700000001", body=VECTOR_BODY)


def test_wrong_key_is_rejected() -> None:
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(SignatureError):
        verifier(base64.b64encode(other).decode()).verify(
            signature=VECTOR_SIGNATURE, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
        )


@pytest.mark.parametrize("skew", [-301, 301, -3600, 86400])
def test_timestamps_outside_300_s_are_replays(skew: int) -> None:
    with pytest.raises(SignatureError, match="window"):
        verifier(now=1700000000 + skew).verify(
            signature=VECTOR_SIGNATURE, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
        )


@pytest.mark.parametrize("skew", [-300, -5, 0, 5, 300])
def test_the_window_is_symmetric_300_s(skew: int) -> None:
    verifier(now=1700000000 + skew).verify(
        signature=VECTOR_SIGNATURE, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
    )


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [
        (None, VECTOR_TIMESTAMP),
        (VECTOR_SIGNATURE, None),
        ("", VECTOR_TIMESTAMP),
        (VECTOR_SIGNATURE, "1700000000000"),  # milliseconds are not promoted (official SDK)
        (VECTOR_SIGNATURE, "17e8"),
        (VECTOR_SIGNATURE, " 1700000000"),
        ("not base64!!", VECTOR_TIMESTAMP),
        (base64.b64encode(b"x" * 63).decode(), VECTOR_TIMESTAMP),
    ],
)
def test_missing_or_malformed_headers_are_rejected(signature: str | None, timestamp: str | None) -> None:
    with pytest.raises(SignatureError):
        verifier().verify(signature=signature, timestamp=timestamp, body=VECTOR_BODY)


def test_comma_separated_signatures_any_valid_wins() -> None:
    bogus = base64.b64encode(bytes(64)).decode()
    verifier().verify(signature=f"{bogus}, {VECTOR_SIGNATURE}", timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
    with pytest.raises(SignatureError):
        verifier().verify(signature=f"{bogus},{bogus}", timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)


def test_spki_der_and_pem_keys_are_accepted() -> None:
    public = TEST_PRIVATE_KEY.public_key()
    der = base64.b64encode(public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    for key in (der, pem, f"  {VECTOR_KEY}\n"):
        verifier(key).verify(signature=VECTOR_SIGNATURE, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)


@pytest.mark.parametrize(
    "key", ["", "not-a-key", base64.b64encode(b"short").decode(), base64.b64encode(bytes(40)).decode()]
)
def test_invalid_keys_fail_early_naming_the_fix(key: str) -> None:
    with pytest.raises(ConfigurationError, match="TELNYX_PUBLIC_KEY"):
        load_public_key(key)
