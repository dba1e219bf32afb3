"""The few TwiML documents a phone agent needs, built with every value XML-escaped.

Attribute and text values come from callers' numbers, developer configuration and model output (a
transfer summary), so nothing is interpolated raw: :func:`xml_attr` / :func:`xml_text` escape ``&``,
``<``, ``>`` and quotes, and drop characters XML 1.0 cannot carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "XML_DECLARATION",
    "conference_twiml",
    "connect_stream",
    "dial_twiml",
    "hangup_twiml",
    "reject_busy_twiml",
    "say_hangup_twiml",
    "xml_attr",
    "xml_text",
]

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(value: str) -> str:
    return _INVALID_XML.sub("", value)


def xml_attr(value: str) -> str:
    """A quoted, escaped attribute value (``"..."``)."""
    return quoteattr(_clean(value), {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def xml_text(value: str) -> str:
    return escape(_clean(value))


def connect_stream(stream_url: str, parameters: Iterable[tuple[str, str]]) -> str:
    """``<Connect><Stream>``: a bidirectional media stream; ``parameters`` reach ``start.customParameters``.

    The stream URL must not carry a query string (Twilio drops it): data travels as ``<Parameter>``s.
    """
    if "?" in stream_url:
        raise ValueError(f"a Twilio stream URL cannot carry a query string: {stream_url!r}")
    params = "".join(
        f"<Parameter name={xml_attr(name)} value={xml_attr(value)} />" for name, value in parameters
    )
    return (
        f"{XML_DECLARATION}<Response><Connect><Stream url={xml_attr(stream_url)}>"
        f"{params}</Stream></Connect></Response>"
    )


def _say(message: str, voice: str | None, language: str | None) -> str:
    attrs = ""
    if voice:
        attrs += f" voice={xml_attr(voice)}"
    if language:
        attrs += f" language={xml_attr(language)}"
    return f"<Say{attrs}>{xml_text(message)}</Say>"


def dial_twiml(to: str) -> str:
    """Cold transfer: ``<Response><Dial>+15551112222</Dial></Response>`` (``<Sip>``/``<Client>`` nouns
    for ``sip:``/``client:`` destinations)."""
    if to.startswith(("sip:", "sips:")):
        target = f"<Sip>{xml_text(to)}</Sip>"
    elif to.startswith("client:"):
        target = f"<Client>{xml_text(to[len('client:') :])}</Client>"
    else:
        target = xml_text(to)
    return f"<Response><Dial>{target}</Dial></Response>"


def conference_twiml(
    name: str,
    *,
    start_on_enter: bool,
    end_on_exit: bool = True,
    wait_url: str | None = None,
    say: str | None = None,
    voice: str | None = None,
    language: str | None = None,
) -> str:
    """A participant joining conference ``name`` (PROTOCOLS §1.7 warm transfer), optionally after a
    ``<Say>``. ``wait_url`` is the hold music heard until the conference starts."""
    attrs = (
        f' startConferenceOnEnter="{str(start_on_enter).lower()}"'
        f' endConferenceOnExit="{str(end_on_exit).lower()}"'
    )
    if wait_url:
        attrs += f" waitUrl={xml_attr(wait_url)}"
    spoken = _say(say, voice, language) if say else ""
    return f"<Response>{spoken}<Dial><Conference{attrs}>{xml_text(name)}</Conference></Dial></Response>"


def say_hangup_twiml(message: str, *, voice: str | None = None, language: str | None = None) -> str:
    """``<Response><Say>message</Say><Hangup/></Response>``."""
    return f"<Response>{_say(message, voice, language)}<Hangup/></Response>"


def hangup_twiml() -> str:
    return f"{XML_DECLARATION}<Response><Hangup/></Response>"


def reject_busy_twiml() -> str:
    """Refuse a ringing inbound call with a busy signal (``<Reject reason="busy"/>``): it is never
    answered, so it is not billed, and the caller may retry (another instance takes it)."""
    return f'{XML_DECLARATION}<Response><Reject reason="busy"/></Response>'
