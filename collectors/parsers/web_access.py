"""nginx and Apache access logs: the Common and Combined Log Formats (and vhost-prefixed variants).

Both servers write the same format, so the dataset (``nginx.access`` or ``apache.access``) comes
from the source: the file's configured dataset, the syslog program, or the file path.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from collectors.parsers.fields import set_endpoint, set_event, set_user
from collectors.parsers.syslog_header import MONTHS

_QUOTED = r"\"((?:[^\"\\]|\\.)*)\""
_ACCESS = re.compile(
    r"(?:(?P<vhost>[^\s\[\]\"]+(?::\d+)?) )??"  # Apache's "vhost_combined" puts the virtual host first
    r"(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    + _QUOTED.replace("(", "(?P<request>", 1)
    + r" (?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r"(?: " + _QUOTED.replace("(", "(?P<referrer>", 1) + " " + _QUOTED.replace("(", "(?P<agent>", 1) + r")?"
    r"(?P<rest>.*)$",
    re.S,
)
_CLF_TIME = re.compile(
    r"(\d{1,2})/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?(?: ([+-])(\d\d):?(\d\d))? *$"
)
AUTH_WEB = ("authentication", "web")  # a web login's categories: brute-force rules key on authentication
_REQUEST = re.compile(r"(?P<method>[A-Za-z]+) (?P<target>\S+)(?: HTTP/(?P<version>[\d.]+))?$")


@lru_cache(maxsize=256)
def _offset(sign: str, hours: str, minutes: str) -> timezone:
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def parse_clf_time(text: str) -> datetime | None:
    """``10/Oct/2000:13:55:36 -0700`` as an aware datetime (the log carries its own zone); naive (the
    institution's zone applies) when a custom ``LogFormat`` left the zone out."""
    m = _CLF_TIME.match(text)
    if m is None or m.group(2) not in MONTHS:
        return None
    day, mon, year, hh, mi, ss, frac, sign, oh, om = m.groups()
    try:
        return datetime(
            int(year),
            MONTHS[mon],
            int(day),
            int(hh),
            int(mi),
            int(ss),
            int(frac.ljust(6, "0")) if frac else 0,
            tzinfo=_offset(sign, oh, om) if sign else None,
        )
    except ValueError:
        return None


def set_request(doc: dict[str, Any], request: str) -> None:
    """Split an HTTP request line into ``http.request.method``, ``url.*`` and ``http.version``."""
    m = _REQUEST.match(request)
    if m is None:
        return
    http = doc.setdefault("http", {})
    http.setdefault("request", {})["method"] = m.group("method").upper()
    if m.group("version"):
        http["version"] = m.group("version")
    target = m.group("target")
    url: dict[str, Any] = {"original": target}
    path, sep, query = target.partition("?")
    url["path"] = path
    if sep:
        url["query"] = query
    doc["url"] = url


def parse_access(line: str, doc: dict[str, Any]) -> datetime | None:
    """Fill ECS fields from one access-log line; its timestamp, or None when it is not one."""
    m = _ACCESS.match(line)
    if m is None:
        return None
    ts = parse_clf_time(m.group("time"))
    if ts is None:
        return None
    set_endpoint(doc, "source", m.group("client"))
    user = m.group("user")
    if user != "-":
        set_user(doc, user)
    set_request(doc, m.group("request"))
    http = doc.setdefault("http", {})
    response: dict[str, Any] = {}
    status = m.group("status")
    if status != "-":
        response["status_code"] = int(status)
    size = m.group("bytes")
    if size != "-":
        response["body"] = {"bytes": int(size)}
    if response:
        http["response"] = response
    referrer = m.group("referrer")
    if referrer and referrer != "-":
        http.setdefault("request", {})["referrer"] = referrer
    agent = m.group("agent")
    if agent and agent != "-":
        doc["user_agent"] = {"original": agent}
    if m.group("vhost"):
        doc.setdefault("destination", {})["domain"] = m.group("vhost").rsplit(":", 1)[0]
    if status == "401" and user != "-":
        # Credentials were sent and refused (without a user it is only the challenge): a failed login.
        set_event(doc, action="http_auth_failed", category=AUTH_WEB, type=("start",), outcome="failure")
        return ts
    outcome = None
    if status != "-":
        outcome = "failure" if int(status) >= 400 else "success"
    set_event(doc, action="http_request", category=("web",), type=("access",), outcome=outcome)
    return ts


def dataset_for(source_name: str | None, program: str | None = None) -> str:
    """nginx or apache, from the syslog program or the file path (Apache's format when unknown)."""
    hint = (program or "") + " " + (source_name or "")
    return "nginx.access" if "nginx" in hint.lower() else "apache.access"
