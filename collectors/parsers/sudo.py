"""sudo: commands run as another user, and refusals (wrong password, not in sudoers)."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.fields import set_event, set_user

DATASET = "system.auth"
_COMMAND = re.compile(
    r"\s*(?P<user>\S+) : (?:(?P<error>[^;]*?) ; )?TTY=(?P<tty>\S*) ; PWD=(?P<pwd>.*?) ; USER=(?P<target>\S+)"
    r"(?: ; GROUP=(?P<group>\S+))?(?: ; TSID=\S+)?(?: ; ENV=(?P<env>.*?))? ; COMMAND=(?P<command>.*)$",
    re.S,
)


def parse(message: str, doc: dict[str, Any]) -> str | None:
    """``alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id`` and its failures."""
    m = _COMMAND.match(message)
    if m is None:
        return pam.parse(message, doc)
    set_user(doc, m.group("user"))
    doc["user"]["effective"] = {"name": m.group("target")}
    sudo: dict[str, Any] = {"command": m.group("command"), "tty": m.group("tty"), "pwd": m.group("pwd")}
    error = m.group("error")
    if error:
        sudo["error"] = error
        doc["event"]["reason"] = error
        set_event(
            doc, action="sudo_denied", category=("authentication", "process"), type=("denied",), outcome="failure"
        )
    else:
        set_event(doc, action="sudo_command", category=("process",), type=("start",), outcome="success")
    doc["system"] = {"auth": {"sudo": sudo}}
    return DATASET
