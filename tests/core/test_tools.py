"""@tool: schemas from type hints and docstrings, sync/async handlers, timeouts, errors, no retries."""

from __future__ import annotations

import asyncio
import enum
import json
import threading
from typing import Literal

import pytest

from patter_core.errors import ToolError
from patter_core.interfaces.carrier import CallInfo
from patter_core.tools import Tool, ToolContext, tool


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@tool
async def book(day: str, hour: int, party: int | None = None, kind: Literal["cut", "color"] = "cut") -> str:
    """Book an appointment.

    Args:
        day: The day of the appointment.
        hour: Hour of the day, 0-23.
        party: How many people.
        kind: Which service.
    """
    return f"booked {day} {hour} {party} {kind}"


def test_schema_from_hints_and_docstring() -> None:
    assert isinstance(book, Tool)
    assert book.name == "book"
    assert book.description == "Book an appointment."
    assert book.parameters == {
        "type": "object",
        "properties": {
            "day": {"type": "string", "description": "The day of the appointment."},
            "hour": {"type": "integer", "description": "Hour of the day, 0-23."},
            "party": {"type": "integer", "description": "How many people."},
            "kind": {"type": "string", "enum": ["cut", "color"], "description": "Which service."},
        },
        "required": ["day", "hour"],
    }


def test_sphinx_docstrings_lists_and_enums() -> None:
    @tool(name="paint", description="Paint things.", timeout=3)
    def paint(colors: list[Color], coats: float, context: ToolContext) -> dict[str, object]:
        """Ignored summary.

        :param colors: Colors to use.
        :param coats: Number of coats.
        """
        return {"colors": [c for c in colors], "coats": coats, "caller": context.caller}

    assert paint.name == "paint" and paint.description == "Paint things." and paint.timeout == 3
    props = paint.parameters["properties"]
    assert props["colors"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["red", "blue"]},
        "description": "Colors to use.",
    }
    assert props["coats"]["type"] == "number"
    assert "context" not in props and paint.context_param == "context"


async def test_async_handler_result_and_context() -> None:
    result = await book.run('{"day": "Tuesday", "hour": 15}')
    assert result.output == "booked Tuesday 15 None cut" and not result.error

    @tool
    def who(context: ToolContext) -> dict[str, str]:
        """Who is calling."""
        return {"caller": context.caller}

    result = await who.run(
        "{}", ToolContext(call=CallInfo(call_id="CA1", carrier="x", caller="+15551230000"))
    )
    assert json.loads(result.output) == {"caller": "+15551230000"}


async def test_sync_handler_runs_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()

    @tool
    def where() -> str:
        """Report the thread."""
        return "loop" if threading.get_ident() == loop_thread else "worker"

    assert (await where.run("{}")).output == "worker"


async def test_timeout_becomes_an_error_result() -> None:
    @tool(timeout=0.05)
    async def slow() -> str:
        """Too slow."""
        await asyncio.sleep(10)
        return "never"

    result = await slow.run("{}")
    assert result.error and "timed out after 0.05 s" in result.output


async def test_exception_becomes_an_error_result_and_runs_once() -> None:
    calls = []

    @tool
    async def flaky(x: int) -> str:
        """Fails."""
        calls.append(x)
        raise RuntimeError("database down")

    result = await flaky.run({"x": 1})
    assert result.error and "RuntimeError: database down" in result.output
    assert calls == [1]  # no hidden retries

    @tool
    async def refuse() -> str:
        """Refuses cleanly."""
        raise ToolError("no slots left on Tuesday")

    assert (await refuse.run("{}")).output == "error: no slots left on Tuesday"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"day": "x"}', "missing required argument(s): hour"),
    ],
)
async def test_bad_arguments_are_reported_to_the_model(arguments: str, message: str) -> None:
    result = await book.run(arguments)
    assert result.error and message in result.output


def test_invalid_tool_names_are_refused() -> None:
    with pytest.raises(ValueError, match="1-64 letters"):
        tool(name="has space")(lambda: None)
    with pytest.raises(ValueError, match="timeout"):
        tool(timeout=0)(lambda: None)


def test_an_optional_context_parameter_is_not_shown_to_the_model() -> None:
    @tool
    def where(day: str, context: ToolContext | None = None) -> str:
        """Where."""
        return day

    assert where.context_param == "context" and set(where.parameters["properties"]) == {"day"}
