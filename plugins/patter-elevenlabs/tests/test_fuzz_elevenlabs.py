"""Bad input, property-based: the elevenlabs plugin's parsers of server input drop garbage, never crash.

Targets and their extra properties: :mod:`patter_elevenlabs.fuzzing`. The long run is ``bench/fuzz.py``.
"""

from __future__ import annotations

import asyncio

from patter_elevenlabs.fuzzing import fuzz_targets

from patter_core.testing.fuzz import fuzz_test, run_sequence

TARGETS = fuzz_targets()

test_fuzz = fuzz_test(TARGETS)


def test_examples_are_accepted() -> None:
    for target in TARGETS:
        assert asyncio.run(run_sequence(target, list(target.examples))) == [], target.name
