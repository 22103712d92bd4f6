"""Dotted paths into alert documents, where keys may hold dots themselves (``group_key``: ``source.ip``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def alert_field(doc: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """Read a dotted path where keys may themselves hold dots (``group_key`` has ``source.ip``)."""
    if path in doc:
        return True, doc[path]
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # longest key first
        head = ".".join(parts[:cut])
        if head in doc:
            child = doc[head]
            if isinstance(child, Mapping):
                return alert_field(child, ".".join(parts[cut:]))
            return False, None
    return False, None
