"""Number configuration and the credential check: the two optional :class:`Carrier` methods.

On Telnyx a number does not carry a webhook URL: it is assigned to a Call Control Application (its
``connection_id``) and the *application* has the ``webhook_event_url``. So ``patter-core serve
--configure-number`` checks that the number belongs to ``TELNYX_CONNECTION_ID`` -- it never moves a
number between applications, which could take it away from another deployment -- and then updates
that application's webhook, which affects every number on it (hence the warning in the log). It reads
first and writes only when the URL differs; the previous URL is logged so it can be restored.

``patter-core doctor`` proves the credentials with one read: the application when a connection id is
configured (proving the key *and* the id), else the balance. Errors follow the doctor's contract:
:class:`CarrierError` with the HTTP status when Telnyx answered, without one when it did not,
:class:`ConfigurationError` for a setting the user must fix.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from patter_core.addresses import public_host, redact_url, require_e164
from patter_core.errors import ConfigurationError
from patter_telnyx.paths import WEBHOOK_PATH
from patter_telnyx.rest import TelnyxAPI, TelnyxAPIError

__all__ = [
    "configure_application",
    "describe_credentials",
    "fetch_application",
]

log = logging.getLogger("patter.telnyx")

_PORTAL_APPS = "Telnyx portal > Voice > Programmable Voice > Call Control Applications"
_PORTAL_NUMBERS = "Telnyx portal > Numbers > My Numbers"


async def fetch_application(api: TelnyxAPI, connection_id: str) -> dict[str, Any]:
    """``GET /call_control_applications/{id}``; a 404 means TELNYX_CONNECTION_ID is wrong, not the key."""
    try:
        data = await api.get(
            f"/call_control_applications/{quote(connection_id, safe='')}", what="call control application"
        )
    except TelnyxAPIError as exc:
        if exc.status == 404:
            raise ConfigurationError(
                f"TELNYX_CONNECTION_ID={connection_id} is not a Call Control Application of this account "
                f"(Telnyx answered 404): copy the application's ID from {_PORTAL_APPS}, and check that "
                "TELNYX_API_KEY belongs to the same account"
            ) from None
        raise
    if not isinstance(data, dict):
        raise TelnyxAPIError(
            "Telnyx answered the call control application request without an object", status=200, code=None
        )
    return data


def _check_application(app: dict[str, Any], connection_id: str) -> str:
    """The application's name; refuses one that cannot deliver Patter's calls."""
    name = str(app.get("application_name") or "")
    if app.get("active") is False:
        raise ConfigurationError(
            f"Call Control Application {connection_id} ('{name}') is not active: Telnyx delivers no calls "
            f"to it. Activate it in {_PORTAL_APPS}"
        )
    version = str(app.get("webhook_api_version") or "2")
    if version != "2":
        raise ConfigurationError(
            f"Call Control Application {connection_id} ('{name}') sends API v{version} webhooks; Patter "
            f"reads v2. Set its API version to v2 in {_PORTAL_APPS}"
        )
    return name


async def describe_credentials(api: TelnyxAPI, connection_id: str | None) -> str:
    """One read: the application (key and id proven) or, without an id, the balance (the key)."""
    if connection_id:
        app = await fetch_application(api, connection_id)
        name = _check_application(app, connection_id)
        return (
            f"Call Control Application {connection_id} '{name}', "
            f"webhook {redact_url(app.get('webhook_event_url'))}"
        )
    balance = await api.get("/balance", what="balance")
    if not isinstance(balance, dict):
        raise TelnyxAPIError("Telnyx answered the balance request without an object", status=200, code=None)
    amount = f"{balance.get('balance', '?')} {balance.get('currency') or ''}".strip()
    return (
        f"API key accepted (balance {amount}); TELNYX_CONNECTION_ID is not set, so no Call Control "
        "Application was checked"
    )


async def _number_connection(api: TelnyxAPI, number: str) -> str:
    """The ``connection_id`` of our number. Telnyx's ``filter[phone_number]`` takes digits only ("non-
    numerical characters will result in no values being returned") and matches partially, so the exact
    E.164 value is picked from the results."""
    digits = number[1:]
    data = await api.get("/phone_numbers", {"filter[phone_number]": digits}, what="phone number lookup")
    listed = data if isinstance(data, list) else []
    matches = [n for n in listed if isinstance(n, dict) and n.get("phone_number") == number]
    if not matches:
        raise ConfigurationError(
            f"{number} is not a phone number of this Telnyx account: check --phone-number / "
            f"PATTER_PHONE_NUMBER, or TELNYX_API_KEY if it belongs to another account ({_PORTAL_NUMBERS})"
        )
    return str(matches[0].get("connection_id") or "")


async def configure_application(
    api: TelnyxAPI, connection_id: str, phone_number: str, webhook_host: str
) -> bool:
    """Point application ``connection_id``'s webhook at ``webhook_host`` if ``phone_number`` is on it.

    ``True`` when the webhook changed; ``False`` when it already pointed here (nothing written).
    """
    number = require_e164(phone_number, where="--phone-number or PATTER_PHONE_NUMBER")
    url = f"https://{public_host(webhook_host)}{WEBHOOK_PATH}"
    assigned = await _number_connection(api, number)
    if not assigned:
        raise ConfigurationError(
            f"{number} is not assigned to any Call Control Application, so its calls reach no webhook. "
            f"Assign it to application {connection_id} ({_PORTAL_NUMBERS} > {number} > Connection), "
            "then run again"
        )
    if assigned != connection_id:
        raise ConfigurationError(
            f"{number} belongs to connection {assigned}, not to TELNYX_CONNECTION_ID={connection_id}. "
            "Patter does not move numbers between applications: assign it to "
            f"{connection_id} in {_PORTAL_NUMBERS}, or set TELNYX_CONNECTION_ID={assigned} if that is the "
            "application Patter should use"
        )
    app = await fetch_application(api, connection_id)
    name = _check_application(app, connection_id)
    previous = app.get("webhook_event_url")
    if previous == url:
        log.info("Telnyx application %s already sends %s's calls to %s", connection_id, number, url)
        return False
    body = {"application_name": name, "webhook_event_url": url}
    path = f"/call_control_applications/{quote(connection_id, safe='')}"
    await api.patch(path, body, what="call control application update")
    log.warning(
        "Telnyx Call Control Application %s ('%s'): webhook changed from %s to %s. This applies to "
        "every number on the application, not only %s",
        connection_id,
        name,
        redact_url(previous),
        url,
        number,
    )
    return True
