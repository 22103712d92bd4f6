"""Turn one raw record into one ECS event: decode, frame, attribute, resolve time, parse.

This runs for every line Sentinel receives, so it avoids per-line objects beyond the event
document: regexes are compiled once, the program's parser is one dict lookup, and the
institution lookup is cached by the inventory.
"""

from __future__ import annotations

import logging
import re
import socket
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from collectors.parsers import (
    GENERIC,
    LINE_FORMATS,
    detect_line_format,
    pam_parser,
    program_parser,
)
from collectors.parsers.fields import clean_ip
from collectors.parsers.syslog_header import (
    FACILITIES,
    SEVERITIES,
    SyslogHeader,
    parse_structured_data,
    parse_syslog,
    parse_untimed,
)
from collectors.records import RawRecord
from sentinel.config import DEFAULT_TIMEZONE
from sentinel.errors import ParseError
from sentinel.events import UNATTRIBUTED, Event, format_timestamp, make_event_id, new_event
from sentinel.inventory import Institution, Inventory

logger = logging.getLogger(__name__)

INVALID_UTF8 = "invalid_utf8"
NO_SYSLOG_HEADER = "no_syslog_header"
_AGENT_NAMES = {"udp": "syslog", "tcp": "syslog", "tls": "syslog", "file": "file", "http": "http", "import": "import"}
# Control characters other than tab and line breaks (multi-line messages are legitimate), and the
# replacement character; their presence sends a line to the (slower) binary check.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_BINARY_SHARE = 0.3  # more than this share of unprintable characters: binary data, not a log line
# An RFC 3164 timestamp may be at most this far after the receive time (sender clocks run fast).
_FUTURE_SLACK = timedelta(days=2)
_ZERO = timedelta(0)
_MILLIS = tuple(f"{ms:03d}Z" for ms in range(1000))


def decode_line(raw: bytes) -> tuple[str, bool]:
    """The line as text and whether it had invalid UTF-8; ParseError for empty or binary input."""
    if raw.endswith(b"\n"):
        raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if not raw.strip():
        raise ParseError("empty line")
    if b"\x00" in raw:
        raise ParseError(f"binary data: NUL bytes in a {len(raw)}-byte record")
    try:
        text = raw.decode("utf-8")
        invalid = False
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        invalid = True
    if _CONTROL.search(text) is not None:
        junk = len(_CONTROL.findall(text))
        if junk > len(text) * _BINARY_SHARE:
            raise ParseError(f"binary data: {junk} of {len(text)} characters are not printable text")
    return text, invalid


