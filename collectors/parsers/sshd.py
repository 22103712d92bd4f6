"""OpenSSH server messages: logins, invalid users, disconnects, scans and break-in warnings.

Dispatch is by the message's first word (one dict lookup), then one anchored regex. User names
are attacker-controlled: patterns take the user lazily and anchor the tail, so a name such as
``x from 10.0.0.1 port 1 ssh2`` cannot change the recorded source address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.parsers import pam
from collectors.parsers.fields import set_endpoint, set_event, set_user

DATASET = "system.auth"
AUTH = ("authentication",)
NET = ("network",)
_PRE = r"(?P<pre> \[preauth\])?"
_PORT = r"(?: port (?P<port>\d+))?"

Handler = Callable[[re.Match[str], dict[str, Any]], None]


def _fill(m: re.Match[str], doc: dict[str, Any]) -> None:
    groups = m.groupdict()
    set_endpoint(doc, "source", groups.get("ip"), groups.get("port"))
    user = groups.get("user")
    if user is not None:
        set_user(doc, user)


def _rule(
    action: str, category: tuple[str, ...], type_: tuple[str, ...], outcome: str | None, preauth_failure: bool = False
) -> Handler:
    def handle(m: re.Match[str], doc: dict[str, Any]) -> None:
        _fill(m, doc)
        out = outcome
        if preauth_failure and m.groupdict().get("pre"):
            out = "failure"  # the client went away before authenticating
        set_event(doc, action=action, category=category, type=type_, outcome=out)

    return handle


def _login(m: re.Match[str], doc: dict[str, Any]) -> None:
    _fill(m, doc)
    success = m.group("verb") == "Accepted"
    doc["system"] = {"auth": {"ssh": {"method": m.group("method")}}}
    set_event(doc, action="ssh_login", category=AUTH, type=("start",), outcome="success" if success else "failure")


def _disconnecting(m: re.Match[str], doc: dict[str, Any]) -> None:
    _fill(m, doc)
    reason = m.group("reason")
    doc["event"]["reason"] = reason
    if reason.startswith("Too many authentication failures"):
        tail = reason[len("Too many authentication failures") :]
        if tail.startswith(" for ") and "user" not in doc:
            set_user(doc, tail[5:].removeprefix("invalid user "))
        set_event(doc, action="ssh_max_auth_attempts", category=AUTH, type=("info",), outcome="failure")
    else:
        set_event(doc, action="ssh_disconnect", category=NET, type=("connection", "end"), outcome="failure")


def _connection_from(m: re.Match[str], doc: dict[str, Any]) -> None:
    _fill(m, doc)
    if m.group("dip"):
        set_endpoint(doc, "destination", m.group("dip"), m.group("dport"))
    set_event(doc, action="ssh_connection", category=NET, type=("connection", "start"))


_login_rule: list[tuple[re.Pattern[str], Handler]] = [
    (
        re.compile(
            r"(?P<verb>Accepted|Failed) (?P<method>\S+) for (?:invalid user )?(?P<user>.*?) from (?P<ip>\S+)"
            + _PORT
            + r"(?: ssh\d?)?(?:: (?P<info>.*))?$"
        ),
        _login,
    )
]
_disconnect = _rule("ssh_disconnect", NET, ("connection", "end"), None, preauth_failure=True)
_scan = _rule("ssh_protocol_error", NET, ("connection", "denied"), "failure")


def _break_in(m: re.Match[str], doc: dict[str, Any]) -> None:
    _fill(m, doc)
    domain = m.group("domain")
    if "source" in doc and domain:
        doc["source"]["domain"] = domain.rstrip(".").lower()  # the name the address claims (unverified)
    set_event(doc, action="ssh_break_in_attempt", category=("intrusion_detection",), type=("info",), outcome="failure")


_denied = _rule("ssh_login_denied", AUTH, ("info",), "failure")
_invalid_user = _rule("invalid_user", AUTH, ("info",), "failure")
_auth_failure = _rule("ssh_login", AUTH, ("start",), "failure")

RULES: dict[str, list[tuple[re.Pattern[str], Handler]]] = {
    "Accepted": _login_rule,
    "Failed": _login_rule,
    "Invalid": [(re.compile(r"Invalid user (?P<user>.*?) from (?P<ip>\S+)" + _PORT + r"\s*$"), _invalid_user)],
    "input_userauth_request:": [
        (re.compile(r"input_userauth_request: invalid user (?P<user>.*?)" + _PRE + "$"), _invalid_user)
    ],
    "User": [
        (re.compile(r"User (?P<user>.*?) from (?P<ip>\S+) not allowed because (?P<reason>.*)$"), _denied),
        (re.compile(r"User (?P<user>\S+) not allowed because (?P<reason>.*)$"), _denied),
    ],
    "ROOT": [(re.compile(r"ROOT LOGIN REFUSED FROM (?P<ip>\S+)" + _PORT + _PRE + "$"), _denied)],
    "refused": [
        (
            re.compile(r"refused connect from (?P<who>.*) \((?P<ip>[^()\s]+)\)$"),
            _rule("ssh_connection_refused", NET, ("connection", "denied"), "failure"),
        )
    ],
    "PAM:": [
        (
            re.compile(
                r"PAM: (?:[Aa]uthentication (?:failure|error)|User not known to the underlying authentication module)"
                r" for (?:illegal user |invalid user )?(?P<user>.*?) from (?P<ip>\S+)(?: via \S+)?\s*$"
            ),
            _auth_failure,
        )
    ],
    "Received": [
        (
            re.compile(
                r"Received disconnect from (?P<ip>\S+?)" + _PORT + r": ?(?P<code>\d+): (?P<reason>.*?)" + _PRE + "$"
            ),
            _disconnect,
        )
    ],
    "Connection": [
        (
            re.compile(
                r"Connection (?:closed|reset) by (?:(?:authenticating|invalid) user (?P<user>.*?) )?(?P<ip>\S+)"
                + _PORT
                + _PRE
                + "$"
            ),
            _disconnect,
        ),
        (
            re.compile(r"Connection from (?P<ip>\S+) port (?P<port>\d+)(?: on (?P<dip>\S+) port (?P<dport>\d+))?"),
            _connection_from,
        ),
    ],
    "Disconnected": [
        (
            re.compile(
                r"Disconnected from (?:(?:authenticating |invalid )?user (?P<user>.*?) )?(?P<ip>\S+)"
                + _PORT
                + _PRE
                + "$"
            ),
            _disconnect,
        )
    ],
    "Disconnecting": [
        (
            re.compile(
                r"Disconnecting(?::| (?:(?:authenticating|invalid) user (?P<user>.*?) )?(?P<ip>\S+)"
                + _PORT
                + r":) (?P<reason>.*?)"
                + _PRE
                + "$"
            ),
            _disconnecting,
        )
    ],
    "maximum": [
        (
            re.compile(
                r"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?) from (?P<ip>\S+)"
                + _PORT
                + r"(?: ssh\d?)?"
                + _PRE
                + "$"
            ),
            _rule("ssh_max_auth_attempts", AUTH, ("info",), "failure"),
        )
    ],
    "Did": [
        (
            re.compile(r"Did not receive identification string from (?P<ip>\S+)" + _PORT + "$"),
            _rule("ssh_no_identification", NET, ("connection", "denied"), "failure"),
        )
    ],
    "Bad": [(re.compile(r"Bad protocol version identification '(?P<ident>.*)' from (?P<ip>\S+)" + _PORT + "$"), _scan)],
    "banner": [(re.compile(r"banner exchange: Connection from (?P<ip>\S+) port (?P<port>\d+): (?P<r>.*)$"), _scan)],
    "ssh_dispatch_run_fatal:": [
        (re.compile(r"ssh_dispatch_run_fatal: Connection from (?P<ip>\S+) port (?P<port>\d+): (?P<r>.*)$"), _scan)
    ],
    "Timeout": [
        (
            re.compile(
                r"Timeout before authentication for (?:connection from )?(?P<ip>[^\s,]+?)"
                + _PORT
                + r"(?: to \S+, pid = \d+)?$"
            ),
            _rule("ssh_auth_timeout", AUTH, ("info",), "failure"),
        )
    ],
    "Unable": [
        (
            re.compile(r"Unable to negotiate with (?P<ip>\S+) port (?P<port>\d+): (?P<reason>.*?)" + _PRE + "$"),
            _rule("ssh_negotiation_failed", NET, ("connection", "denied"), "failure"),
        )
    ],
    "reverse": [
        (
            re.compile(
                r"reverse mapping checking getaddrinfo for (?P<domain>\S+) \[(?P<ip>[^\]\s]+)\] failed"
                r"(?: - POSSIBLE BREAK-IN ATTEMPT!?)?$"
            ),
            _break_in,
        )
    ],
    "Address": [
        (
            re.compile(
                r"Address (?P<ip>\S+) maps to (?P<domain>[^\s,]+), but this does not map back to the address"
                r"(?: - POSSIBLE BREAK-IN ATTEMPT!?)?$"
            ),
            _break_in,
        )
    ],
    "Postponed": [
        (
            re.compile(
                r"Postponed (?P<method>\S+) for (?P<user>.*?) from (?P<ip>\S+)" + _PORT + r"(?: ssh\d?)?" + _PRE
            ),
            _rule("ssh_login_postponed", AUTH, ("info",), None),
        )
    ],
}
RULES["Disconnecting:"] = RULES["Disconnecting"]
_REPEATED = re.compile(r"message repeated (?P<n>\d+) times: \[ ?(?P<inner>.*?) ?\]$")


def parse(message: str, doc: dict[str, Any]) -> str | None:
    """Fill ECS fields from one sshd message; the dataset (always system.auth for sshd)."""
    text = message
    if text.startswith(("error: ", "fatal: ")):
        doc["log"]["level"] = text[:5]
        text = text[7:]
    elif text.startswith("message repeated "):
        r = _REPEATED.match(text)
        if r is not None:
            text = r.group("inner")
            doc["event"]["count"] = int(r.group("n"))
    first = text.split(" ", 1)[0]
    rules = RULES.get(first)
    if rules is not None:
        for pattern, handler in rules:
            m = pattern.match(text)
            if m is not None:
                handler(m, doc)
                return DATASET
        return DATASET
    if first.startswith("pam_") or first == "(pam_unix)":
        pam.parse(text, doc)
    elif first == "PAM":
        pam.parse_more_failures(text[4:], doc)
    return DATASET
