"""pam_unix messages, from any program (sshd, su, sudo, cron, vsftpd, login, ...).

Forms seen in the wild: ``pam_unix(sshd:auth): BODY``, ``pam_unix(auth): BODY``, ``pam_unix: BODY``,
``(pam_unix) BODY`` and, from old Linux-PAM, the module in the tag (``sshd(pam_unix)[pid]: BODY``).
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.fields import endpoint, set_endpoint, set_event, set_user

DATASET = "system.auth"

_PREFIX = re.compile(r"(?:(?P<module>pam_\w+)(?:\((?P<service>[^)]*)\))?:? |\((?P<module2>pam_\w+)\) )")
# ruser is lazy and the tail is anchored, so a user name that contains " rhost=..." cannot move
# the address: the last rhost= that leaves a valid tail wins, and user= can only follow it.
_AUTH_FAILURE = re.compile(
    r"authentication failure; logname=(?P<logname>\S*) uid=(?P<uid>\S*) euid=(?P<euid>\S*) tty=(?P<tty>\S*)"
    r" ruser=(?P<ruser>.*?) rhost=(?P<rhost>\S*)(?:\s+user=(?P<user>.*?))?\s*(?:\[preauth\])?$"
)
_SESSION = re.compile(
    r"session (?P<what>opened|closed) for user (?P<user>\S+?)(?:\(uid=\d+\))?"
    r"(?: by (?P<by>\S*?)(?:\(uid=(?P<uid>\d+)\))?)?\s*$"
)
_MORE_FAILURES = re.compile(r"(?P<n>\d+) more authentication failures?; (?P<rest>.*)$")


def parse_body(body: str, doc: dict[str, Any]) -> str | None:
    """Parse the text after the pam prefix; the dataset when recognised, else None."""
    if body.startswith("authentication failure;"):
        m = _AUTH_FAILURE.match(body)
        if m is None:
            set_event(
                doc, action="authentication_failure", category=("authentication",), type=("info",), outcome="failure"
            )
            return DATASET
        rhost, user, ruser = m.group("rhost", "user", "ruser")  # one call: this is sshd's most common line
        if rhost:
            doc["source"] = endpoint(rhost)
        set_user(doc, user or ruser or None)
        set_event(doc, action="authentication_failure", category=("authentication",), type=("info",), outcome="failure")
        return DATASET
    if body.startswith("session "):
        s = _SESSION.match(body)
        if s is None:
            return None
        set_user(doc, s.group("user"))
        if s.group("what") == "opened":
            set_event(doc, action="session_opened", category=("session",), type=("start",), outcome="success")
        else:
            set_event(doc, action="session_closed", category=("session",), type=("end",), outcome="success")
        return DATASET
    if body.startswith("check pass; user unknown"):
        set_event(doc, action="invalid_user", category=("authentication",), type=("info",), outcome="failure")
        return DATASET
    return None


def parse_more_failures(text: str, doc: dict[str, Any]) -> bool:
    """sshd's ``PAM 2 more authentication failures; logname= ... rhost=H user=U``."""
    m = _MORE_FAILURES.match(text)
    if m is None:
        return False
    tail = _AUTH_FAILURE.match("authentication failure; " + m.group("rest"))
    if tail is not None:
        set_endpoint(doc, "source", tail.group("rhost") or None)
        set_user(doc, tail.group("user") or tail.group("ruser") or None)
    set_event(doc, action="authentication_failure", category=("authentication",), type=("info",), outcome="failure")
    doc["event"]["count"] = int(m.group("n"))
    return True


def parse(message: str, doc: dict[str, Any]) -> str | None:
    """A message that starts with a pam module prefix; the dataset when recognised, else None."""
    m = _PREFIX.match(message)
    if m is None:
        return None
    return parse_body(message[m.end() :], doc)
