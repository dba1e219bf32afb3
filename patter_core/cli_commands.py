"""Built-in commands beyond ``list-plugins``: filled in as features land (serve, demo, doctor)."""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the built-in commands to ``commands`` (a :class:`patter_core.cli.CommandRegistry`)."""
