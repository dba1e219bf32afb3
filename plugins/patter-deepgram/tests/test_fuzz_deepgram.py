"""Bad input, property-based: the deepgram plugin's parsers of live-results messages from Deepgram drop garbage, never crash.

Targets and their extra properties: :mod:`patter_deepgram.fuzzing`. The long run is ``bench/fuzz.py``.
"""

from __future__ import annotations

from patter_deepgram.fuzzing import fuzz_targets

from patter_core.testing.fuzz import examples_test, fuzz_test

TARGETS = fuzz_targets()

test_fuzz = fuzz_test(TARGETS)
test_examples_are_accepted = examples_test(TARGETS)
