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
from collectors.parsers.fields import endpoint, set_endpoint, set_user

DATASET = "system.auth"
AUTH = ("authentication",)
NET = ("network",)
_PRE = r"(?P<pre> \[preauth\])?"
_PORT = r"(?: port (?P<port>\d+))?"

# Classification: (event.action, event.category, event.type, event.outcome).
Classification = tuple[str, tuple[str, ...], tuple[str, ...], "str | None"]
# Fills what a rule's groups alone do not, after the source and user; may return another classification.
Fill = Callable[[re.Match[str], dict[str, Any]], "Classification | None"]


class _Rule:
    """One anchored pattern and what a match means.

    The groups the shared fields come from (``ip``, ``port``, ``user``, ``pre``) are looked up once
    here, by position, so a match costs one ``groups()`` call instead of a ``groupdict()``.
    """

    __slots__ = ("classification", "fill", "ip", "pattern", "port", "pre", "preauth_failure", "user")

    def __init__(
        self,
        pattern: str,
        classification: Classification,
        fill: Fill | None = None,
        *,
        preauth_failure: bool = False,
    ) -> None:
        self.pattern = re.compile(pattern)
        self.classification = classification
        self.fill = fill
        self.preauth_failure = preauth_failure  # a "[preauth]" end means the client never authenticated
        index = self.pattern.groupindex
        self.ip, self.port, self.user, self.pre = (index.get(name, 0) - 1 for name in ("ip", "port", "user", "pre"))
        if preauth_failure and self.pre < 0:
            raise ValueError(f"{pattern!r} has no 'pre' group")


def _apply(rule: _Rule, m: re.Match[str], doc: dict[str, Any]) -> None:
    groups = m.groups()
    if rule.ip >= 0:
        host = groups[rule.ip]
        if host:
            doc["source"] = endpoint(host, groups[rule.port] if rule.port >= 0 else None)
    if rule.user >= 0:
        user = groups[rule.user]
        if user:
            known = doc.get("user")
            if isinstance(known, dict):
                known["name"] = user
            else:
                doc["user"] = {"name": user}
    action, category, type_, outcome = rule.classification
    if rule.fill is not None:
        other = rule.fill(m, doc)
        if other is not None:
            action, category, type_, outcome = other
    if rule.preauth_failure and groups[rule.pre]:
        outcome = "failure"  # the client went away before authenticating
    ev = doc["event"]
    ev["action"] = action
    ev["category"] = list(category)  # a fresh list per event: later stages may extend it
    ev["type"] = list(type_)
    if outcome is not None:
        ev["outcome"] = outcome


_LOGIN_OK: Classification = ("ssh_login", AUTH, ("start",), "success")
_LOGIN_FAILED: Classification = ("ssh_login", AUTH, ("start",), "failure")


def _login(m: re.Match[str], doc: dict[str, Any]) -> Classification:
    verb, method = m.group("verb", "method")
    doc["system"] = {"auth": {"ssh": {"method": method}}}
    return _LOGIN_OK if verb == "Accepted" else _LOGIN_FAILED


_TOO_MANY = "Too many authentication failures"


def _disconnecting(m: re.Match[str], doc: dict[str, Any]) -> Classification | None:
    reason = m.group("reason")
    doc["event"]["reason"] = reason
    if reason.startswith(_TOO_MANY):
        tail = reason[len(_TOO_MANY) :]
        if tail.startswith(" for ") and "user" not in doc:
            set_user(doc, tail[5:].removeprefix("invalid user "))
        return ("ssh_max_auth_attempts", AUTH, ("info",), "failure")
    return None


def _connection_from(m: re.Match[str], doc: dict[str, Any]) -> None:
    dip, dport = m.group("dip", "dport")
    if dip:
        set_endpoint(doc, "destination", dip, dport)


def _break_in(m: re.Match[str], doc: dict[str, Any]) -> None:
    domain = m.group("domain")
    if "source" in doc and domain:
        doc["source"]["domain"] = domain.rstrip(".").lower()  # the name the address claims (unverified)


_DISCONNECT: Classification = ("ssh_disconnect", NET, ("connection", "end"), None)
_SCAN: Classification = ("ssh_protocol_error", NET, ("connection", "denied"), "failure")
_DENIED: Classification = ("ssh_login_denied", AUTH, ("info",), "failure")
_INVALID_USER: Classification = ("invalid_user", AUTH, ("info",), "failure")
_AUTH_FAILURE: Classification = ("ssh_login", AUTH, ("start",), "failure")
_BREAK_IN: Classification = ("ssh_break_in_attempt", ("intrusion_detection",), ("info",), "failure")
_login_rule = [
    _Rule(
        r"(?P<verb>Accepted|Failed) (?P<method>\S+) for (?:invalid user )?(?P<user>.*?) from (?P<ip>\S+)"
        + _PORT
        + r"(?: ssh\d?)?(?:: (?P<info>.*))?$",
        _LOGIN_FAILED,
        _login,
    )
]

