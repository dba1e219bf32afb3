"""Understanding a caller's words well enough for a rule-based receptionist.

The input is speech-to-text output, so this is built to tolerate recognition errors: fuzzy keyword
matching (``appointmint`` is ``appointment``), number words and digits alike (``three pm``, ``3 p.m.``,
``15:00``, ``4.30``), and the homophones Whisper produces on telephone audio for small numbers when the
context says a time is meant (``free in the afternoon``, ``at for``, ``tomorrow attend in the
morning``). Everything is a pure function of the text: no clock (``today`` is passed in), no
randomness.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

import attrs

__all__ = ["Slot", "extract_name", "extract_slot", "has_keyword", "normalize", "words"]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
)  # fmt: skip
_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_HOMOPHONES = {
    "free": "3",
    "tree": "3",
    "for": "4",
    "fore": "4",
    "to": "2",
    "too": "2",
    "won": "1",
    "ate": "8",
}
_NOT_BEFORE_TIME = {"i'm", "im", "am", "are", "is", "be", "was", "were", "not", "you're", "we're", "i", "we"}
_DAY_PARTS = {"morning": "am", "afternoon": "pm", "evening": "pm", "tonight": "pm", "night": "pm"}


def normalize(text: str) -> str:
    """Lower-case words and numbers: number words become digits, ``p.m.`` becomes ``pm``,
    ``4.30``/``4:30`` become ``4:30``; other punctuation goes."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"\b([ap])\.?\s?m\b\.?", r" \1m ", text)
    text = re.sub(r"\bo'?\s?clock\b", " oclock ", text)
    text = re.sub(r"(\d{1,2})[.:](\d{2})\b", r"\1:\2", text)
    text = re.sub(r"(\d)(am|pm)\b", r"\1 \2", text)
    text = re.sub(r"\b(\d{1,2})(st|nd|rd|th)\b", r"\1 th", text)
    text = re.sub(r"\bto morrow\b", "tomorrow", text)
    text = re.sub(r"\battend\b", "at ten", text)
    text = re.sub(r"[^a-z0-9:' ]+", " ", text)
    return " ".join(_numbers_to_digits(text.split()))


def words(text: str) -> list[str]:
    return normalize(text).split()


