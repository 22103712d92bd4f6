"""su: switching user, successful or not (util-linux, shadow-utils and BSD forms)."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.fields import set_event, set_user

DATASET = "system.auth"
_FORMS = (
    # shadow-utils: "Successful su for root by alice", "FAILED su for root by alice"
    re.compile(r"(?P<result>Successful|FAILED) su for (?P<target>\S+) by (?P<user>\S+)$"),
    # "+ pts/0 alice:root" (success) / "- pts/0 alice:root" (failure)
    re.compile(r"(?P<result>[+-]) (?P<tty>\S+) (?P<user>[^\s:]+):(?P<target>\S+)$"),
    # util-linux: "(to root) alice on pts/0", "FAILED SU (to root) alice on pts/0"
    re.compile(r"(?P<result>FAILED SU )?\(to (?P<target>[^)\s]+)\) (?P<user>\S+) on (?P<tty>\S+)$"),
)


def parse(message: str, doc: dict[str, Any]) -> str | None:
    for form in _FORMS:
        m = form.match(message)
        if m is not None:
            result = m.group("result")
            failed = result is not None and result.startswith(("FAILED", "-"))
            set_user(doc, m.group("user"))
            doc["user"]["target"] = {"name": m.group("target")}
            set_event(
                doc,
                action="su",
                category=("authentication",),
                type=("start",),
                outcome="failure" if failed else "success",
            )
            return DATASET
    return pam.parse(message, doc)
