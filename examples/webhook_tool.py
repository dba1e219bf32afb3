"""A tool that runs on your own web service, and that service.

The agent's ``book_table`` tool is a *webhook tool*: when the model calls it, Patter POSTs
``{"tool", "arguments", "call": {"call_id", "caller", "callee"}}`` to your HTTPS endpoint, signed with
``PATTER_WEBHOOK_SECRET`` (headers ``X-Patter-Timestamp`` and ``X-Patter-Signature``), and the
model reads what the endpoint answers. The destination is checked after DNS resolution (no private,
loopback or cloud-metadata addresses), the request times out, and the answer's size is bounded.

The receiving side (:func:`create_reservations_app`) verifies the signature before doing anything::

    export PATTER_WEBHOOK_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export RESERVATIONS_URL=https://reservations.example.com/patter/book-table
    hypercorn 'examples.webhook_tool:create_reservations_app()' --bind 0.0.0.0:9000   # the service
    patter-core serve examples.webhook_tool:make_agent --webhook-url agent.example.com  # the agent
"""

from __future__ import annotations

import json
import os

from quart import Quart, request

from patter_core import Agent, Patter, Tool, webhook_tool
from patter_core.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

__all__ = ["TABLE_SCHEMA", "book_table_tool", "create_reservations_app", "make_agent"]

TABLE_SCHEMA = {
    "type": "object",
    "properties": {
        "day": {"type": "string", "description": 'The day, e.g. "Friday".'},
        "time": {"type": "string", "description": 'The time, e.g. "19:30".'},
        "party_size": {"type": "integer", "description": "How many people."},
    },
    "required": ["day", "time"],
}


def book_table_tool(url: str | None = None, *, allow_private: bool = False) -> Tool:
    """``url`` defaults to ``$RESERVATIONS_URL``; ``allow_private`` only for a service on this machine."""
    return webhook_tool(
        "book_table",
        url or os.environ["RESERVATIONS_URL"],
        description="Book a table at the restaurant.",
        parameters=TABLE_SCHEMA,
        timeout=5,
        allow_private=allow_private,
    )


def make_agent(phone: Patter, *, reservations_url: str | None = None, allow_private: bool = False) -> Agent:
    """The agent ``patter-core serve`` runs (offline providers; any stt/llm/tts works the same)."""
    return phone.agent(
        system_prompt="You take table reservations for Trattoria Luca. Be brief.",
        stt="local",
        llm="local",
        tts="local",
        vad="local",
        tools=[book_table_tool(reservations_url, allow_private=allow_private)],
        first_message="Trattoria Luca, good evening. How can I help?",
    )


# -- the receiving side: your reservations service -------------------------------------------------


def create_reservations_app(secret: str | None = None) -> Quart:
    """A service that answers ``book_table``; it rejects anything not signed with the shared secret."""
    key = secret or os.environ["PATTER_WEBHOOK_SECRET"]
    app = Quart("reservations")
    app.config["bookings"] = []

    @app.post("/patter/book-table")
    async def book_table() -> tuple[str, int]:
        body: bytes = await request.body  # the raw bytes: the signature covers them exactly
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not verify_signature(key, timestamp, body, request.headers.get(SIGNATURE_HEADER, "")):
            return "invalid signature", 401  # also refuses replays older than 5 minutes
        payload = json.loads(body)
        arguments = payload["arguments"]
        reference = f"T{100 + len(app.config['bookings'])}"
        app.config["bookings"].append(
            {**arguments, "reference": reference, "caller": (payload.get("call") or {}).get("caller")}
        )
        people = arguments.get("party_size") or 2
        return (
            f"Table for {people} booked on {arguments['day']} at {arguments['time']}, reference {reference}.",
            200,
        )

    return app
