"""Tools the agent can call: ``@tool`` turns a typed, documented function into one.

::

    @tool
    async def book_appointment(day: str, time: str, name: str | None = None) -> str:
        \"\"\"Book an appointment.

        Args:
            day: The day, e.g. "Tuesday" or "2026-12-01".
            time: The time, e.g. "15:00".
            name: The caller's name, if they gave it.
        \"\"\"

The JSON schema comes from the type hints (``str``, ``int``, ``float``, ``bool``, ``list[...]``,
``Literal[...]``, enums, optional parameters) and the parameter descriptions from the docstring
(Google ``Args:`` or Sphinx ``:param x:`` style). Sync handlers run in a worker thread so they never
block the call's event loop. Every run has a timeout (``timeout=`` seconds, default 10). A tool runs
exactly once per request: there are no hidden retries, because tools have side effects. Failures,
timeouts and bad arguments come back to the model as an error result and the call continues.

A handler that declares a parameter annotated :class:`ToolContext` receives the call's context
(call info, caller number) there; it is not shown to the model.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import json
import logging
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, get_args, get_origin, overload

import attrs

from patter_core.errors import ToolError
from patter_core.interfaces.carrier import CallInfo
from patter_core.interfaces.llm import ToolSpec

__all__ = ["Tool", "ToolContext", "ToolResult", "as_tool", "tool"]

log = logging.getLogger("patter.tools")

DEFAULT_TIMEOUT_S = 10.0
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@attrs.frozen
class ToolContext:
    """What a tool handler may learn about the call it runs in."""

    call: CallInfo | None = None
    arguments: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def caller(self) -> str:
        return self.call.caller if self.call else ""


@attrs.frozen
class ToolResult:
    """A tool's output as the model will read it."""

    output: str
    error: bool = False
    data: Any = None
    """The handler's return value before serialisation (``None`` on error)."""


Handler = Callable[..., Any]


