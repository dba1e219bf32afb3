"""Fuzz targets: every parser of untrusted input, checked the same way by CI and by ``bench/fuzz.py``.

A :class:`FuzzTarget` names a parser, gives valid example messages (the documented frames of its
protocol) and a factory for a fresh parser instance (``make``: returns a *feed* function taking one
message). The rule every target must obey: **a bad message is rejected or dropped, never anything
else** -- ``feed`` may raise only the target's ``allowed`` exceptions (its documented way to refuse,
e.g. :class:`~patter_core.interfaces.carrier.MalformedFrame`); any other exception, or a failed
property check inside ``feed``, is a bug. Messages are fed as a sequence into one parser instance,
mixed with valid examples, so state carried between messages is exercised too.

Where targets live: the core's in :mod:`patter_core.testing.fuzz_targets`; each plugin's in its own
``<package>.fuzzing`` module, a ``fuzz_targets()`` function. A carrier plugin adds its media dialect
with :func:`dialect_target` in a few lines. :func:`load_targets` collects them by module name.

In tests (hypothesis)::

    @pytest.mark.parametrize("target", fuzz_targets(), ids=lambda t: t.name)
    @hypothesis.given(data=hypothesis.strategies.data())
    def test_fuzz(target, data):
        assert_survives(target, data)
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import random
import traceback
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs

from patter_core.interfaces.carrier import MalformedFrame, MediaDialect
from patter_core.testing.mutate import Message, mutate

__all__ = [
    "FuzzFailure",
    "FuzzTarget",
    "assert_survives",
    "check_fields",
    "dialect_target",
    "examples_test",
    "fuzz_sequence",
    "fuzz_test",
    "load_targets",
    "run_sequence",
]

Feed = Callable[[Message], Any]
"""Parse one message (sync, or returning an awaitable)."""


@attrs.frozen
class FuzzTarget:
    name: str
    examples: tuple[Message, ...]
    make: Callable[[], Feed | Awaitable[Feed]]
    """A fresh parser (called inside a running event loop); returns its feed function."""
    allowed: tuple[type[BaseException], ...] = ()
    """The exceptions that are this parser's documented rejection of bad input."""
    close: Callable[[Feed], Awaitable[None] | None] | None = None
    """Release what ``make`` opened (optional)."""


@attrs.frozen
class FuzzFailure:
    target: str
    message: Message
    error: str
    """The exception and the innermost frames of its traceback."""

    def __str__(self) -> str:
        shown = repr(self.message)
        if len(shown) > 300:
            shown = shown[:300] + f"... ({len(self.message)} long)"
        return f"{self.target}: {shown}\n{self.error}"


def _summary(exc: BaseException) -> str:
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(frames[-4:]).rstrip()


async def run_sequence(target: FuzzTarget, messages: Sequence[Message]) -> list[FuzzFailure]:
    """Feed ``messages`` in order to one fresh parser; the failures (empty when it survived)."""
    failures: list[FuzzFailure] = []
    made = target.make()
    feed: Feed = await made if inspect.isawaitable(made) else made
    try:
        for message in messages:
            try:
                result = feed(message)
                if inspect.isawaitable(result):
                    await result
            except target.allowed:
                continue
            except Exception as exc:  # anything else is the bug being hunted
                failures.append(FuzzFailure(target.name, message, _summary(exc)))
    finally:
        if target.close is not None:
            closed = target.close(feed)
            if inspect.isawaitable(closed):
                await closed
    return failures


def fuzz_sequence(target: FuzzTarget, rnd: random.Random, length: int = 6) -> list[Message]:
    """Mutated messages (mostly) interleaved with valid ones, as a bench run feeds them."""
    out: list[Message] = []
    for _ in range(length):
        example = rnd.choice(target.examples)
        if rnd.random() < 0.25:
            out.append(example)
        else:
            out.append(mutate(example, rnd, target.examples))
    return out


