"""The system tools every agent gets when a carrier is present: ``transfer_call`` and ``end_call``.

``transfer_call`` dials only the destinations the developer configured on the agent
(``transfer_destinations=``), by name or number: a prompt-injected number is refused and the model is
told which destinations exist. Both tools wait for the agent's current speech to finish playing before
acting, so "I'll transfer you now" is heard, and report the carrier's real outcome to the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from patter_core.errors import ToolError
from patter_core.interfaces.carrier import WarmTransfer
from patter_core.tools import Tool, tool

if TYPE_CHECKING:
    from patter_core.session.call import CallSession

__all__ = ["resolve_destination", "system_tools"]

SYSTEM_TOOL_TIMEOUT_S = 30.0


def resolve_destination(requested: str, allowed: Mapping[str, str]) -> str | None:
    """The configured number for ``requested`` (a destination name or one of the numbers), else None."""
    wanted = requested.strip()
    if not wanted:
        return None
    lowered = {name.lower(): number for name, number in allowed.items()}
    if wanted.lower() in lowered:
        return lowered[wanted.lower()]
    compact = "".join(ch for ch in wanted if ch not in " -().")
    for number in allowed.values():
        if number in (compact, wanted):
            return number
    return None


def system_tools(session: CallSession) -> list[Tool]:
    allowed = session.agent.transfer_destinations
    names = ", ".join(allowed) if allowed else "none are configured"
    warm_capable = session.carrier is not None and session.carrier.capabilities.warm_transfer

    async def transfer_call(destination: str, reason: str | None = None, summary: str | None = None) -> str:
        """Transfer the call.

        Args:
            destination: The name of the destination (or its number) to transfer to.
            reason: Why the caller is being transferred, in a few words.
            summary: For a warm transfer: a short briefing spoken to the person taking the call before
                the caller is connected. Leave it out for a direct (cold) transfer.
        """
        number = resolve_destination(destination, allowed)
        if number is None:
            session.record.add_event("transfer_refused", requested=destination)
            raise ToolError(
                f"{destination!r} is not an allowed transfer destination; allowed destinations: {names}"
            )
        warm = WarmTransfer(summary=summary) if summary and warm_capable else None
        await session.transfer(number, reason=reason, warm=warm)
        return f"transferring the caller to {destination}"

    async def end_call(reason: str | None = None) -> str:
        """End the call.

        Args:
            reason: Why the call is ending, in a few words.
        """
        await session.hang_up(reason or "agent ended the call")
        return "call ended"

    described = (
        f"Transfer the caller to a human or another line. destination must be one of: {names}."
        if allowed
        else "Transfer the caller to another line (no destinations are configured, so this will be refused)."
    )
    return [
        tool(name="transfer_call", description=described, timeout=SYSTEM_TOOL_TIMEOUT_S)(transfer_call),
        tool(
            name="end_call",
            description="Hang up the call, after saying goodbye, when the conversation is over.",
            timeout=SYSTEM_TOOL_TIMEOUT_S,
        )(end_call),
    ]
