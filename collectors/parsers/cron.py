"""cron: commands run by the scheduler and crontab changes (Vixie cron, cronie)."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.fields import set_event, set_user

DATASET = "system.syslog"
_CMD = re.compile(r"\((?P<user>[^)\s]+)\) CMD \((?P<command>.*)\)\s*$", re.S)
_EDIT = re.compile(r"\((?P<user>[^)\s]+)\) (?P<what>RELOAD|REPLACE|BEGIN EDIT|END EDIT|LIST|DELETE) \((?P<arg>.*)\)$")


def parse(message: str, doc: dict[str, Any]) -> str | None:
    m = _CMD.match(message)
    if m is not None:
        set_user(doc, m.group("user"))
        doc.setdefault("process", {})["command_line"] = m.group("command")
        set_event(doc, action="cron_command", category=("process",), type=("start",))
        return DATASET
    e = _EDIT.match(message)
    if e is not None:
        set_user(doc, e.group("user"))
        action = "crontab_" + e.group("what").lower().replace(" ", "_")
        set_event(doc, action=action, category=("configuration",), type=("change",))
        return DATASET
    return pam.parse(message, doc)
