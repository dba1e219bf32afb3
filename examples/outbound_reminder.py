"""Call a customer about tomorrow's appointment; when an answering machine picks up, leave a
voicemail (in the agent's own voice) and hang up.

::

    export TWILIO_ACCOUNT_SID=AC... TWILIO_AUTH_TOKEN=... PATTER_PHONE_NUMBER=+15550001111
    export PATTER_WEBHOOK_URL=agent.example.com        # the carrier connects the call's audio here
    python -m examples.outbound_reminder +15551234567 "Alex"

The script serves (outbound calls stream back to this server), places the call with answering-machine
detection, waits for the outcome, and stops. The same agent answers people who call back::

    patter-core serve examples.outbound_reminder:make_agent --webhook-url agent.example.com
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

import attrs

from patter_core import Agent, CallRecord, Patter
from patter_core.interfaces.carrier import CallOutcome

__all__ = ["ReminderResult", "make_agent", "remind", "voicemail_for"]


def voicemail_for(customer: str, when: str) -> str:
    return (
        f"Hi {customer}, this is Bella Hair Salon reminding you of your appointment {when}. "
        "To change it, call us back at 555 0100. Goodbye!"
    )


def make_agent(phone: Patter, *, customer: str = "there", when: str = "tomorrow at 3 PM") -> Agent:
    """The reminder agent: offline pipeline (swap in any stt/llm/tts), with its voicemail message."""
    return phone.agent(
        system_prompt=(
            f"You are calling {customer} from Bella Hair Salon to remind them of their appointment {when}. "
            "Confirm that they can come, or transfer them to the front desk to reschedule."
        ),
        stt="local",
        llm="local",
        tts="local",
        vad="local",
        first_message=f"Hi {customer}, this is Bella Hair Salon calling about your appointment {when}. Can you make it?",
        voicemail_message=voicemail_for(customer, when),
        transfer_destinations={"front desk": "+15550100000"},
    )


@attrs.frozen
class ReminderResult:
    outcome: CallOutcome | None
    """``answered``, ``voicemail``, ``no-answer``, ``busy``, ``failed`` ..."""
    record: CallRecord | None
    """The conversation (``None`` when nobody picked up)."""


async def remind(phone: Patter, to: str, agent: Agent, *, timeout_s: float = 300) -> ReminderResult:
    """Place the call (the server must be running) and wait for how it went."""
    call = await phone.call(to=to, agent=agent, machine_detection=True, ring_timeout_s=30)
    status = await call.outcome(timeout=timeout_s)
    if status.outcome not in (CallOutcome.ANSWERED, CallOutcome.VOICEMAIL):
        return ReminderResult(status.outcome, None)
    return ReminderResult(status.outcome, await call.record(timeout=timeout_s))


async def main(to: str, customer: str) -> int:
    phone = Patter(
        carrier=os.environ.get("PATTER_CARRIER", "twilio"),
        phone_number=os.environ["PATTER_PHONE_NUMBER"],
        webhook_url=os.environ["PATTER_WEBHOOK_URL"],
    )
    agent = make_agent(phone, customer=customer)
    serving = asyncio.create_task(phone.serve(agent, port=int(os.environ.get("PORT", "8000"))))
    await phone.wait_ready()
    try:
        result = await remind(phone, to, agent)
    finally:
        await phone.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    outcome = result.outcome.value if result.outcome else "unknown"
    reason = result.record.end_reason if result.record else "no conversation"
    print(f"{to}: {outcome} ({reason})")
    return 0 if result.outcome in (CallOutcome.ANSWERED, CallOutcome.VOICEMAIL) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "there")))
