"""The fallback for syslog messages no program parser claims: header fields only."""

from __future__ import annotations

from typing import Any

DATASET = "system.syslog"


def parse(message: str, doc: dict[str, Any]) -> str | None:
    """Nothing beyond the header is known; the event stays searchable by ``message``."""
    return DATASET
