"""What ``on_message`` receives: the caller's finished turn, with the call's details and controls.

An ``on_message`` bot can end or transfer the call itself::

    async def on_message(turn):
        if "bye" in turn.text.lower():
            turn.end_call("caller said goodbye")      # hangs up after this reply has played
            return "Goodbye!"
        if "human" in turn.text.lower():
            turn.transfer("front desk")                # configured destinations only
            return "Transferring you now."
        return "..."
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
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
    _end_call: Callable[[str], None] | None = attrs.field(
        default=None, repr=False, eq=False, alias="end_call_hook"
    )
    _transfer: Callable[[str], None] | None = attrs.field(
        default=None, repr=False, eq=False, alias="transfer_hook"
    )

    def end_call(self, reason: str = "on_message ended the call") -> None:
        """Hang up once the reply to this turn has been spoken."""
        if self._end_call is None:
            raise RuntimeError("this turn is not attached to a live call")
        self._end_call(reason)

    def transfer(self, destination: str) -> None:
        """Transfer the caller (after this reply) to a destination configured on the agent.

        Raises :class:`patter_core.errors.ToolError` when ``destination`` is not allowed.
        """
        if self._transfer is None:
            raise RuntimeError("this turn is not attached to a live call")
        self._transfer(destination)

    def __getitem__(self, key: str) -> Any:
        if key in _FIELDS:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)


_FIELDS = ("text", "call_id", "caller", "callee", "turn", "history", "dtmf")
