"""Severity names and their order: alerts carry Sigma levels, incidents the four SLA severities."""

from __future__ import annotations

from typing import Literal

LEVELS: dict[str, int] = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
SeverityName = Literal["low", "medium", "high", "critical"]


def level_rank(severity: object) -> int:
    """Rank of an alert or incident severity; an unknown level ranks lowest."""
    return LEVELS.get(str(getattr(severity, "value", severity)).lower(), 0)
