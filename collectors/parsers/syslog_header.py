"""Syslog frames: RFC 5424, RFC 3164 (with or without ``<PRI>``) and rsyslog's ISO variant.

The header is split from the message here; what the message means is the program parsers'
job. RFC 3164 timestamps have no year and no zone: they come back naive with the placeholder
year 2000 (a leap year, so ``Feb 29`` parses) and ``year_missing`` set, and the normaliser
resolves them against the receive time and the institution's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

PLACEHOLDER_YEAR = 2000
# A header time outside these bounds cannot be moved to UTC by any zone (offsets are under a day):
# such a line keeps its header, is stamped with its receive time and says so (``invalid_time``).
_EARLIEST = datetime(1, 1, 2)
_LATEST = datetime(9999, 12, 30)
MONTHS = {
    m: i
    for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)
}

FACILITIES = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
)
SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")

_PRI = re.compile(r"<(\d{1,3})>")
# After the optional <PRI>: "Mmm dd hh:mm:ss[.frac][ yyyy] " or an ISO timestamp with optional offset.
# The year, when there is one, follows the time ("Mar  3 10:00:00 2026") or the day ("Mar  3 2026
# 10:00:00", Cisco's "logging timestamp" and macOS).
_TS_3164 = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2})(?: (\d{4}))? (\d\d):(\d\d):(\d\d)"
    r"(?:\.(\d{1,6})\d*)?(?: (\d{4}))? "
)
_TS_ISO = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(Z|[+-]\d\d:?\d\d)?) ")
# What follows the timestamp: [hostname ]tag[: ]message. The tag is "prog[pid]:", "prog:", "prog[pid]"
# or "[prog]" (seen from some BSD/Solaris loggers). A hostname never contains '[' or ends in ':'.
_TAGGED = re.compile(
    r"(?:(?P<host>[^\s\[\]]+(?<!:)) )?"
    r"(?:(?P<prog>[^\s\[\]:]+)(?:\[(?P<pid>[^\]\s]*)\]:?|:)|\[(?P<bprog>[^\s\]]+)\]:?)"
    r"(?: |$)(?P<msg>.*)",
    re.S,
)
# The most common line of all ("[<PRI>]Mmm dd hh:mm:ss host prog[pid]: msg") in one match; groups:
# PRI (None when absent; may be out of range, see ``common_pri``), timestamp text, host, program, pid,
# message. Its timestamp has no year (``common_timestamp``).
COMMON_LINE = re.compile(
    r"(?:<(\d{1,3})>)?((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d\d:\d\d:\d\d) "
    r"([^\s\[\]:]+) ([^\s\[\]:]+)\[(\d+)\]: (?!\[ID )(.*)$",
    re.S,
)
_UNTAGGED = re.compile(r"(?P<host>[^\s\[\]:]+) +(?P<msg>.*)", re.S)
# Solaris prefixes messages with "[ID 800047 auth.info] "; it is framing, not content.
_SOLARIS_ID = re.compile(r"\[ID \d+ [\w.]+\] ")
# BSD syslogd -v writes the facility and level after the time: "Jun 17 14:37:39 <mail.info> host prog[pid]:".
_BSD_VERBOSE = re.compile(r" *<[a-z0-9]+\.[a-z]+> +")
# RFC 5424: VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
_RFC5424 = re.compile(
    r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) "
    r"(-|(?:\[(?:[^\]\"\\]|\"(?:[^\"\\]|\\.)*\")*\])+)(?: (.*))?$",
    re.S,
)
_SD_ELEMENT = re.compile(r"\[([^\s\]=\"]+)((?:[^\]\"\\]|\"(?:[^\"\\]|\\.)*\")*)\]")
_SD_PARAM = re.compile(r"([^\s=\"\]]+)=\"((?:[^\"\\]|\\.)*)\"")
_SD_UNESCAPE = re.compile(r"\\([\"\\\]])")


@dataclass(slots=True)
class SyslogHeader:
    """The parsed frame of one syslog line."""

    message: str
    timestamp: datetime | None = None  # naive: local time of the sender; aware: the line had an offset
    year_missing: bool = False  # RFC 3164: the year of ``timestamp`` is a placeholder
    pri: int | None = None
    hostname: str | None = None
    program: str | None = None
    pid: str | None = None
    version: int | None = None  # 1 for RFC 5424
    msgid: str | None = None
    structured_data: str | None = None  # raw RFC 5424 SD, "[id k="v"]..."
    # The time was "YYYY-MM-DD hh:mm:ss" with a space, as applications start their own log files
    # (syslog writers put a "T"): what follows may be the application's fields, not a host and tag.
    app_time: bool = False
    invalid_time: str | None = None  # the header's time, when it is a date no UTC time can hold


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def representable(ts: datetime) -> bool:
    """Whether ``ts`` (naive local, or with an offset) has a UTC time a ``datetime`` can hold."""
    if ts.tzinfo is None:
        return _EARLIEST <= ts <= _LATEST
    try:
        ts.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _tagged(header: SyslogHeader, rest: str) -> SyslogHeader:
    if rest.startswith(("<", " ")):
        verbose = _BSD_VERBOSE.match(rest)
        if verbose is not None:
            rest = rest[verbose.end() :]
    if "=" in rest[: rest.find(" ") + 1]:
        # "date=2026-01-12 time=10:00:00 ...": key=value fields (FortiGate...), not a host and a tag
        header.message = rest
        return header
    m = _TAGGED.match(rest)
    if m is not None:
        header.hostname = m.group("host")
        header.program = m.group("prog") or m.group("bprog")
        pid = m.group("pid")
        header.pid = pid or None
        msg = m.group("msg")
    else:
        u = _UNTAGGED.match(rest)
        if u is not None:
            header.hostname = u.group("host")
            msg = u.group("msg")
        else:
            msg = rest
    if msg.startswith("[ID "):
        s = _SOLARIS_ID.match(msg)
        if s is not None:
            msg = msg[s.end() :]
    header.message = msg
    return header


def _rfc5424(pri: int, body: str) -> SyslogHeader | None:
    m = _RFC5424.match(body)
    if m is None:
        return None
    version, ts, host, app, procid, msgid, sd, msg = m.groups()
    timestamp = None if ts == "-" else _iso(ts)
    if timestamp is None and ts != "-":
        return None
    invalid = None
    if timestamp is not None and not representable(timestamp):
        timestamp, invalid = None, ts
    msg = msg or ""
    if msg.startswith("\ufeff"):  # RFC 5424 BOM marks a UTF-8 MSG
        msg = msg[1:]
    return SyslogHeader(
        message=msg,
        timestamp=timestamp,
        pri=pri,
        hostname=_nil(host),
        program=_nil(app),
        pid=_nil(procid),
        version=int(version),
        msgid=_nil(msgid),
        structured_data=None if sd == "-" else sd,
        invalid_time=invalid,
    )


# Lines arrive in bursts with the same second: conversions are kept per timestamp text (bounded;
# a dict's get and set are atomic, so threads may share it).
_TS_CACHE: dict[str, datetime | None] = {}
_TS_CACHE_SIZE = 4096


def _ts_3164(m: re.Match[str]) -> datetime | None:
    text = m.group(0)
    try:
        return _TS_CACHE[text]
    except KeyError:
        pass
    mon, day, year_first, hh, mi, ss, frac, year = m.groups()
    year = year or year_first
    try:
        ts: datetime | None = datetime(
            int(year) if year else PLACEHOLDER_YEAR,
            MONTHS[mon],
            int(day),
            int(hh),
            int(mi),
            int(ss),
            int(frac.ljust(6, "0")) if frac else 0,
        )
    except ValueError:
        ts = None
    if len(_TS_CACHE) >= _TS_CACHE_SIZE:
        _TS_CACHE.clear()
    _TS_CACHE[text] = ts
    return ts


def common_timestamp(stamp: str) -> datetime | None:
    """The naive time (placeholder year) of ``COMMON_LINE``'s first group; None for a date such as Feb 30."""
    m = _TS_3164.match(stamp + " ")
    return _ts_3164(m) if m is not None else None


