"""Number configuration and the credential check: the two optional :class:`Carrier` methods.

``patter-core serve --configure-number`` points the number's voice webhook at this server. It is opt-in
and careful because the number is shared state: another deployment (staging, a teammate's tunnel, a
TwiML App) may own it. So it reads first and writes only when the URL differs, refuses to touch numbers
whose VoiceUrl Twilio would ignore anyway (a TwiML App or an Elastic SIP Trunk routes them), and logs
the value it replaced so it can be restored by hand.

``patter-core doctor`` proves the credentials with one read-only request (the Account resource),
raising errors whose shape the doctor understands: :class:`CarrierError` with the HTTP status when
Twilio answered, without one when it did not, :class:`ConfigurationError` when the user must fix
something in the console.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from patter_core.addresses import public_host, redact_url, require_e164
from patter_core.errors import ConfigurationError
from patter_twilio.rest import TwilioREST
from patter_twilio.webhooks import STATUS_PATH, VOICE_PATH

__all__ = ["configure_voice_url", "describe_account", "voice_urls"]

log = logging.getLogger("patter.twilio")

_CONSOLE_NUMBER = "Twilio Console > Phone Numbers > Manage > Active numbers > {number} > Voice configuration"


def voice_urls(host: str, current: str | None = None) -> tuple[str, str]:
    """``(VoiceUrl, StatusCallback)`` for ``host``.

    A query string on the current voice URL is kept when it already names our voice route: the docs
    invite users to add ``?agent=sales`` in the console, and those parameters reach the call as
    ``CallInfo.parameters`` -- moving the host must not drop them.
    """
    voice = f"https://{host}{VOICE_PATH}"
    if current:
        parts = urlsplit(current)
        if parts.path == VOICE_PATH and parts.query:
            voice += "?" + parts.query
    return voice, f"https://{host}{STATUS_PATH}"


def _short_sid(sid: str) -> str:
    return f"{sid[:6]}...{sid[-4:]}" if len(sid) > 12 else sid


async def describe_account(rest: TwilioREST) -> str:
    """``GET /Accounts/{sid}.json``; "account AC1234...cdef, 'My project' (active, Full)".

    The resource also carries the Auth Token: only the fields named here are ever read out of it.
    """
    account = await rest.fetch_account()
    sid = str(account.get("sid") or rest.account_sid)
    name = str(account.get("friendly_name") or "")
    status = str(account.get("status") or "unknown")
    kind = str(account.get("type") or "unknown")
    if status != "active":
        raise ConfigurationError(
            f"Twilio account {_short_sid(sid)} ('{name}') is {status}: it cannot take or place calls. "
            "Reactivate it in the Twilio Console (Admin > Account management), or use the credentials "
            "of an active account (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)"
        )
    description = f"account {_short_sid(sid)}, '{name}' ({status}, {kind})"
    if kind == "Trial":
        description += "; trial accounts can only call verified numbers"
    return description


async def _find_number(rest: TwilioREST, number: str) -> dict[str, Any]:
    matches = [n for n in await rest.list_incoming_numbers(number) if n.get("phone_number") == number]
    if not matches:
        raise ConfigurationError(
            f"{number} is not a phone number of Twilio account {_short_sid(rest.account_sid)}: check "
            "--phone-number / PATTER_PHONE_NUMBER, or TWILIO_ACCOUNT_SID if the number belongs to "
            "another account or subaccount (Twilio Console > Phone Numbers > Manage > Active numbers)"
        )
    return matches[0]


def _refuse_routed_elsewhere(resource: dict[str, Any], number: str) -> None:
    """Twilio ignores VoiceUrl when a TwiML App or a SIP trunk handles the number: say what to change."""
    where = _CONSOLE_NUMBER.format(number=number)
    app, trunk = resource.get("voice_application_sid"), resource.get("trunk_sid")
    if trunk:
        raise ConfigurationError(
            f"{number} is routed to Elastic SIP Trunk {trunk}, so Twilio ignores its voice URL. Patter "
            "does not take it off the trunk: remove it there (Twilio Console > Elastic SIP Trunking > "
            f"Trunks > {trunk} > Numbers), or in {where} set 'Configure with' to Webhook; then run again"
        )
    if app:
        raise ConfigurationError(
            f"{number} is configured with TwiML App {app}, so Twilio ignores its voice URL. Patter does "
            f"not unlink it: in {where} set 'Configure with' to 'Webhook, TwiML Bin, Function, Studio "
            "Flow, Proxy Service'; or set that TwiML App's Voice Request URL to "
            "https://<your host>/webhooks/twilio/voice yourself"
        )


async def configure_voice_url(rest: TwilioREST, phone_number: str, webhook_host: str) -> bool:
    """Point the number's VoiceUrl (and status callback) at ``webhook_host``; ``True`` if it changed.

    Read first, write only when different: Patter must never overwrite a number on every start. A
    number on a TwiML App or SIP trunk is refused even when its VoiceUrl already matches: Twilio would not
    use that URL, so "already points here" would be false.
    """
    number = require_e164(phone_number, where="--phone-number or PATTER_PHONE_NUMBER")
    host = public_host(webhook_host)
    resource = await _find_number(rest, number)
    _refuse_routed_elsewhere(resource, number)
    current = resource.get("voice_url") or None
    method = str(resource.get("voice_method") or "").upper()
    voice_url, status_url = voice_urls(host, current)
    if current == voice_url and method == "POST":
        log.info("Twilio number %s already points at %s", number, voice_url)
        return False
    sid = resource.get("sid")
    if not isinstance(sid, str) or not sid:
        raise ConfigurationError(f"Twilio listed {number} without a sid; configure it in the console")
    form = [
        ("VoiceUrl", voice_url),
        ("VoiceMethod", "POST"),
        ("StatusCallback", status_url),
        ("StatusCallbackMethod", "POST"),
    ]
    await rest.update_incoming_number(sid, form)
    log.warning(
        "Twilio number %s (%s): voice URL changed from %s (%s) to %s (POST); status callback was %s",
        number,
        sid,
        redact_url(current),
        method or "no method",
        voice_url,
        redact_url(resource.get("status_callback") or None),
    )
    return True
