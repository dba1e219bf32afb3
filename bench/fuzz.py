"""The long fuzz run (not in CI): every parser of untrusted input, 100,000+ cases in total.

Run ``python bench/fuzz.py`` (default: 120,000 cases spread over the targets, seed 1). It feeds each
target sequences of mutated valid messages (:mod:`patter_core.testing.mutate`) mixed with valid ones,
exactly as the CI property tests do but many more of them, and prints a markdown table: cases tried
per target, failures (a failure is any exception other than the target's documented rejection, or a
broken property such as "a tampered token never verifies"), and the rate. The first failing case of
each kind is printed in full so it can be turned into a regression test. Exit status 1 on failures.

Options: ``--cases N`` (total), ``--seed S``, ``--only NAME[,NAME]``, ``--sequence L`` (messages per
parser instance). Carrier plugins add their module to :data:`MODULES`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import platform
import random
import sys
import time

if importlib.util.find_spec("patter_core") is None:  # run from a checkout without an install
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from patter_core.testing.fuzz import FuzzFailure, FuzzTarget, fuzz_sequence, load_targets, run_sequence

MODULES = [
    "patter_core.testing.fuzz_targets",
    "patter_openai.fuzzing",
    "patter_elevenlabs.fuzzing",
    "patter_deepgram.fuzzing",
    "patter_local.fuzzing",
    "patter_twilio.fuzzing",
    "patter_telnyx.fuzzing",
]
"""Where ``fuzz_targets()`` live; a module that is not installed is skipped (and reported)."""


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the parent package is not installed
        return False


async def fuzz_target(
    target: FuzzTarget, cases: int, seed: int, length: int
) -> tuple[int, list[FuzzFailure], float]:
    rnd = random.Random(f"{seed}:{target.name}")
    failures: list[FuzzFailure] = []
    done = 0
    started = time.perf_counter()
    while done < cases:
        messages = fuzz_sequence(target, rnd, length=min(length, cases - done))
        failures += await run_sequence(target, messages)
        done += len(messages)
    return done, failures, time.perf_counter() - started


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=120_000, help="total cases over all targets")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated target names")
    parser.add_argument("--sequence", type=int, default=6, help="messages fed to one parser instance")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # dropped-frame warnings by the hundred thousand are not the point

    targets = load_targets(MODULES)
    if args.only:
        wanted = set(args.only.split(","))
        targets = [t for t in targets if t.name in wanted]
    missing = [m for m in MODULES if not _importable(m)]
    per_target = max(1, args.cases // max(1, len(targets)))
    print(
        f"fuzzing {len(targets)} targets, {per_target} cases each, seed {args.seed} "
        f"(Python {platform.python_version()}, {platform.machine()})\n"
    )
    print("| target | cases | failures | cases/s |")
    print("|---|---:|---:|---:|")
    total, total_failures, examples = 0, 0, []
    started = time.perf_counter()
    for target in targets:
        done, failures, seconds = await fuzz_target(target, per_target, args.seed, args.sequence)
        total += done
        total_failures += len(failures)
        print(f"| `{target.name}` | {done:,} | {len(failures)} | {done / seconds:,.0f} |", flush=True)
        kinds: set[str] = set()
        for failure in failures:
            kind = failure.error.splitlines()[-1][:80]
            if kind not in kinds:
                kinds.add(kind)
                examples.append(failure)
    elapsed = time.perf_counter() - started
    print(f"| **total** | **{total:,}** | **{total_failures}** | {total / elapsed:,.0f} ({elapsed:.0f} s) |")
    if missing:
        print(f"\n(not installed, skipped: {', '.join(missing)})")
    print(f"\n(`python bench/fuzz.py --cases {args.cases} --seed {args.seed}`)")
    for failure in examples:
        print(f"\n--- first failure of its kind ---\n{failure}")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