def priority_value(digits: str) -> int:
    """A PRI's digits as a number, or -1 above 191 (not a PRI): the one place that rule lives."""
    pri = int(digits)
    return pri if pri <= 191 else -1


def common_pri(text: str | None) -> int | None:
    """``COMMON_LINE``'s PRI group: None when absent, else ``priority_value``."""
    return None if text is None else priority_value(text)


def parse_syslog(line: str) -> SyslogHeader | None:
    """Split a syslog line into header and message, or None when it is not syslog-framed."""
    common = COMMON_LINE.match(line)
    if common is not None:
        pri_text, stamp, host, program, pid, message = common.groups()
        common_priority = common_pri(pri_text)
        ts = common_timestamp(stamp)
        if ts is not None and common_priority != -1:
            return SyslogHeader(message, ts, True, common_priority, host, program, pid)
    pri: int | None = None
    pos = 0
    if line.startswith("<"):
        m = _PRI.match(line)
        if m is not None and (found := priority_value(m.group(1))) != -1:
            pri = found
            pos = m.end()
            if line.startswith("1 ", pos):
                parsed = _rfc5424(pri, line[pos:])
                if parsed is not None:
                    return parsed
    m3 = _TS_3164.match(line, pos)
    if m3 is not None:
        ts = _ts_3164(m3)
        if ts is None:
            return None
        if not representable(ts):  # an explicit year such as 0001 or 9999
            header = SyslogHeader(message="", pri=pri, invalid_time=m3.group(0).strip())
        else:
            year_missing = m3.group(3) is None and m3.group(8) is None
            header = SyslogHeader(message="", timestamp=ts, year_missing=year_missing, pri=pri)
        return _tagged(header, line[m3.end() :])
    mi_ = _TS_ISO.match(line, pos)
    if mi_ is not None:
        ts_iso = _iso(mi_.group(1))
        if ts_iso is not None:
            if not representable(ts_iso):
                header = SyslogHeader(message="", pri=pri, invalid_time=mi_.group(1))
            else:
                header = SyslogHeader(message="", timestamp=ts_iso, pri=pri, app_time=line[pos + 10] == " ")
            return _tagged(header, line[mi_.end() :])
    if pri is not None:
        # "<PRI>" and no timestamp: RFC 3164 says the receiver supplies the time.
        return _tagged(SyslogHeader(message="", pri=pri), line[pos:])
    return None


def parse_structured_data(sd: str) -> dict[str, dict[str, str]]:
    """RFC 5424 structured data as {sd-id: {param: value}} (escapes removed)."""
    out: dict[str, dict[str, str]] = {}
    for element in _SD_ELEMENT.finditer(sd):
        params = out.setdefault(element.group(1), {})
        for param in _SD_PARAM.finditer(element.group(2)):
            params[param.group(1)] = _SD_UNESCAPE.sub(r"\1", param.group(2))
    return out


_UNTIMED = re.compile(r"(?P<host>[^\s\[\]:]+) (?P<prog>[^\s\[\]:]+)\[(?P<pid>\d+)\]: (?P<msg>.*)$", re.S)


def parse_untimed(line: str) -> SyslogHeader | None:
    """``host prog[pid]: msg`` with no timestamp (journalctl ``-o short`` cut, some relays)."""
    m = _UNTIMED.match(line)
    if m is None:
        return None
    return SyslogHeader(message=m.group("msg"), hostname=m.group("host"), program=m.group("prog"), pid=m.group("pid"))
