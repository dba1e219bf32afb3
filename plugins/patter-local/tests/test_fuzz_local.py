"""Bad input, property-based: the embedded brain of the local plugin takes any caller text, never crashes.

Targets and their extra properties: :mod:`patter_local.fuzzing`. The long run is ``bench/fuzz.py``.
"""

from __future__ import annotations

from patter_local.fuzzing import fuzz_targets

from patter_core.testing.fuzz import examples_test, fuzz_test

TARGETS = fuzz_targets()

test_fuzz = fuzz_test(TARGETS, max_examples=40)  # the brain is slow on huge turns
test_examples_are_accepted = examples_test(TARGETS)
