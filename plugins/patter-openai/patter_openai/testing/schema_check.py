"""A small collector of shape problems, used by :mod:`.ga_schema`."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BETA_SESSION_KEYS", "Check"]

#: Session keys of the dead beta shape; flagged by name when they show up anywhere.
BETA_SESSION_KEYS = frozenset(
    {
        "input_audio_format",
        "output_audio_format",
        "voice",
        "modalities",
        "input_audio_transcription",
        "turn_detection",
        "input_audio_noise_reduction",
        "temperature",
        "max_response_output_tokens",
        "speed",
    }
)


class Check:
    def __init__(self) -> None:
        self.found: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.found.append(f"{where}: {what}")

    def obj(self, value: object, where: str, allowed: set[str], required: tuple[str, ...] = ()) -> bool:
        if not isinstance(value, Mapping):
            self.fail(where, f"must be an object, got {type(value).__name__}")
            return False
        for key in value:
            if key not in allowed:
                beta = " (a beta field)" if key in BETA_SESSION_KEYS else ""
                self.fail(where, f"unknown key {key!r}{beta}")
        missing = [key for key in required if key not in value]
        for key in missing:
            self.fail(where, f"missing required key {key!r}")
        return not missing

    def string(
        self, value: object, where: str, *, choices: tuple[str, ...] = (), empty_ok: bool = True
    ) -> None:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, got {type(value).__name__}")
        elif choices and value not in choices:
            self.fail(where, f"must be one of {choices}, got {value!r}")
        elif not empty_ok and not value:
            self.fail(where, "must not be empty")

    def integer(self, value: object, where: str, lo: int | None = None, hi: int | None = None) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(where, f"must be an integer, got {value!r}")
        elif (lo is not None and value < lo) or (hi is not None and value > hi):
            self.fail(where, f"out of range [{lo}, {hi}]: {value}")

    def number(self, value: object, where: str, lo: float, hi: float) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi:
            self.fail(where, f"must be a number in [{lo}, {hi}], got {value!r}")

    def boolean(self, value: object, where: str) -> None:
        if not isinstance(value, bool):
            self.fail(where, f"must be a boolean, got {value!r}")