RULES: dict[str, list[_Rule]] = {
    "Accepted": _login_rule,
    "Failed": _login_rule,
    "Invalid": [_Rule((r"Invalid user (?P<user>.*?) from (?P<ip>\S+)" + _PORT + r"\s*$"), _INVALID_USER)],
    "input_userauth_request:": [
        _Rule((r"input_userauth_request: invalid user (?P<user>.*?)" + _PRE + "$"), _INVALID_USER)
    ],
    "User": [
        _Rule((r"User (?P<user>.*?) from (?P<ip>\S+) not allowed because (?P<reason>.*)$"), _DENIED),
        _Rule((r"User (?P<user>\S+) not allowed because (?P<reason>.*)$"), _DENIED),
    ],
    "ROOT": [_Rule((r"ROOT LOGIN REFUSED FROM (?P<ip>\S+)" + _PORT + _PRE + "$"), _DENIED)],
    "refused": [
        _Rule(
            (r"refused connect from (?P<who>.*) \((?P<ip>[^()\s]+)\)$"),
            ("ssh_connection_refused", NET, ("connection", "denied"), "failure"),
        )
    ],
    "PAM:": [
        _Rule(
            (
                r"PAM: (?:[Aa]uthentication (?:failure|error)|User not known to the underlying authentication module)"
                r" for (?:illegal user |invalid user )?(?P<user>.*?) from (?P<ip>\S+)(?: via \S+)?\s*$"
            ),
            _AUTH_FAILURE,
        )
    ],
    "Received": [
        _Rule(
            (r"Received disconnect from (?P<ip>\S+?)" + _PORT + r": ?(?P<code>\d+): (?P<reason>.*?)" + _PRE + "$"),
            _DISCONNECT,
            preauth_failure=True,
        )
    ],
    "Connection": [
        _Rule(
            (
                r"Connection (?:closed|reset) by (?:(?:authenticating|invalid) user (?P<user>.*?) )?(?P<ip>\S+)"
                + _PORT
                + _PRE
                + "$"
            ),
            _DISCONNECT,
            preauth_failure=True,
        ),
        _Rule(
            (r"Connection from (?P<ip>\S+) port (?P<port>\d+)(?: on (?P<dip>\S+) port (?P<dport>\d+))?"),
            ("ssh_connection", NET, ("connection", "start"), None),
            _connection_from,
        ),
    ],
    "Disconnected": [
        _Rule(
            (
                r"Disconnected from (?:(?:authenticating |invalid )?user (?P<user>.*?) )?(?P<ip>\S+)"
                + _PORT
                + _PRE
                + "$"
            ),
            _DISCONNECT,
            preauth_failure=True,
        )
    ],
    "Disconnecting": [
        _Rule(
            (
                r"Disconnecting(?::| (?:(?:authenticating|invalid) user (?P<user>.*?) )?(?P<ip>\S+)"
                + _PORT
                + r":) (?P<reason>.*?)"
                + _PRE
                + "$"
            ),
            ("ssh_disconnect", NET, ("connection", "end"), "failure"),
            _disconnecting,
        )
    ],
    "maximum": [
        _Rule(
            (
                r"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?) from (?P<ip>\S+)"
                + _PORT
                + r"(?: ssh\d?)?"
                + _PRE
                + "$"
            ),
            ("ssh_max_auth_attempts", AUTH, ("info",), "failure"),
        )
    ],
    "Did": [
        _Rule(
            (r"Did not receive identification string from (?P<ip>\S+)" + _PORT + "$"),
            ("ssh_no_identification", NET, ("connection", "denied"), "failure"),
        )
    ],
    "Bad": [_Rule((r"Bad protocol version identification '(?P<ident>.*)' from (?P<ip>\S+)" + _PORT + "$"), _SCAN)],
    "banner": [_Rule((r"banner exchange: Connection from (?P<ip>\S+) port (?P<port>\d+): (?P<r>.*)$"), _SCAN)],
    "ssh_dispatch_run_fatal:": [
        _Rule((r"ssh_dispatch_run_fatal: Connection from (?P<ip>\S+) port (?P<port>\d+): (?P<r>.*)$"), _SCAN)
    ],
    "Timeout": [
        _Rule(
            (
                r"Timeout before authentication for (?:connection from )?(?P<ip>[^\s,]+?)"
                + _PORT
                + r"(?: to \S+, pid = \d+)?$"
            ),
            ("ssh_auth_timeout", AUTH, ("info",), "failure"),
        )
    ],
    "Unable": [
        _Rule(
            (r"Unable to negotiate with (?P<ip>\S+) port (?P<port>\d+): (?P<reason>.*?)" + _PRE + "$"),
            ("ssh_negotiation_failed", NET, ("connection", "denied"), "failure"),
        )
    ],
    "reverse": [
        _Rule(
            (
                r"reverse mapping checking getaddrinfo for (?P<domain>\S+) \[(?P<ip>[^\]\s]+)\] failed"
                r"(?: - POSSIBLE BREAK-IN ATTEMPT!?)?$"
            ),
            _BREAK_IN,
            _break_in,
        )
    ],
    "Address": [
        _Rule(
            (
                r"Address (?P<ip>\S+) maps to (?P<domain>[^\s,]+), but this does not map back to the address"
                r"(?: - POSSIBLE BREAK-IN ATTEMPT!?)?$"
            ),
            _BREAK_IN,
            _break_in,
        )
    ],
    "Postponed": [
        _Rule(
            (r"Postponed (?P<method>\S+) for (?P<user>.*?) from (?P<ip>\S+)" + _PORT + r"(?: ssh\d?)?" + _PRE),
            ("ssh_login_postponed", AUTH, ("info",), None),
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
        for rule in rules:
            m = rule.pattern.match(text)
            if m is not None:
                _apply(rule, m, doc)
                return DATASET
        return DATASET
    if first.startswith("pam_") or first == "(pam_unix)":
        pam.parse(text, doc)
    elif first == "PAM":
        pam.parse_more_failures(text[4:], doc)
    return DATASET
