"""The tables ``bench/load.py`` prints (markdown, for ``docs/benchmarks.md``) and the capacity rule."""

from __future__ import annotations

import math
from typing import Any

P99_LIMIT_MS = 20.0


def passes(r: dict[str, Any]) -> bool:
    return r["failed"] == 0 and r["dropped"] == 0 and r["p99_ms"] <= P99_LIMIT_MS


HEADER = (
    "| server | N calls | lateness p50 / p99 / max ms | late >20 ms | caller hears: silence p99 ms (gaps) | "
    "dropped | failed | server CPU % | CPU ms / call-s | server RSS MB | load-gen CPU % | other CPU % | runs | "
    "ok |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _row(r: dict[str, Any]) -> str:
    gen_note = " (saturated)" if r["gen_cpu_pct"] >= 90 else ""
    return (
        f"| {r['label']} | {r['n']} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} | "
        f"{r['late']} / {r['window_frames']} | {r['heard_p99_ms']:.1f} ({r['gaps']}) | {r['dropped']} | "
        f"{r['failed']} | {r['server_cpu_pct']:.0f} | {r['server_cpu_ms_per_call_s']:.2f} | "
        f"{r['server_rss_mb']:.0f} | {r['gen_cpu_pct']:.0f}{gen_note} | {r['other_cpu_pct']:.0f} | "
        f"{r.get('runs', 1)} | {'yes' if passes(r) else 'no'} |"
    )


def latency_table(results: list[dict[str, Any]]) -> None:
    print(
        "| server | N calls | caller -> engine p50 / p99 ms | engine -> caller p50 / p99 ms | "
        "barge-in: speech_started -> clear at caller, p50 / max ms (n) | "
        "first agent audio after connect p50 ms |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        barge = f"{r['barge_p50_ms']:.1f} / {r['barge_max_ms']:.1f} ({r['barge_n']})" if r["barge_n"] else "-"
        print(
            f"| {r['label']} | {r['n']} | {r['inbound_p50_ms']:.1f} / {r['inbound_p99_ms']:.1f} | "
            f"{r['transit_p50_ms']:.1f} / {r['transit_p99_ms']:.1f} | {barge} | "
            f"{r['first_audio_p50_ms']:.0f} |"
        )


def churn_table(results: list[dict[str, Any]]) -> None:
    print(
        "| server | short calls after warm-up | ok / incomplete / failed | s | RSS after warm-up MB | "
        "RSS growth MB | open files after warm-up -> end | active calls at the end (/health) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['label']} | {r['measured']} (after {r['warmup']}) | {r['ok']} / {r['incomplete']} / "
            f"{r['failed']} | {r['seconds']:.0f} | {r['rss_after_warmup_mb']:.1f} | "
            f"{r['rss_growth_mb']:+.2f} | {r['fds_after_warmup']} -> {r['fds_end']} | "
            f"{r['active_calls_end'] if r['active_calls_end'] is not None else '-'} |"
        )


def memory_table(results: list[dict[str, Any]]) -> None:
    print("| server | N calls | RSS before the first step MB | RSS with N calls MB | RSS per live call KB |")
    print("|---|---|---|---|---|")
    base: dict[str, float] = {}
    for r in results:
        before = base.setdefault(r["label"], r["server_rss_before_mb"])
        per_call = (r["server_rss_mb"] - before) * 1024 / r["n"]
        print(f"| {r['label']} | {r['n']} | {before:.0f} | {r['server_rss_mb']:.0f} | {per_call:.0f} |")


def capacity(results: list[dict[str, Any]]) -> int:
    return max((r["n"] for r in results if passes(r)), default=0)


def cpu_per_call(results: list[dict[str, Any]]) -> float:
    """Median CPU ms per call-second over the passing steps with at least 25 calls."""
    values = sorted(r["server_cpu_ms_per_call_s"] for r in results if passes(r) and r["n"] >= 25)
    if not values:
        values = sorted(r["server_cpu_ms_per_call_s"] for r in results)
    return values[len(values) // 2] if values else math.nan


def summary(results: list[dict[str, Any]]) -> None:
    labels = list(dict.fromkeys(r["label"] for r in results))
    print(
        "| server | capacity: calls on one core (p99 <= 20 ms, no drops) | x bare relay | "
        "CPU ms per call-second | calls per core from CPU (1000 / that) | x bare relay (CPU) |"
    )
    print("|---|---|---|---|---|---|")
    for label in labels:
        rows = [r for r in results if r["label"] == label]
        uv = label.endswith("+uvloop")
        relay = [r for r in results if r["label"] == "relay" + (" +uvloop" if uv else "")]
        relay_cap, relay_cpu = (capacity(relay), cpu_per_call(relay)) if relay else (0, math.nan)
        cap, cpu = capacity(rows), cpu_per_call(rows)
        relay_open = bool(relay) and relay_cap == max(r["n"] for r in relay)
        ratio = (
            f"{cap / relay_cap:.2f}" + (" (relay: ramp ended)" if relay_open else "") if relay_cap else "-"
        )
        cpu_ratio = f"{relay_cpu / cpu:.2f}" if relay and cpu else "-"
        tested = max(r["n"] for r in rows)
        cap_text = f"{cap}" + (" (ramp ended)" if cap == tested else "")
        print(f"| {label} | {cap_text} | {ratio} | {cpu:.2f} | {1000 / cpu:.0f} | {cpu_ratio} |")
    saturated = [r for r in results if r["gen_cpu_pct"] >= 90]
    if saturated:
        print(
            "\nThe load generator saturated its core at N = "
            + ", ".join(f"{r['n']} ({r['label']})" for r in saturated)
            + ": lateness there is partly the generator's; read calls per core from the CPU column."
        )