class Normalizer:
    """Normalises raw records from every collector into ECS events.

    Thread-safe: its only state is a few one-entry caches (last second, last header time), each
    replaced as one tuple.
    """

    def __init__(
        self,
        inventory: Inventory,
        *,
        default_timezone: str = DEFAULT_TIMEZONE,
        observer_hostname: str | None = None,
        observer_type: str = "sentinel",
    ) -> None:
        self._inventory = inventory
        self._default_tz = ZoneInfo(default_timezone)
        self._zones: dict[str, tzinfo] = {}
        self._observer_hostname = observer_hostname or socket.gethostname()
        self._observer_type = observer_type
        self._last_second: tuple[int, str] = (-1, "")
        self._last_time: tuple[tuple[object, ...], datetime] = ((), datetime.fromtimestamp(0, UTC))

    def _created(self, received_at: float) -> str:
        """``event.created`` text for a receive time, without building a datetime per line."""
        second = int(received_at)
        micros = round((received_at - second) * 1e6)  # as datetime.fromtimestamp rounds
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        last = self._last_second
        if last[0] != second:
            last = (second, format_timestamp(datetime.fromtimestamp(second, UTC))[:20])
            self._last_second = last  # one tuple swap: safe across threads
        return last[1] + _MILLIS[micros // 1000]

    def _header_time(self, header: SyslogHeader, zone: tzinfo, received_at: float) -> datetime:
        """``_resolve_time`` for a header, reusing the last answer for the same time, zone and minute."""
        ts = header.timestamp
        if ts is None or ts.tzinfo is not None:
            return ts or datetime.fromtimestamp(received_at, UTC)
        # The receive time only matters for the year (a 2-day slack): its minute is precise enough.
        key = (ts, header.year_missing, zone, int(received_at) // 60)
        last = self._last_time
        if last[0] == key:
            return last[1]
        resolved = _resolve_time(ts, header.year_missing, zone, datetime.fromtimestamp(received_at, UTC))
        self._last_time = (key, resolved)
        return resolved

    def _zone(self, institution: Institution | None) -> tzinfo:
        if institution is None:
            return self._default_tz
        zone = self._zones.get(institution.timezone)
        if zone is None:
            zone = self._zones[institution.timezone] = ZoneInfo(institution.timezone)
        return zone

    def normalize(self, record: RawRecord) -> Event:
        """One ECS event for ``record``; ParseError(reason) when it cannot be one."""
        line, invalid_utf8 = decode_line(record.raw)
        created = self._created(record.received_at)
        doc: dict[str, Any] = {
            "event": {"kind": "event", "created": created, "original": line},
            "log": {},
            "observer": {"hostname": self._observer_hostname, "type": self._observer_type},
            "agent": {"type": "sentinel", "name": _AGENT_NAMES.get(record.transport, record.transport)},
        }
        tags: list[str] = []
        if invalid_utf8:
            tags.append(INVALID_UTF8)
        if record.transport == "file" and record.source_name:
            doc["log"]["file"] = {"path": record.source_name}

        hint = record.dataset_hint
        line_parser = LINE_FORMATS.get(hint) if hint else None
        header: SyslogHeader | None = None
        local_ts: datetime | None = None
        dataset: str | None = None
        if line_parser is not None:
            local_ts = line_parser(line, doc)
            dataset = hint
        if local_ts is None:
            header = parse_syslog(line)
            if header is None:
                if line_parser is not None:
                    raise ParseError(f"not a {hint} line and not syslog")
                detected = detect_line_format(line, record.source_name)
                if detected is not None:
                    dataset, line_parser = detected
                    local_ts = line_parser(line, doc)
                if local_ts is None:
                    # No timestamp: keep the line, stamped with the receive time (RFC 3164 4.3.3).
                    header = parse_untimed(line) or SyslogHeader(message=line)
                    tags.append(NO_SYSLOG_HEADER)

        hostname = header.hostname if header is not None else None
        institution = self._inventory.attribute(record.peer, hostname)
        if institution is None and record.host_hint:
            institution = self._inventory.owner_of_host(record.host_hint)
        zone = self._zone(institution)

        if header is not None:
            dataset = self._apply_header(header, doc)
            timestamp = self._header_time(header, zone, record.received_at)
        else:
            assert local_ts is not None and dataset is not None
            timestamp = _resolve_time(local_ts, False, zone, datetime.fromtimestamp(record.received_at, UTC))
            if "message" not in doc:
                doc["message"] = line

        host_name = hostname or record.host_hint
        if host_name:
            ip = clean_ip(host_name)
            if ip is not None:
                doc["host"] = {"ip": [ip]}
            else:
                doc["host"] = {"hostname": host_name}
        if institution is not None:
            doc["organization"] = {"id": institution.id, "name": institution.name}
        else:
            tags.append(UNATTRIBUTED)
        if tags:
            doc["tags"] = tags
        if not doc["log"]:
            del doc["log"]
        return new_event(
            event_id=make_event_id(record.origin, record.raw),
            timestamp=timestamp,
            dataset=dataset or GENERIC.dataset,
            fields=doc,
        )

    def _apply_header(self, header: SyslogHeader, doc: dict[str, Any]) -> str:
        """Syslog fields into ``doc``, then the program's parser; returns the dataset."""
        pri = header.pri
        if pri is not None:
            facility, severity = divmod(pri, 8)
            syslog: dict[str, Any] = {
                "priority": pri,
                "facility": {"code": facility, "name": FACILITIES[facility] if facility < len(FACILITIES) else None},
                "severity": {"code": severity, "name": SEVERITIES[severity]},
            }
            doc["log"]["syslog"] = syslog
        if header.version is not None:
            syslog = doc["log"].setdefault("syslog", {})
            syslog["version"] = str(header.version)
            if header.msgid:
                syslog["msgid"] = header.msgid
            if header.structured_data:
                syslog["structured_data"] = parse_structured_data(header.structured_data)
        program = header.program
        if program is not None:
            process: dict[str, Any] = {"name": program}
            pid = header.pid
            if pid is not None and pid.isdigit():
                process["pid"] = int(pid)
            doc["process"] = process
        message = header.message.strip()
        doc["message"] = message

        parser = program_parser(program)
        if parser is not None:
            return parser.parse(message, doc) or parser.dataset
        pam_parse = pam_parser(program, message)
        if pam_parse is not None:
            found = pam_parse(message, doc)
            if found is not None:
                return found
        return GENERIC.parse(message, doc) or GENERIC.dataset


def _resolve_time(ts: datetime | None, year_missing: bool, zone: tzinfo, received: datetime) -> datetime:
    """A UTC timestamp for a header time: offsets are kept, local times get the zone and a year.

    Works on naive local times and converts once: comparing aware datetimes of different zones
    costs microseconds per comparison in CPython, which is most of a line's budget.
    """
    if ts is None:
        return received
    if ts.tzinfo is not None:
        return ts
    if year_missing:
        received_local = received.replace(tzinfo=None) + (zone.utcoffset(received.replace(tzinfo=None)) or _ZERO)
        limit = received_local + _FUTURE_SLACK
        year = received_local.year
        # The newest year that does not put the line more than the slack after its receipt: a
        # "Dec 31" line received on Jan 1 is last year's; a "Jan 1" line received Dec 31 is next year's.
        resolved = _with_year(ts, year)
        if resolved is None or resolved > limit:
            resolved = _with_year(ts, year - 1)
        elif received_local.month == 12 and ts.month == 1:
            later = _with_year(ts, year + 1)
            if later is not None and later <= limit:
                resolved = later
        ts = resolved if resolved is not None else _with_year(ts, _leap_year_before(year)) or ts
    return (ts - (zone.utcoffset(ts) or _ZERO)).replace(tzinfo=UTC)


def _with_year(ts: datetime, year: int) -> datetime | None:
    try:
        return ts.replace(year=year)
    except ValueError:  # Feb 29 outside a leap year
        return None


def _leap_year_before(year: int) -> int:
    """The latest leap year before ``year``, for a Feb 29 line."""
    year -= 1
    while not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        year -= 1
    return year