@attrs.frozen
class Tool:
    """A named, described, schema-checked callable the agent may use."""

    name: str = attrs.field()
    description: str
    parameters: Mapping[str, Any]
    handler: Handler | None = attrs.field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_S
    context_param: str | None = None
    """Name of the handler parameter that receives :class:`ToolContext`, if any."""

    @name.validator
    def _check_name(self, _attribute: object, value: str) -> None:
        if not _NAME_RE.match(value):
            raise ValueError(
                f"tool name {value!r} must be 1-64 letters, digits, '_' or '-' (models reject others)"
            )

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    async def run(self, arguments: str | Mapping[str, Any], context: ToolContext | None = None) -> ToolResult:
        """Run once with the model's arguments; never raises (errors become an error result)."""
        try:
            args = _parse_arguments(arguments)
            _check_required(args, self.parameters)
        except ValueError as exc:
            return ToolResult(output=f"error: invalid arguments for {self.name}: {exc}", error=True)
        if self.handler is None:
            return ToolResult(output=f"error: tool {self.name} has no handler", error=True)
        kwargs = {k: v for k, v in args.items() if k in self.parameters.get("properties", {})}
        if self.context_param:
            kwargs[self.context_param] = attrs.evolve(context or ToolContext(), arguments=args)
        try:
            async with asyncio.timeout(self.timeout):
                value = await _call(self.handler, kwargs)
        except TimeoutError:
            log.warning("tool %s timed out after %.1f s", self.name, self.timeout)
            return ToolResult(output=f"error: {self.name} timed out after {self.timeout:g} s", error=True)
        except ToolError as exc:
            return ToolResult(output=f"error: {exc}", error=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("tool %s raised", self.name)
            return ToolResult(output=f"error: {self.name} failed: {type(exc).__name__}: {exc}", error=True)
        return ToolResult(output=_serialise(value), data=value)


async def _call(handler: Handler, kwargs: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(**kwargs)
    result = await asyncio.to_thread(functools.partial(handler, **kwargs))
    if inspect.isawaitable(result):
        return await result
    return result


def _parse_arguments(arguments: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if arguments is None:
        arguments = ""
    if isinstance(arguments, bytes | bytearray):
        arguments = arguments.decode("utf-8", errors="replace")
    if not isinstance(arguments, str):  # a provider handed over something other than JSON text
        raise ValueError(f"arguments must be a JSON object, got {type(arguments).__name__}")
    text = arguments.strip() or "{}"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"arguments are not valid JSON ({exc.args[0]})") from None
    except RecursionError:  # absurdly deep nesting: the model's text, never worth a crash
        raise ValueError("arguments are nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    return value


def _check_required(args: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    missing = [name for name in schema.get("required", []) if name not in args]
    if missing:
        raise ValueError(f"missing required argument(s): {', '.join(missing)}")
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return
    required = schema.get("required", [])
    for name, value in args.items():
        spec = properties.get(name)
        if value is None and name not in required:
            continue  # an optional argument left out explicitly (OpenAI's strict mode sends null)
        if isinstance(spec, Mapping) and not _matches(value, spec):
            raise ValueError(f"{name} must be {_describe(spec)}, got {json.dumps(value, default=str)[:60]}")


_JSON_TYPES: Mapping[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _matches(value: Any, spec: Mapping[str, Any], depth: int = 0) -> bool:
    """Whether ``value`` fits the (simple) JSON schema ``spec`` that ``@tool`` generates: ``type``,
    ``enum``, ``anyOf`` and array ``items``. Handlers can then trust their type hints, whatever the
    model (or a prompt injection) sends; unknown schema keywords are not checked."""
    if depth > 20:
        return True
    if "anyOf" in spec and isinstance(spec["anyOf"], list):
        return any(isinstance(s, Mapping) and _matches(value, s, depth + 1) for s in spec["anyOf"])
    if "enum" in spec and isinstance(spec["enum"], list) and value not in spec["enum"]:
        return False
    kind = spec.get("type")
    check = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
    if check is not None and not check(value):
        return False
    items = spec.get("items")
    if kind == "array" and isinstance(items, Mapping) and items:
        return all(_matches(item, items, depth + 1) for item in value)
    return True


def _describe(spec: Mapping[str, Any]) -> str:
    if isinstance(spec.get("enum"), list):
        return "one of " + ", ".join(json.dumps(v) for v in spec["enum"])
    if isinstance(spec.get("anyOf"), list):
        return " or ".join(_describe(s) for s in spec["anyOf"] if isinstance(s, Mapping))
    kind = spec.get("type", "a value")
    if kind == "array" and isinstance(spec.get("items"), Mapping) and spec["items"].get("type"):
        return f"an array of {spec['items']['type']}"
    return f"a {kind}" if kind != "integer" else "an integer"


def _serialise(value: Any) -> str:
    if value is None:
        return "done"
    if isinstance(value, str):
        return value
    if attrs.has(type(value)):
        value = attrs.asdict(value)
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


# -- @tool -------------------------------------------------------------------------------------


@overload
def tool(func: Handler, /) -> Tool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> Callable[[Handler], Tool]: ...


def tool(
    func: Handler | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Tool | Callable[[Handler], Tool]:
    """Make a :class:`Tool` from a function; usable bare (``@tool``) or with options (``@tool(timeout=5)``)."""

    def build(f: Handler) -> Tool:
        if isinstance(f, Tool):
            return f
        if not callable(f):
            raise TypeError(f"@tool needs a function, got {type(f).__name__}")
        if timeout <= 0:
            raise ValueError("tool timeout must be > 0 seconds")
        summary, param_docs = _parse_docstring(inspect.getdoc(f) or "")
        parameters, context_param = _schema_for(f, param_docs)
        return Tool(
            name=name or f.__name__,
            description=(description or summary or f.__name__.replace("_", " ")).strip(),
            parameters=parameters,
            handler=f,
            timeout=timeout,
            context_param=context_param,
        )

    if func is not None:
        return build(func)
    return build


def as_tool(value: Tool | Handler) -> Tool:
    """Accept a :class:`Tool` or a plain function (wrapped with defaults)."""
    return value if isinstance(value, Tool) else tool(value)


def _schema_for(func: Handler, docs: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    context_param = None
    for pname, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        hint = hints.get(pname, str)
        if hint is ToolContext or (_is_optional(hint) and ToolContext in get_args(hint)):
            context_param = pname
            continue
        schema = _json_type(hint)
        if pname in docs:
            schema["description"] = docs[pname]
        properties[pname] = schema
        if param.default is inspect.Parameter.empty and not _is_optional(hint):
            required.append(pname)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return parameters, context_param


def _is_optional(hint: Any) -> bool:
    return get_origin(hint) in (typing.Union, types.UnionType) and type(None) in get_args(hint)


_SIMPLE: Mapping[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _json_type(hint: Any) -> dict[str, Any]:
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if len(options) == 1:
            return _json_type(options[0])
        return {"anyOf": [_json_type(a) for a in options]}
    if origin is Literal:
        values = list(get_args(hint))
        return {"type": _SIMPLE.get(type(values[0]), "string"), "enum": values}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"type": "string", "enum": [m.value for m in hint]}
    if origin in (list, Sequence, tuple, set, frozenset) or hint in (list, tuple, set):
        args = get_args(hint)
        return {"type": "array", "items": _json_type(args[0]) if args else {}}
    if origin in (dict, Mapping) or hint is dict:
        return {"type": "object"}
    return {"type": "string"}


_SPHINX = re.compile(r"^:param\s+(?:\S+\s+)?(\w+):\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """First paragraph as the description; parameter descriptions from ``Args:`` or ``:param:``."""
    lines = doc.splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or (line.strip().endswith(":") and line.strip().rstrip(":") in _SECTIONS):
            break
        if _SPHINX.match(line.strip()):
            break
        summary_lines.append(line.strip())
    params: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        match = _SPHINX.match(stripped)
        if match:
            current = match.group(1)
            params[current] = match.group(2).strip()
            continue
        if stripped.rstrip(":") in _SECTIONS and stripped.endswith(":"):
            in_args = stripped.rstrip(":") in ("Args", "Arguments", "Parameters")
            current = None
            continue
        if in_args and stripped:
            head, sep, rest = stripped.partition(":")
            name = head.split("(")[0].strip()
            if sep and re.fullmatch(r"\w+", name):
                current = name
                params[name] = rest.strip()
            elif current:
                params[current] = f"{params[current]} {stripped}".strip()
    return " ".join(summary_lines), params


_SECTIONS = {
    "Args",
    "Arguments",
    "Parameters",
    "Returns",
    "Return",
    "Raises",
    "Yields",
    "Example",
    "Examples",
    "Note",
}
