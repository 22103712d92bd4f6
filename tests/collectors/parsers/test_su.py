"""su in its several formats."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.parsers import su


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("Successful su for root by alice", "success"),
        ("FAILED su for root by alice", "failure"),
        ("+ pts/0 alice:root", "success"),
        ("- pts/0 alice:root", "failure"),
        ("(to root) alice on pts/0", "success"),
        ("FAILED SU (to root) alice on pts/0", "failure"),
    ],
)
def test_su_forms(message: str, outcome: str) -> None:
    doc: dict[str, Any] = {"event": {}, "log": {}}
    assert su.parse(message, doc) == "system.auth"
    assert doc["user"] == {"name": "alice", "target": {"name": "root"}}
    assert doc["event"]["outcome"] == outcome
    assert doc["event"]["action"] == "su"


def test_su_pam_and_unknown() -> None:
    doc: dict[str, Any] = {"event": {}, "log": {}}
    assert su.parse("pam_unix(su:session): session opened for user news by (uid=0)", doc) == "system.auth"
    assert doc["user"]["name"] == "news"
    assert su.parse("something", {"event": {}, "log": {}}) is None
