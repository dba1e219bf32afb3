"""What ``on_message`` receives: the caller's finished turn, with the call's details."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from patter_core.interfaces.carrier import CallInfo

__all__ = ["CallerTurn"]


@attrs.define(frozen=True)
class CallerTurn(Mapping[str, Any]):
    """The caller's turn. Read it as an object (``turn.text``) or a mapping (``turn["text"]``)."""

    text: str
    call_id: str
    caller: str
    callee: str
    turn: int
    """0 for the first caller turn."""
    history: Sequence[Mapping[str, str]] = ()
    """Earlier turns as ``{"role": "caller"|"agent", "text": ...}`` (what the caller actually heard)."""
    dtmf: str | None = None
    """Keys pressed, when the turn came from the keypad instead of speech."""
    call: CallInfo | None = attrs.field(default=None, repr=False)

    def __getitem__(self, key: str) -> Any:
        if key in _FIELDS:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)


_FIELDS = ("text", "call_id", "caller", "callee", "turn", "history", "dtmf")
