"""Import time of ``patter_core`` and of each installed plugin (fresh interpreter each run).

Reports the median over ``--runs`` of (``python -c "import X"`` - ``python -c "pass"``), so the
interpreter's own start-up is not counted. Run: ``python bench/import_time.py [--runs 15]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

MODULES = [
    ("patter_core", "import patter_core"),
    ("patter_core + a Patter and an Agent", "from patter_core import Patter, Agent"),
    ("patter_core.session (call loop)", "import patter_core.session.call"),
    ("patter_core.server (quart, hypercorn)", "import patter_core.server.host"),
]
PLUGINS = [
    "patter_twilio",
    "patter_telnyx",
    "patter_openai",
    "patter_elevenlabs",
    "patter_deepgram",
    "patter_local",
]


def timed(code: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 runs (nox -s bench -- --quick)")
    args = parser.parse_args()
    if args.quick:
        args.runs = 3
    base = timed("pass", args.runs)
    rows = list(MODULES)
    for plugin in PLUGINS:
        try:
            __import__(plugin)
        except ImportError:
            continue
        rows.append((f"{plugin} (hooks module loaded by discovery)", f"import {plugin}._hooks"))
    print("| import | ms (median, interpreter start-up subtracted) |")
    print("|---|---|")
    for name, code in rows:
        print(f"| `{name}` | {timed(code, args.runs) - base:.0f} |")
    print(f"\n(interpreter start-up: {base:.0f} ms; `python bench/import_time.py --runs {args.runs}`)")


if __name__ == "__main__":
    main()