def assert_survives(target: FuzzTarget, data: Any, *, max_messages: int = 5) -> None:
    """Hypothesis glue: draw a sequence of bad messages for ``target`` and require it survives them.

    ``data`` is hypothesis's ``st.data()``. Inputs come from three sources: the mutator driven by a
    hypothesis-controlled ``Random`` (structure-aware), arbitrary JSON values, and arbitrary text or
    bytes.
    """
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children),
        max_leaves=12,
    )
    one = st.one_of(
        st.builds(
            lambda example, rnd: mutate(example, rnd, target.examples),
            st.sampled_from(target.examples),
            st.randoms(use_true_random=False),
        ),
        st.sampled_from(target.examples),
        json_values.map(json.dumps),
        st.text(max_size=200),
        st.binary(max_size=200),
    )
    messages = data.draw(st.lists(one, min_size=1, max_size=max_messages), label="messages")
    failures = asyncio.run(run_sequence(target, messages))
    assert not failures, "\n\n".join(str(f) for f in failures)


def fuzz_test(targets: Sequence[FuzzTarget], *, max_examples: int = 100) -> Callable[..., None]:
    """A pytest test running :func:`assert_survives` on each target (hypothesis, ``max_examples`` each).

    In a test module: ``test_fuzz = fuzz_test(fuzz_targets())``. No example database is written.
    The inputs are the same on every run (a test suite must not fail at random); set
    ``PATTER_FUZZ_EXPLORE=1`` for fresh random inputs each run, and use ``bench/fuzz.py`` for long runs.
    """
    import pytest
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @pytest.mark.parametrize("target", list(targets), ids=lambda t: t.name)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=os.environ.get("PATTER_FUZZ_EXPLORE", "") in ("", "0"),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test(target: FuzzTarget, data: Any) -> None:
        assert_survives(target, data)

    return test  # type: ignore[no-any-return]


def examples_test(targets: Sequence[FuzzTarget]) -> Callable[..., None]:
    """A pytest test checking each target accepts its own documented examples without a failure
    (so a fuzz suite cannot pass by rejecting everything). In a test module:
    ``test_examples_are_accepted = examples_test(fuzz_targets())``."""
    import pytest

    @pytest.mark.parametrize("target", list(targets), ids=lambda t: t.name)
    def test(target: FuzzTarget) -> None:
        assert asyncio.run(run_sequence(target, list(target.examples))) == [], target.name

    return test


# -- helpers for plugin targets -------------------------------------------------------------------


def check_fields(event: object) -> None:
    """Raise ``AssertionError`` unless every field of the attrs ``event`` has its declared type.

    A parser that lets a JSON number through as a transcript, or a list as a tool call's arguments,
    moves the crash downstream, into the session; this catches it at the parser.
    """
    cls = type(event)
    if not attrs.has(cls):
        raise AssertionError(f"emitted {event!r}, not an event object")
    attrs.resolve_types(cls)
    for field in attrs.fields(cls):
        value = getattr(event, field.name)
        expected = field.type
        options = typing.get_args(expected) if isinstance(expected, types.UnionType) else (expected,)
        classes = tuple(o if o is not type(None) else type(None) for o in options if isinstance(o, type))
        if classes and not isinstance(value, classes):
            raise AssertionError(f"{cls.__name__}.{field.name} = {value!r} is not {expected}")
        if float in classes and isinstance(value, bool):
            raise AssertionError(f"{cls.__name__}.{field.name} = {value!r} is a bool, not a number")


def dialect_target(
    name: str, make_dialect: Callable[[], MediaDialect], examples: Sequence[Message]
) -> FuzzTarget:
    """A carrier's media dialect: ``parse`` returns an event or ``None`` or raises ``MalformedFrame``.

    The whole rule for a carrier plugin's fuzz suite is this one line plus its documented frames
    (``connected``, ``start``, ``media``, ``mark``, ``dtmf``, ``stop`` ...) as examples.
    """

    def make() -> Feed:
        return make_dialect().parse

    return FuzzTarget(name=name, examples=tuple(examples), make=make, allowed=(MalformedFrame,))


def load_targets(modules: Sequence[str], *, skip_missing: bool = True) -> list[FuzzTarget]:
    """``fuzz_targets()`` of each module (``patter_openai.fuzzing`` ...); missing plugins are skipped."""
    targets: list[FuzzTarget] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            if skip_missing:
                continue
            raise
        targets.extend(module.fuzz_targets())
    return targets
