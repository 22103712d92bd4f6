"""cron commands and crontab edits."""

from __future__ import annotations

from typing import Any

from collectors.parsers import cron


def blank() -> dict[str, Any]:
    return {"event": {}, "log": {}}


def test_command() -> None:
    doc = blank()
    assert cron.parse("(root) CMD (   cd / && run-parts --report /etc/cron.hourly)", doc) == "system.syslog"
    assert doc["user"]["name"] == "root"
    assert doc["process"]["command_line"] == "   cd / && run-parts --report /etc/cron.hourly"
    assert doc["event"]["action"] == "cron_command"


def test_crontab_edit_and_pam() -> None:
    doc = blank()
    cron.parse("(alice) REPLACE (alice)", doc)
    assert doc["event"]["action"] == "crontab_replace"
    assert doc["event"]["category"] == ["configuration"]
    doc = blank()
    assert cron.parse("pam_unix(cron:session): session closed for user root", doc) == "system.auth"
    assert cron.parse("(CRON) INFO (pidfile fd = 3)", blank()) is None
