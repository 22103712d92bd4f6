"""nginx and Apache error logs (as files, or as messages sent through syslog).

Apache: ``[Sun Dec 04 04:47:44 2005] [notice] msg`` (2.2) and
``[Sat Jul 20 21:34:49.453232 2013] [module:level] [pid P:tid T] [client IP:PORT] AHnnnnn: msg`` (2.4).
nginx: ``2012/04/09 11:53:29 [error] 2865#0: *66647 msg, client: IP, server: S, request: "..."``.
Neither carries a time zone: the normaliser applies the institution's.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from collectors.parsers.fields import set_endpoint, set_event, set_user
from collectors.parsers.syslog_header import MONTHS
from collectors.parsers.web_access import AUTH_WEB, set_request

_APACHE_TIME = re.compile(r"\[(?:[A-Z][a-z]{2}) ([A-Z][a-z]{2}) (\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? (\d{4})\] ")
_APACHE_BODY = re.compile(
    r"\[(?:(?P<module>[^\s:\]]*):)?(?P<level>\w+)\]"
    r"(?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])?"
    r"(?: \[(?:client|remote) (?P<client>\[[^\]\s]+\]:\d+|[^\]\s]+)\])?"
    r" ?(?P<msg>.*)$",
    re.S,
)
_AH_CODE = re.compile(r"(AH\d{5}): ")
# Apache 2.4 error codes of refused credentials (basic and digest) and of refused access.
_AUTH_FAILED_CODES = frozenset(
    {"AH01614", "AH01617", "AH01618", "AH01776", "AH01777", "AH01788", "AH01789", "AH01790", "AH01792", "AH01793"}
)
_DENIED_CODES = frozenset({"AH01630", "AH01631", "AH01637", "AH01797"})
# The same messages from Apache 2.2, which has no codes.
_AUTH_FAILED = re.compile(
    r"(?:Digest: )?(?:user .*?(?: not found|: authentication failure for|: password mismatch)"
    r"|client used wrong authentication scheme|invalid nonce |realm mismatch|unknown algorithm|invalid qop)"
)
_DENIED = re.compile(r"client denied by server configuration|Authorization of user |user .*?: authorization failure")
_APACHE_USER = re.compile(r"(?:Digest: )?user [`']?(?P<user>.*?)'?(?::| not found| in realm)")
_NGINX_HEAD = re.compile(
    r"(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d) \[(?P<level>\w+)\] (?P<pid>\d+)#(?P<tid>\d+): "
    r"(?:\*(?P<conn>\d+) )?(?P<msg>.*)$",
    re.S,
)
# The message is greedy and the server value cannot hold '"' or ',', so text injected earlier in
# the line (a user name with ", client: ...") does not become the client address.
_NGINX_CONTEXT = re.compile(
    r"(?P<msg>.*), client: (?P<client>[^\s,]+), server: (?P<server>[^\s,\"]*)(?P<tail>(?:, .*)?)$", re.S
)
_NGINX_REQUEST = re.compile(r", request: \"(?P<request>[^\"]*)\"")
_NGINX_USER = re.compile(r"user \"(?P<user>.*)\":? (?:was not found|password mismatch)|PAM: user '(?P<pam>[^']*)'")


def _apache_client(text: str) -> tuple[str, str | None]:
    """``1.2.3.4:5``, ``[2001:db8::1]:5``, ``2001:db8::1`` or ``1.2.3.4`` as (address, port)."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return host, port or None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


def parse_apache_message(message: str, doc: dict[str, Any]) -> str | None:
    """The part after Apache's timestamp (also what ``ErrorLog syslog`` sends); the dataset or None."""
    m = _APACHE_BODY.match(message)
    if m is None:
        return None
    doc["log"]["level"] = m.group("level")
    msg = m.group("msg")
    if m.group("module"):
        doc["apache"] = {"error": {"module": m.group("module")}}
    if m.group("pid"):
        process = doc.setdefault("process", {})
        process["pid"] = int(m.group("pid"))
        if m.group("tid"):
            process["thread"] = {"id": int(m.group("tid"))}
    if m.group("client"):
        host, port = _apache_client(m.group("client"))
        set_endpoint(doc, "source", host, port)
    code = _AH_CODE.match(msg)
    text = msg
    if code is not None:
        doc["error"] = {"code": code.group(1)}
        text = msg[code.end() :]
    user = _APACHE_USER.search(msg)
    if user is not None and user.group("user"):
        set_user(doc, user.group("user"))
    doc["message"] = msg
    ah = code.group(1) if code is not None else None
    if ah in _AUTH_FAILED_CODES or (ah is None and _AUTH_FAILED.match(text)):
        set_event(doc, action="http_auth_failed", category=AUTH_WEB, type=("start",), outcome="failure")
    elif ah in _DENIED_CODES or (ah is None and _DENIED.match(text)):
        set_event(doc, action="http_access_denied", category=("web",), type=("access",), outcome="failure")
    else:
        set_event(doc, action="http_error", category=("web",), type=("error",))
    return "apache.error"


def parse_apache_error(line: str, doc: dict[str, Any]) -> datetime | None:
    """A whole Apache error-log line; its (naive, local) timestamp or None."""
    t = _APACHE_TIME.match(line)
    if t is None or t.group(1) not in MONTHS:
        return None
    mon, day, hh, mi, ss, frac, year = t.groups()
    try:
        ts = datetime(
            int(year), MONTHS[mon], int(day), int(hh), int(mi), int(ss), int(frac.ljust(6, "0")) if frac else 0
        )
    except ValueError:
        return None
    if parse_apache_message(line[t.end() :], doc) is None:
        return None
    return ts


def parse_nginx_message(message: str, doc: dict[str, Any]) -> str | None:
    """The text after nginx's ``pid#tid: *conn``: client, server, request, user."""
    ctx = _NGINX_CONTEXT.match(message)
    if ctx is not None:
        set_endpoint(doc, "source", ctx.group("client"))
        if ctx.group("server"):
            doc["destination"] = {"domain": ctx.group("server")}
        req = _NGINX_REQUEST.match(ctx.group("tail"))
        if req is not None:
            set_request(doc, req.group("request"))
        msg = ctx.group("msg")
    else:
        msg = message
    user = _NGINX_USER.search(msg)
    doc["message"] = msg
    if user is not None:
        # "user X was not found", "user X: password mismatch", "PAM: user X - not authenticated"
        set_user(doc, user.group("user") if user.group("user") is not None else user.group("pam"))
        set_event(doc, action="http_auth_failed", category=AUTH_WEB, type=("start",), outcome="failure")
    else:
        set_event(doc, action="http_error", category=("web",), type=("error",))
    return "nginx.error"


def parse_nginx_error(line: str, doc: dict[str, Any]) -> datetime | None:
    """A whole nginx error-log line (also when it is a syslog message); its naive timestamp or None."""
    m = _NGINX_HEAD.match(line)
    if m is None:
        return None
    try:
        y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
        ts = datetime(y, mo, d, h, mi, sec)
    except ValueError:
        return None
    doc["log"]["level"] = m.group("level")
    process = doc.setdefault("process", {})
    process["pid"] = int(m.group("pid"))
    process["thread"] = {"id": int(m.group("tid"))}
    parse_nginx_message(m.group("msg"), doc)
    return ts
