"""Bad input from good input: structure-aware mutations of valid protocol messages.

Random bytes rarely get past a parser's first ``json.loads``; the bugs live one step further, in a
message that is *almost* right -- a field missing, a string where a number belongs, an object where a
list belongs, base64 with one bad character, an event name borrowed from another message, a payload
a megabyte long, JSON nested ten thousand deep. :func:`mutate` takes a valid example (the vendor's
documented frame) and applies one to three such changes, driven by a ``random.Random`` so a run is
reproducible from its seed. Used by the hypothesis suites (through ``st.randoms()``) and by
``bench/fuzz.py``.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["WEIRD_VALUES", "garbage", "mutate"]

Message = str | bytes

WEIRD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**63,
    -(2**70),
    1e308,
    "",
    " ",
    "0",
    "null",
    "\u0000",
    "\ud800",  # a lone surrogate: valid in JSON text, unencodable as UTF-8
    "é\u2028\u202e",
    "+15551234567",
    "***not base64***",
    "v1.a.b",
    [],
    {},
    [None],
    {"": None},
    [[[[[]]]]],
)


def _weird(rnd: random.Random) -> Any:
    """A fresh copy of one of :data:`WEIRD_VALUES` (mutable ones must not be shared between messages)."""
    return copy.deepcopy(rnd.choice(WEIRD_VALUES))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes), the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:8]):
            out += _paths(child, (*prefix, index))
    return out


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        root = root[step]
    return root


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


def _delete(root: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return {}
    parent = _get(root, path[:-1])
    del parent[path[-1]]
    return root


def _corrupt_string(text: str, rnd: random.Random) -> str:
    choice = rnd.randrange(7)
    if choice == 0 and text:
        i = rnd.randrange(len(text))
        return text[:i] + rnd.choice('*\u00e9\n"\\=%') + text[i + 1 :]
    if choice == 1:
        return text[: rnd.randrange(len(text) + 1)]
    if choice == 2:
        return text + "=" * rnd.randrange(1, 4)
    if choice == 3:
        return text * rnd.randrange(2, 50)
    if choice == 4:
        return "A" * rnd.choice((1, 3, 5, 1023, 70_000))
    if choice == 5:
        return base64.b64encode(rnd.randbytes(rnd.randrange(0, 64))).decode()
    return "".join(chr(rnd.randrange(0x20, 0x3000)) for _ in range(rnd.randrange(1, 20)))


def _structural(value: Any, rnd: random.Random, donors: Sequence[Any]) -> Any:
    paths = _paths(value)
    path = rnd.choice(paths)
    target = _get(value, path)
    choice = rnd.randrange(10)
    if choice == 0 and path:
        return _delete(value, path)
    if choice == 1:
        return _set(value, path, _weird(rnd))
    if choice == 2 and isinstance(target, str):
        return _set(value, path, _corrupt_string(target, rnd))
    if choice == 3:  # type confusion: the same content, another JSON type
        if isinstance(target, dict):
            return _set(value, path, list(target.values()))
        if isinstance(target, list):
            return _set(value, path, {str(i): x for i, x in enumerate(target)})
        return _set(value, path, [target] if rnd.random() < 0.5 else str(target))
    if choice == 4 and isinstance(target, dict):
        target[rnd.choice(("type", "event", "extra", "", "\u0000", "__proto__"))] = _weird(rnd)
        return value
    if choice == 5 and donors:  # a field (often the event type) borrowed from another message
        donor = rnd.choice(donors)
        donor_paths = _paths(donor)
        return _set(value, path, json.loads(json.dumps(_get(donor, rnd.choice(donor_paths)))))
    if choice == 6 and isinstance(target, list):  # a long list (bounded: copies of copies add up)
        size = len(json.dumps(target))
        copies = rnd.randrange(0, max(2, 200_000 // max(1, size)))
        return _set(value, path, [json.loads(json.dumps(x)) for _ in range(copies) for x in target])
    if choice == 7 and isinstance(target, int | float) and not isinstance(target, bool):
        return _set(value, path, rnd.choice((-target, target * 10**12, float("nan"), float("inf"), -0.0)))
    if choice == 8:
        return _set(value, path, [target] * rnd.randrange(1, 4) if rnd.random() < 0.5 else {"x": target})
    return _set(value, path, _weird(rnd))


def _raw(message: Message, rnd: random.Random) -> Message:
    data = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
    choice = rnd.randrange(8)
    if choice == 0:
        data = data[: rnd.randrange(len(data) + 1)]
    elif choice == 1 and data:
        i = rnd.randrange(len(data))
        data = data[:i] + bytes([rnd.randrange(256)]) + data[i + 1 :]
    elif choice == 2:
        i = rnd.randrange(len(data) + 1)
        data = data[:i] + rnd.randbytes(rnd.randrange(1, 8)) + data[i:]
    elif choice == 3:
        depth = rnd.choice((100, 1000, 5000, 20_000))
        data = b"[" * depth + data + b"]" * rnd.choice((0, depth))
    elif choice == 4:
        data = data + data[: rnd.randrange(len(data) + 1)]
    elif choice == 5:
        return data  # the same text as a binary frame
    elif choice == 6:
        data = b"\xef\xbb\xbf" + data  # a byte-order mark
    else:
        data = data.replace(b'"', b"'", 1)
    if isinstance(message, bytes):
        return data
    return data.decode("utf-8", errors="replace") if rnd.random() < 0.8 else data


def garbage(rnd: random.Random) -> Message:
    """Input with no relation to any example."""
    choice = rnd.randrange(6)
    if choice == 0:
        return rnd.choice(("", " ", "null", "[]", "{}", "0", '"x"', "true", "\n", "\u0000", "[[[["))
    if choice == 1:
        return rnd.randbytes(rnd.randrange(0, 64))
    if choice == 2:
        return json.dumps(_weird(rnd))
    if choice == 3:
        return "[" * rnd.choice((1000, 50_000)) + "]" * rnd.choice((0, 1))
    if choice == 4:
        return json.dumps({"type": _weird(rnd)}, default=str)
    return (
        "".join(chr(rnd.randrange(1, 0x110000)) for _ in range(rnd.randrange(1, 40)))
        .encode("utf-8", "surrogatepass")
        .decode("utf-8", "replace")
    )


def mutate(example: Message, rnd: random.Random, donors: Sequence[Message] = ()) -> Message:
    """A bad variant of ``example``: 1-3 structural changes when it is JSON, then maybe a raw change.

    ``donors`` are other valid messages whose fields may be borrowed (an event type from one, the body
    of another). The result is ``str`` or ``bytes`` (a text frame may become a binary one).
    """
    if rnd.random() < 0.05:
        return garbage(rnd)
    text = example.decode("utf-8", errors="replace") if isinstance(example, bytes) else example
    try:
        value = json.loads(text)
    except ValueError:
        value = _NOT_JSON
    message: Message = example
    if value is not _NOT_JSON:
        parsed_donors = [_loads(d) for d in donors]
        usable = [d for d in parsed_donors if d is not _NOT_JSON]
        for _ in range(rnd.randrange(1, 4)):
            value = _structural(value, rnd, usable)
        message = json.dumps(value, ensure_ascii=rnd.random() < 0.5)
        if isinstance(example, bytes):
            message = message.encode("utf-8", "surrogatepass")
        if rnd.random() < 0.7:
            return message
    else:
        message = _corrupt_bytes_or_text(example, rnd)
    return _raw(message, rnd)


def _corrupt_bytes_or_text(example: Message, rnd: random.Random) -> Message:
    if isinstance(example, bytes):
        return example
    return _corrupt_string(example, rnd) if rnd.random() < 0.5 else example


_NOT_JSON = object()


def _loads(message: Message) -> Any:
    try:
        return json.loads(message)
    except ValueError:
        return _NOT_JSON


Mutator = Callable[[Message, random.Random, Sequence[Message]], Message]
