"""``X-Twilio-Signature``: every PROTOCOLS.md §1.5 vector, the variants, and failing closed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patter_twilio.signature import (
    HMAC_SHA256,
    SignatureValidator,
    body_sha256,
    compute_signature,
    parse_signature_settings,
    signed_string,
    url_variants,
)

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
FORM_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
JSON_BODY = b'{"property": "value", "boolean": true}'
JSON_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


def test_form_post_vector() -> None:
    assert compute_signature(URL, PARAMS, TOKEN) == FORM_SIGNATURE
    assert SignatureValidator(TOKEN).validate(URL, FORM_SIGNATURE, params=PARAMS)


def test_params_as_ordered_pairs_sign_the_same() -> None:
    pairs = list(reversed(list(PARAMS.items())))
    assert compute_signature(URL, pairs, TOKEN) == FORM_SIGNATURE


def test_default_port_quirk_both_ways() -> None:
    validator = SignatureValidator(TOKEN)
    assert validator.validate(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2", FORM_SIGNATURE, params=PARAMS
    )
    signed_with_port = compute_signature("https://mycompany.com:443/myapp.php?foo=1&bar=2", PARAMS, TOKEN)
    assert validator.validate(URL, signed_with_port, params=PARAMS)


def test_non_default_port_is_kept() -> None:
    assert url_variants("https://h.test:8443/x") == ["https://h.test:8443/x"]
    signed_without_port = compute_signature("https://h.test/x", {}, TOKEN)
    assert not SignatureValidator(TOKEN).validate("https://h.test:8443/x", signed_without_port)


def test_scheme_is_signed() -> None:
    assert not SignatureValidator(TOKEN).validate(
        "http://mycompany.com/myapp.php?foo=1&bar=2", FORM_SIGNATURE, params=PARAMS
    )


def test_hmac_sha256_shared_key_vector() -> None:
    expected = "033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s="
    assert compute_signature(URL, PARAMS, TOKEN, algorithm=HMAC_SHA256) == expected
    validator = SignatureValidator("the-auth-token", {"webhooks_sharedkey_1": TOKEN})
    settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    assert validator.validate(URL, expected, params=PARAMS, settings=settings)
    # the same signature without the settings header is checked against the Auth Token: refused
    assert not validator.validate(URL, expected, params=PARAMS)
    # an unknown key id fails closed, whatever the signature
    assert not validator.validate(URL, expected, params=PARAMS, settings="key=other,algorithm=HMAC_SHA256")
    assert not validator.validate(
        URL, expected, params=PARAMS, settings="key=webhooks_sharedkey_1,algorithm=MD5"
    )


def test_settings_header_parsing() -> None:
    assert parse_signature_settings("key=abc,algorithm=HMAC_SHA256") == ("abc", "HMAC_SHA256")
    assert parse_signature_settings(" key = abc ") == ("abc", "HMAC_SHA1")
    assert parse_signature_settings("") == (None, "HMAC_SHA1")


def test_json_body_variant_vector() -> None:
    assert body_sha256(JSON_BODY) == JSON_HASH
    url = f"{URL}&bodySHA256={JSON_HASH}"
    signature = "a9nBmqA0ju/hNViExpshrM61xv4="
    assert compute_signature(url, None, TOKEN) == signature
    validator = SignatureValidator(TOKEN)
    assert validator.validate(url, signature, body=JSON_BODY)
    assert not validator.validate(url, signature, body=JSON_BODY + b" ")  # body hash mismatch
    assert not validator.validate(url, signature, body=None)


def test_websocket_handshake_vector() -> None:
    assert compute_signature("wss://example.com/ws/stream", None, TOKEN) == "/qXvg5fcx+F94dJmBV5xoX8gpUs="
    assert SignatureValidator(TOKEN).validate(
        "wss://example.com:443/ws/stream", "/qXvg5fcx+F94dJmBV5xoX8gpUs="
    )


def test_repeated_key_vector() -> None:
    params = [("A", "2"), ("A", "1"), ("B", "x")]
    assert signed_string("https://x.test/h", params) == "https://x.test/hA1A2Bx"
    assert compute_signature("https://x.test/h", params, TOKEN) == "W01KFc2rqOI3yTgW4FxVKNmBEiU="
    assert (
        compute_signature("https://x.test/h", {"A": ["2", "1"], "B": "x"}, TOKEN)
        == "W01KFc2rqOI3yTgW4FxVKNmBEiU="
    )


def test_empty_values_are_signed_as_the_name() -> None:
    assert signed_string("u", [("B", ""), ("A", "1")]) == "uA1B"
    with_blank = compute_signature("u", [("A", "1"), ("B", "")], TOKEN)
    assert not SignatureValidator(TOKEN).validate("u", with_blank, params=[("A", "1")])


def test_fails_closed() -> None:
    assert not SignatureValidator(None).validate(URL, FORM_SIGNATURE, params=PARAMS)
    assert not SignatureValidator("").validate(URL, FORM_SIGNATURE, params=PARAMS)
    validator = SignatureValidator(TOKEN)
    assert not validator.validate(URL, None, params=PARAMS)
    assert not validator.validate(URL, "", params=PARAMS)
    assert not validator.validate(URL, "ü" * 28, params=PARAMS)
    assert not validator.validate(URL, FORM_SIGNATURE, params={**PARAMS, "Digits": "1235"})
    assert not validator.validate(URL + "&baz=3", FORM_SIGNATURE, params=PARAMS)


def test_validator_repr_hides_secrets() -> None:
    text = repr(SignatureValidator("super-secret-token", {"k": "shared-secret"}))
    assert "super-secret-token" not in text and "shared-secret" not in text


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=6))
def test_any_tampering_with_params_is_detected(pairs: list[tuple[str, str]]) -> None:
    signature = compute_signature("https://h.test/p", pairs, TOKEN)
    validator = SignatureValidator(TOKEN)
    assert validator.validate("https://h.test/p", signature, params=pairs)
    assert not validator.validate("https://h.test/p", signature, params=[*pairs, ("Zz", "extra")])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h.test/p", ["https://h.test/p", "https://h.test:443/p"]),
        ("https://h.test:443/p?q=1", ["https://h.test/p?q=1", "https://h.test:443/p?q=1"]),
        ("http://h.test/p", ["http://h.test/p", "http://h.test:80/p"]),
        ("wss://h.test/ws", ["wss://h.test/ws", "wss://h.test:443/ws"]),
    ],
)
def test_url_variants(url: str, expected: list[str]) -> None:
    assert url_variants(url) == expected