def _numbers_to_digits(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _TENS:
            value = _TENS[token]
            if i + 1 < len(tokens) and tokens[i + 1] in _UNITS and 0 < _UNITS[tokens[i + 1]] < 10:
                value += _UNITS[tokens[i + 1]]
                i += 1
            out.append(str(value))
        elif token in _UNITS and token != "oh":
            out.append(str(_UNITS[token]))
        elif token in _ORDINALS:
            out.extend((str(_ORDINALS[token]), "th"))
        else:
            out.append(token)
        i += 1
    return out


def _similar(word: str, keyword: str) -> bool:
    if word == keyword:
        return True
    if len(keyword) < 6 or abs(len(word) - len(keyword)) > 2:
        return False
    return difflib.SequenceMatcher(None, word, keyword).ratio() >= 0.8


def has_keyword(tokens: list[str], keywords: tuple[str, ...]) -> bool:
    """Whether any keyword occurs in normalised ``tokens``.

    A keyword is a phrase (several words, matched exactly), a prefix (``book*`` matches ``booking``), or
    a word: matched exactly, or fuzzily when it has 6 letters or more (``appointmint``, ``representive``)
    so that short common words are never confused.
    """
    joined = f" {' '.join(tokens)} "
    for keyword in keywords:
        if " " in keyword:
            if f" {keyword} " in joined:
                return True
        elif keyword.endswith("*"):
            if any(token.startswith(keyword[:-1]) for token in tokens):
                return True
        elif any(_similar(token, keyword) for token in tokens):
            return True
    return False


@attrs.frozen
class Slot:
    """A day and/or a time the caller mentioned."""

    day: str | None = None
    """Display form: ``Tuesday``, ``tomorrow``, ``next Friday``, ``March 3``."""
    date: dt.date | None = None
    hour: int | None = None
    """24-hour clock."""
    minute: int = 0

    @property
    def time_text(self) -> str | None:
        if self.hour is None:
            return None
        if (self.hour, self.minute) == (12, 0):
            return "noon"
        suffix = "AM" if self.hour < 12 else "PM"
        hour12 = self.hour % 12 or 12
        return f"{hour12} {suffix}" if self.minute == 0 else f"{hour12}:{self.minute:02d} {suffix}"

    @property
    def time_24h(self) -> str | None:
        return None if self.hour is None else f"{self.hour:02d}:{self.minute:02d}"

    def describe(self) -> str:
        """``Tuesday at 3 PM``, ``Tuesday``, ``3 PM``."""
        time = self.time_text
        if self.day and time:
            return f"{self.day} at {time}"
        return self.day or time or ""

    def merged(self, newer: Slot) -> Slot:
        """This slot updated by what ``newer`` mentions."""
        day, date = (newer.day, newer.date) if newer.day else (self.day, self.date)
        hour, minute = (newer.hour, newer.minute) if newer.hour is not None else (self.hour, self.minute)
        return Slot(day=day, date=date, hour=hour, minute=minute)


def extract_slot(tokens: list[str], today: dt.date) -> Slot:
    """The day and time mentioned in normalised ``tokens`` (either may be missing)."""
    day, date = _extract_day(tokens, today)
    hour, minute = _extract_time(tokens)
    return Slot(day=day, date=date, hour=hour, minute=minute)


_MAX_FUZZY = 16
"""Longest token worth a fuzzy match against a day or month name: with names of at most 9 letters, a
ratio of 0.8 needs a token of at most 13 (``2 * 9 / 0.8 - 9``); recognition garbage can be much longer."""

_WEEKDAY_ABBREVIATIONS = {"tue": 1, "tues": 1, "weds": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5}


def _weekday_of(token: str) -> int | None:
    if token in WEEKDAYS:
        return WEEKDAYS.index(token)
    if token in _WEEKDAY_ABBREVIATIONS:
        return _WEEKDAY_ABBREVIATIONS[token]
    if token.endswith("s") and token[:-1] in WEEKDAYS:
        return WEEKDAYS.index(token[:-1])
    if not 5 <= len(token) <= _MAX_FUZZY:  # longer ones can never reach the ratio (and are slow to try)
        return None
    ratios = [difflib.SequenceMatcher(None, token, name).ratio() for name in WEEKDAYS]
    best = max(range(7), key=ratios.__getitem__)
    return best if ratios[best] >= 0.8 else None


def _extract_day(tokens: list[str], today: dt.date) -> tuple[str | None, dt.date | None]:
    joined = " ".join(tokens)
    if "day after tomorrow" in joined:
        return "the day after tomorrow", today + dt.timedelta(days=2)
    if "tomorrow" in tokens:
        return "tomorrow", today + dt.timedelta(days=1)
    if "today" in tokens or "tonight" in tokens:
        return "today", today
    for i, token in enumerate(tokens):
        month = _month_of(token)
        if month is not None:
            after = _day_number(tokens[i + 1 : i + 3])
            number = after if month == 5 else after or _day_number(list(reversed(tokens[max(0, i - 3) : i])))
            if number is not None:
                return _dated(today, month, number)
        weekday = _weekday_of(token)
        if weekday is not None:
            ahead = (weekday - today.weekday()) % 7 or 7
            if i > 0 and tokens[i - 1] == "next":
                return f"next {WEEKDAYS[weekday].title()}", today + dt.timedelta(days=ahead)
            return WEEKDAYS[weekday].title(), today + dt.timedelta(days=ahead)
    return None, None


def _month_of(token: str) -> int | None:
    for index, name in enumerate(MONTHS):
        if token == name or (
            5 <= len(token) <= _MAX_FUZZY and difflib.SequenceMatcher(None, token, name).ratio() >= 0.85
        ):
            return index + 1
    return None


def _day_number(tokens: list[str]) -> int | None:
    for token in tokens:
        if token.isdigit() and 1 <= int(token) <= 31:
            return int(token)
        if token not in ("the", "of", "th"):
            return None
    return None


def _dated(today: dt.date, month: int, day: int) -> tuple[str | None, dt.date | None]:
    for year in (today.year, today.year + 1):
        try:
            date = dt.date(year, month, day)
        except ValueError:
            return None, None
        if date >= today:
            return f"{MONTHS[month - 1].title()} {day}", date
    return None, None


def _extract_time(tokens: list[str]) -> tuple[int | None, int]:
    tokens = _resolve_homophones(tokens)
    joined = " ".join(tokens)
    if re.search(r"\b(noon|midday)\b", joined):
        return 12, 0
    match = re.search(r"\b(half|quarter) (past|after|to) (\d{1,2})\b", joined)
    if match:
        base = int(match.group(3))
        minute = 30 if match.group(1) == "half" else 15
        if match.group(2) == "to":
            base, minute = base - 1, 60 - minute
        return _to_24h(base, minute, _meridiem(tokens))
    for i, token in enumerate(tokens):
        clock = re.fullmatch(r"(\d{1,2}):(\d{2})", token)
        if clock:
            return _to_24h(int(clock.group(1)), int(clock.group(2)), _meridiem(tokens))
        if not token.isdigit() or not 1 <= int(token) <= 24:
            continue
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        before = tokens[i - 1] if i > 0 else ""
        minute = 0
        if after.isdigit() and int(after) in (15, 30, 45) and after != token:
            minute, after = int(after), tokens[i + 2] if i + 2 < len(tokens) else ""
        timeish = after in ("am", "pm", "oclock") or before in ("at", "around", "about", "by") or minute
        if timeish or (after in ("in", "and") and _meridiem(tokens[i + 1 : i + 4]) is not None):
            return _to_24h(int(token), minute, _meridiem(tokens))
    return None, 0


def _resolve_homophones(tokens: list[str]) -> list[str]:
    out = list(tokens)
    for i, token in enumerate(tokens):
        if token not in _HOMOPHONES:
            continue
        before = tokens[i - 1] if i > 0 else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        part_of_day = (
            after in ("in", "and") and _meridiem(tokens[i + 1 : i + 4]) is not None
        )  # "and": Whisper
        if before in _NOT_BEFORE_TIME:
            continue  # "I'm free in the afternoon" is not "3 in the afternoon"
        if (
            after in ("am", "pm", "oclock", "30", "15", "45")
            or part_of_day
            or (before == "at" and after in ("", "on"))
        ):
            out[i] = _HOMOPHONES[token]
    return out


def _meridiem(tokens: list[str]) -> str | None:
    for token in tokens:
        if token in ("am", "pm"):
            return token
        if token in _DAY_PARTS:
            return _DAY_PARTS[token]
    return None


def _to_24h(hour: int, minute: int, meridiem: str | None) -> tuple[int | None, int]:
    if not (0 <= hour <= 24 and 0 <= minute < 60):
        return None, 0
    if hour > 12:
        return hour % 24, minute
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    elif meridiem is None and 1 <= hour <= 7:
        hour += 12  # business hours: "at 3" is 3 PM
    return hour, minute


_NAME_ANY_CASE = re.compile(
    r"\bmy name(?: is|'s)\s+([A-Za-z][A-Za-z'-]+(?:\s+[A-Za-z][A-Za-z'-]+)?)", re.IGNORECASE
)
_NAME_CAPITALISED = re.compile(r"\b(?:[Tt]his is|[Ii]t's|[Ii] am)\s+([A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)")
_NOT_NAMES = {
    "calling", "looking", "trying", "here", "just", "wondering", "interested", "not", "a", "an", "the",
    "about", "and", "please", "i", "i'd", "i'm", "from", "so", "that", "is", "great", "fine", "ok", "okay",
}  # fmt: skip


def extract_name(text: str) -> str | None:
    """``John Smith`` from "my name is John Smith" (or "this is John Smith"), else None."""
    match = _NAME_ANY_CASE.search(text) or _NAME_CAPITALISED.search(text)
    if not match:
        return None
    parts: list[str] = []
    for part in match.group(1).split():
        if part.lower() in _NOT_NAMES:
            break
        parts.append(part)
    return " ".join(p[:1].upper() + p[1:].lower() for p in parts) or None
