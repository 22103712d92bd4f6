"""The generic fallback."""

from __future__ import annotations

from typing import Any

from collectors.parsers import generic


def test_generic_adds_nothing_and_names_the_dataset() -> None:
    doc: dict[str, Any] = {"event": {}, "log": {}}
    assert generic.parse("anything at all", doc) == "system.syslog"
    assert doc == {"event": {}, "log": {}}
