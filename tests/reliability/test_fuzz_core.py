"""Bad input, property-based: every parser of the core rejects or drops garbage, never anything else.

The targets (and what each checks beyond "does not raise") are in
:mod:`patter_core.testing.fuzz_targets`; ``bench/fuzz.py`` runs the same targets 100,000+ times.
"""

from __future__ import annotations

import asyncio
import random

from patter_core.testing.fuzz import FuzzTarget, fuzz_sequence, fuzz_test, run_sequence
from patter_core.testing.fuzz_targets import fuzz_targets

TARGETS = fuzz_targets()

test_fuzz = fuzz_test(TARGETS)


def test_every_target_accepts_its_own_examples() -> None:
    """The examples are valid: a target that rejected them would make the fuzzing meaningless."""
    for target in TARGETS:
        assert asyncio.run(run_sequence(target, list(target.examples))) == [], target.name


def test_the_mutator_is_reproducible_from_its_seed() -> None:
    target: FuzzTarget = TARGETS[0]
    first = fuzz_sequence(target, random.Random(7), length=50)
    assert first == fuzz_sequence(target, random.Random(7), length=50)
    assert any(m not in target.examples for m in first)
