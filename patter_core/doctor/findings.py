"""What ``patter-core doctor`` reports: a :class:`Finding` per check, and the options of a run."""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ["DoctorOptions", "Finding", "Status", "exit_code", "is_set"]


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@attrs.frozen
class Finding:
    """One line of the report: what was checked, how it went, and how to fix it."""

    check: str
    status: Status
    summary: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": str(self.status), "summary": self.summary, "fix": self.fix}


@attrs.define(kw_only=True)
class DoctorOptions:
    """What to check; the CLI fills it from its options and the environment."""

    target: str | None = None
    """``MODULE:ATTR`` of the agent (or factory) to build, as ``patter-core serve`` takes it."""
    carrier: str | None = None
    webhook_url: str | None = None
    host: str = "0.0.0.0"
    port: int = 8000
    env_file: str = ".env"
    offline: bool = False
    """Skip every network check (DNS, /health, the carrier's API)."""
    timeout: float = 5.0
    """Seconds allowed to each network check."""
    health_scheme: str = "https"
    """``https`` as carriers reach the server; tests point it at a local plain-HTTP server."""


def exit_code(findings: Sequence[Finding]) -> int:
    """0 when nothing failed, 1 otherwise (warnings and unchecked lines do not fail a run)."""
    return 1 if any(f.status is Status.FAIL for f in findings) else 0


def is_set(key: str) -> bool:
    """Whether the environment variable has a non-blank value (never reads it out anywhere)."""
    return bool(os.environ.get(key, "").strip())
