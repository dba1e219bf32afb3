"""Guardrails: checks applied to every agent utterance before it is spoken.

::

    no_medical = guardrail("no-medical-advice", blocked_terms=["diagnosis", "prescription"],
                           replacement="I can't give medical advice, but I can book you with a doctor.")
    polite = guardrail("polite", check=lambda text: "stupid" in text.lower())

``blocked_terms`` match whole words, case-insensitively. ``check`` is a sync or async callable that
returns ``True`` when the text must NOT be spoken. In pipeline mode each sentence is checked before it
reaches text-to-speech, so a blocked sentence is never heard; in engine mode the agent's transcript is
checked as it streams, and a hit stops the audio and speaks the replacement instead.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs

__all__ = ["DEFAULT_REPLACEMENT", "Guardrail", "GuardrailVerdict", "check_all", "guardrail"]

log = logging.getLogger("patter.guardrails")

DEFAULT_REPLACEMENT = "Sorry, I can't help with that."

Check = Callable[[str], bool | Awaitable[bool]]


@attrs.frozen
class GuardrailVerdict:
    blocked: bool
    text: str
    """What to speak: the original text, or the replacement."""
    guardrail: str | None = None


@attrs.frozen
class Guardrail:
    name: str
    blocked_terms: tuple[str, ...] = ()
    check: Check | None = attrs.field(default=None, repr=False)
    replacement: str = DEFAULT_REPLACEMENT
    _pattern: re.Pattern[str] | None = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        terms = [t.strip() for t in self.blocked_terms if t and t.strip()]
        pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE)
            if terms
            else None
        )
        object.__setattr__(self, "_pattern", pattern)

    async def blocks(self, text: str) -> bool:
        """Whether ``text`` must not be spoken. A failing ``check`` blocks (fail closed) and logs."""
        if self._pattern is not None and self._pattern.search(text):
            return True
        if self.check is None:
            return False
        try:
            result: Any = self.check(text)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            log.exception("guardrail %s check raised; blocking the text (fail closed)", self.name)
            return True
        return bool(result)


def guardrail(
    name: str,
    *,
    blocked_terms: Sequence[str] = (),
    check: Check | None = None,
    replacement: str = DEFAULT_REPLACEMENT,
) -> Guardrail:
    """Build a :class:`Guardrail`; needs ``blocked_terms`` or ``check`` (or both)."""
    if isinstance(blocked_terms, str):
        raise TypeError("blocked_terms must be a list of strings, not one string")
    if not blocked_terms and check is None:
        raise ValueError(f"guardrail {name!r} needs blocked_terms=[...] or check=callable (or both)")
    if check is not None and not callable(check):
        raise TypeError("check must be a callable taking the text and returning True to block it")
    return Guardrail(name=name, blocked_terms=tuple(blocked_terms), check=check, replacement=replacement)


async def check_all(guardrails: Sequence[Guardrail], text: str) -> GuardrailVerdict:
    """The first guardrail that blocks ``text`` decides; otherwise the text passes unchanged."""
    for rail in guardrails:
        if await rail.blocks(text):
            log.info("guardrail %s blocked an utterance", rail.name)
            return GuardrailVerdict(blocked=True, text=rail.replacement, guardrail=rail.name)
    return GuardrailVerdict(blocked=False, text=text)
