"""Bad input, property-based: the openai plugin's parsers of OpenAI Realtime events and streamed responses drop garbage, never crash.

Targets and their extra properties: :mod:`patter_openai.fuzzing`. The long run is ``bench/fuzz.py``.
"""

from __future__ import annotations

from patter_openai.fuzzing import fuzz_targets

from patter_core.testing.fuzz import examples_test, fuzz_test

TARGETS = fuzz_targets()

test_fuzz = fuzz_test(TARGETS)
test_examples_are_accepted = examples_test(TARGETS)
