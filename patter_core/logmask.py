"""Secrets and phone numbers never reach a log: every record of Patter's loggers is masked.

A phone agent's logs end up in log aggregators, support tickets and screenshots; they must not carry
callers' phone numbers (personal data) or credentials. :func:`install` (done by ``import
patter_core``) masks every log record of the ``patter`` logger hierarchy -- the core and every plugin
log under ``patter.*`` -- and of the HTTP/WebSocket libraries Patter drives (``httpx``, ``httpcore``,
``websockets``, ``hypercorn``, ``quart``), whose debug logs show URLs and headers. Masking happens
when the record is created, so every handler (files, pytest's ``caplog``, a log shipper) sees the
masked text, tracebacks included.

What is masked (:func:`mask`):

* E.164 phone numbers, also URL-encoded (``%2B1555...``) or spaced: ``+15551234567`` -> ``+1555***4567``,
  and national numbers written ``555-123-4567`` / ``(555) 123 4567`` (as a transcript may spell them);
* ``Bearer`` / ``Basic`` / ``Token`` credentials and ``key=value`` / ``"key": "value"`` pairs whose key
  names a secret (``api_key``, ``token``, ``secret``, ``password``, ``signature``, ``authorization``,
  ``xi-api-key`` ...);
* strings shaped like vendor keys (``sk-...``, ``sk_...``, Telnyx ``KEY...``, JWTs, 32+ lower-case hex
  characters: Twilio auth tokens, Deepgram keys) -- carrier call ids such as Twilio's ``CA...`` are kept;
* Patter's per-call media tokens (``v1.<payload>.<signature>``).

Opt out (e.g. to debug a carrier integration on a development machine) with the environment variable
``PATTER_LOG_UNMASKED=1`` before ``import patter_core``, or :func:`uninstall` at run time.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["DEFAULT_LOGGERS", "MaskingFilter", "install", "installed", "mask", "uninstall"]

DEFAULT_LOGGERS = ("patter", "httpx", "httpcore", "websockets", "hypercorn", "quart")
"""Logger hierarchies whose records are masked."""

_SECRET_KEY = (
    r"api[_-]?key|apikey|x-api-key|xi-api-key|access[_-]?token|auth[_-]?token|refresh[_-]?token|token|"
    r"secret|client[_-]?secret|password|passwd|signature|conversation_signature|authorization|"
    r"x-twilio-signature|x-fake-signature|x-patter-signature|telnyx-signature-ed25519"
)
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = []


def _phone(match: re.Match[str]) -> str:
    prefix, number = match.group(1), match.group(2)
    digits = re.sub(r"\D", "", number)
    if not 7 <= len(digits) <= 15:
        return match.group(0)
    keep = 4 if len(digits) >= 10 else 2
    head = keep if prefix else 3  # a national number has no country code: keep the area code only
    return f"{prefix}{digits[:head]}***{digits[-keep:]}"


def _rules() -> list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]]:
    if not _RULES:
        _RULES.extend(
            [
                # per-call media tokens and JWTs first: their pieces would match nothing else cleanly
                (re.compile(r"\bv1\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "v1.***"),
                (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "eyJ***"),
                # key=value, "key": "value", key: value (an optional Bearer/Basic kept as a word)
                (
                    re.compile(
                        rf"(?i)((?:{_SECRET_KEY})[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)"
                        r"[^\s\"'&,;}]+"
                    ),
                    r"\1***",
                ),
                (re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1***"),
                (re.compile(r"(?i)\b(token\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,}"), r"\1***"),
                # vendor key shapes
                (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "sk-***"),
                (re.compile(r"\bsk_[A-Za-z0-9]{12,}"), "sk_***"),
                (re.compile(r"\bKEY[0-9A-Za-z_-]{20,}"), "KEY***"),
                (re.compile(r"(?<![A-Za-z0-9])[0-9a-f]{32,}(?![A-Za-z0-9])"), "***"),
                # phone numbers: +E.164 (separators allowed), URL-encoded %2B
                (re.compile(r"(?<![\w+])(\+)(\d[\d \-().]{5,22}\d)(?!\d)"), _phone),
                (re.compile(r"(?i)(%2B)(\d{7,15})(?!\d)"), _phone),
                # national numbers written the North American way: 555-123-4567, (555) 123 4567
                (re.compile(r"(?<![\w.+-])()(\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w.-])"), _phone),
            ]
        )
    return _RULES


def mask(text: str) -> str:
    """``text`` with phone numbers, credentials and tokens masked (see the module docstring)."""
    if not text:
        return text
    for pattern, replacement in _rules():
        text = pattern.sub(replacement, text)
    return text


def mask_record(record: logging.LogRecord) -> None:
    """Mask one record in place: its message (arguments merged in), traceback and stack."""
    if getattr(record, "_patter_masked", False):
        return
    record._patter_masked = True
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it itself when the record is emitted
        return
    record.msg, record.args = mask(message), None
    if record.exc_info and not record.exc_text:
        import traceback

        record.exc_text = mask("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = mask(record.stack_info)


class MaskingFilter(logging.Filter):
    """A filter doing :func:`mask_record`, for handlers outside the masked hierarchies."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_state: dict[str, Any] = {"previous": None, "names": ()}


def _covered(name: str, names: Iterable[str]) -> bool:
    return any(name == n or name.startswith(n + ".") for n in names)


def install(names: Iterable[str] = DEFAULT_LOGGERS, *, force: bool = False) -> bool:
    """Mask every record of the ``names`` logger hierarchies from now on (idempotent).

    Does nothing when ``PATTER_LOG_UNMASKED=1`` is set, unless ``force``. Returns whether masking is on.
    """
    wanted = tuple(names)
    if not force and os.environ.get("PATTER_LOG_UNMASKED", "").strip().lower() in ("1", "true", "yes"):
        return installed()
    _state["names"] = wanted
    if _state["previous"] is not None:
        return True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _covered(record.name, _state["names"]):
            mask_record(record)
        return record

    factory._patter_logmask = True  # type: ignore[attr-defined]
    _state["previous"] = previous
    logging.setLogRecordFactory(factory)
    return True


def uninstall() -> None:
    """Stop masking (restores the record factory that was in place before :func:`install`)."""
    previous = _state["previous"]
    if previous is None:
        return
    current = logging.getLogRecordFactory()
    if getattr(current, "_patter_logmask", False):
        logging.setLogRecordFactory(previous)
        _state["previous"] = None
    else:  # another factory was installed on top of ours: keep the chain, just stop masking
        _state["names"] = ()
        _state["previous"] = None


def installed() -> bool:
    return _state["previous"] is not None and bool(_state["names"])
