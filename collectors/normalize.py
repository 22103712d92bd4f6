"""Turn one raw record into one ECS event: decode, frame, attribute, resolve time, parse.

This runs for every line Sentinel receives, so it avoids per-line objects beyond the event
document: regexes are compiled once, the program's parser is one dict lookup, and the
institution lookup is cached by the inventory. Which institution a line belongs to is decided in
one place, ``attribute_line``; its id follows ``sentinel.events.event_id`` (``record_event_id``).
"""

from __future__ import annotations

import logging
import re
import socket
import time
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from collectors.parsers import (
    GENERIC,
    LINE_FORMATS,
    active_decoders,
    line_time,
    parse_app_line,
    parse_line_format,
    parse_message,
)
from collectors.parsers.fields import clean_ip
from collectors.parsers.syslog_header import (
    COMMON_LINE,
    FACILITIES,
    SEVERITIES,
    SyslogHeader,
    common_pri,
    common_timestamp,
    parse_structured_data,
    parse_syslog,
    parse_untimed,
)
from collectors.records import RawRecord, Transport, record_event_id
from sentinel.config import DEFAULT_TIMEZONE
from sentinel.errors import ParseError
from sentinel.events import ECS_VERSION, UNATTRIBUTED, Event, format_timestamp, format_unix_time
from sentinel.inventory import Institution, Inventory

logger = logging.getLogger(__name__)

INVALID_UTF8 = "invalid_utf8"
NO_SYSLOG_HEADER = "no_syslog_header"
# The authenticated sender is bound to an institution (an institution's API token) other than the one
# the line itself would be attributed to: the event is the sender's.
ATTRIBUTED_BY_SENDER = "sentinel.attributed_by_token"
# Syslog listeners do not authenticate senders: anybody reaching the port can write any host name.
_UNAUTHENTICATED: frozenset[Transport] = frozenset({"udp", "tcp", "tls"})
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"  # the header's date has no UTC time: stamped on receipt
_MAX_LONG = 2**63 - 1  # ECS long; a larger number is kept as text
_AGENT_NAMES = {"udp": "syslog", "tcp": "syslog", "tls": "syslog", "file": "file", "http": "http", "import": "import"}
# Control characters other than tab and line breaks (multi-line messages are legitimate), and the
# replacement character; their presence sends a line to the (slower) binary check.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_BINARY_SHARE = 0.3  # more than this share of unprintable characters: binary data, not a log line
# An RFC 3164 timestamp may be at most this far after the receive time (sender clocks run fast).
_FUTURE_SLACK = timedelta(days=2)
_ZERO = timedelta(0)
_TIME_CACHE_SIZE = 4096  # distinct (header time, zone, minute) keys kept; a burst reuses a handful
_OWNER_CACHE_SIZE = 16384  # distinct (peer, host, hint) keys kept: a few per source
_LONGEST_HOSTNAME = 255
_MODULES: dict[str, str] = {}  # event.dataset -> event.module


def names_are_trusted(record: RawRecord) -> bool:
    """Whether the host names a record carries (in the line, or as the source's host) may attribute it.

    Not for syslog received over the network: its senders are not authenticated. This is the seam for
    relays: a relay trusted (by its address) to forward other hosts' lines would be allowed here.
    """
    return record.transport not in _UNAUTHENTICATED


def attribute_line(inventory: Inventory, record: RawRecord, hostname: str | None) -> Institution | None:
    """The institution a received line belongs to (its ``organization``); None: unattributed.

    - Syslog over the network (UDP, TCP, TLS): the owner of the sender's address, and only that. A
      sender whose address no institution owns gets no institution, whatever host its lines name.
    - A file Sentinel tails or imports, configured by the operator: the host the line names, else the
      host the source is configured for.
    - HTTP: the caller authenticated; its lines are attributed by the host they name or the record's
      ``host`` (an institution's token then pins its own institution: ``Normalizer.normalize(sender=)``).
    """
    if not names_are_trusted(record):
        return inventory.owner_of_address(record.peer) if record.peer else None
    institution = inventory.attribute(record.peer, hostname)
    if institution is None and record.host_hint:
        institution = inventory.owner_of_host(record.host_hint)
    return institution


def decode_line(raw: bytes) -> tuple[str, bool]:
    """The line as text and whether it had invalid UTF-8; ParseError for empty or binary input."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # The usual line passes four C scans: printable (so no NUL, control or line break), and
        # not blank. Anything else takes the careful path below.
        if text.isprintable() and "\ufffd" not in text and text and not text.isspace():
            return text, False
    if raw.endswith(b"\n"):
        raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if not raw or raw.isspace():  # bytes.isspace: the same ASCII whitespace bytes.strip removes
        raise ParseError("empty line")
    if b"\x00" in raw:
        raise ParseError(f"binary data: NUL bytes in a {len(raw)}-byte record")
    try:
        text = raw.decode("utf-8")
        invalid = False
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        invalid = True
    # isprintable (one fast C scan) passes U+FFFD, so that one is looked for separately; only lines
    # that fail either (tabs, controls, some Unicode) pay for the regex.
    if (not text.isprintable() or "\ufffd" in text) and _CONTROL.search(text) is not None:
        junk = len(_CONTROL.findall(text))
        if junk > len(text) * _BINARY_SHARE:
            raise ParseError(f"binary data: {junk} of {len(text)} characters are not printable text")
    return text, invalid


class Normalizer:
    """Normalises raw records from every collector into ECS events.

    Thread-safe: its only state is bounded caches (zones, resolved header times) that are dicts,
    whose single get and set are atomic.
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
        # (header time, year missing, zone, receive minute) -> (UTC time, its @timestamp text)
        self._times: dict[tuple[object, ...], tuple[datetime, str]] = {}
        # (peer, host name in the line, host hint) -> owner, or for network syslog the peer alone; the
        # inventory is fixed for a normaliser's life
        self._owners: dict[object, Institution | None] = {}
        self._created: tuple[float, str] = (-1.0, "")  # the last receive time and its text
        active_decoders()  # compiled before the first line: LINE_FORMATS and PROGRAMS hold theirs

    def _header_time(
        self, ts: object, year_missing: bool, zone: tzinfo, received_at: float
    ) -> tuple[datetime, str] | None:
        """``_resolve_time`` and its text for a header time, reused for the same time, zone and minute.

        ``ts`` is a naive datetime or, for the common RFC 3164 line, its timestamp text (converted
        here only on a cache miss; None when that text is not a date, such as Feb 30).
        """
        # The receive time only matters for the year (a 2-day slack): its minute is precise enough.
        key = (ts, year_missing, zone, int(received_at) // 60)
        found = self._times.get(key)
        if found is not None:
            return found
        naive = common_timestamp(ts) if isinstance(ts, str) else ts
        if not isinstance(naive, datetime):
            return None
        resolved = _resolve_time(naive, year_missing, zone, datetime.fromtimestamp(received_at, UTC))
        found = (resolved, format_timestamp(resolved))
        if len(self._times) >= _TIME_CACHE_SIZE:
            self._times.clear()
        self._times[key] = found
        return found

    def _zone(self, institution: Institution | None) -> tzinfo:
        if institution is None:
            return self._default_tz
        zone = self._zones.get(institution.timezone)
        if zone is None:
            zone = self._zones[institution.timezone] = ZoneInfo(institution.timezone)
        return zone

    def _attribute(
        self, record: RawRecord, hostname: str | None, sender: Institution | None, tags: list[str]
    ) -> Institution | None:
        """``attribute_line``, cached; a ``sender`` bound to an institution makes the event that one's."""
        # A source sends many lines with the same peer and host name: one dict lookup instead of a
        # network table walk and two host-name lookups.
        key: object = record.peer if record.transport in _UNAUTHENTICATED else (record.peer, hostname, record.host_hint)
        try:
            institution = self._owners[key]
        except KeyError:
            institution = attribute_line(self._inventory, record, hostname)
            # A host name longer than DNS allows (253) is junk: not kept, so a flood cannot fill memory.
            if hostname is None or len(hostname) <= _LONGEST_HOSTNAME or record.transport in _UNAUTHENTICATED:
                if len(self._owners) >= _OWNER_CACHE_SIZE:
                    self._owners.clear()
                self._owners[key] = institution
        if sender is not None and (institution is None or institution.id != sender.id):
            tags.append(ATTRIBUTED_BY_SENDER)
            return sender
        return institution

    def normalize(self, record: RawRecord, sender: Institution | None = None) -> Event:
        """One ECS event for ``record``; ParseError(reason) when it cannot be one.

        ``sender``: the institution the authenticated sender is bound to (an institution's API
        token); the event is that institution's whatever the line says.
        """
        line, invalid_utf8 = decode_line(record.raw)
        transport = record.transport
        received_at = record.received_at
        created = self._created  # one read of the pair: another thread may replace it
        if received_at != created[0]:  # records of one read share their receive time
            created = self._created = (received_at, format_unix_time(received_at))
        event: dict[str, Any] = {"kind": "event", "created": created[1], "original": line}
        doc: dict[str, Any] = {
            "event": event,
            "log": {},
            "observer": {"hostname": self._observer_hostname, "type": self._observer_type},
            "agent": {"type": "sentinel", "name": _AGENT_NAMES.get(transport, transport)},
        }
        tags: list[str] = []
        if invalid_utf8:
            tags.append(INVALID_UTF8)
        if transport == "file" and record.source_name:
            doc["log"]["file"] = {"path": record.source_name}
        if record.dataset_hint is None:
            common = COMMON_LINE.match(line)
            if common is not None:
                found = self._common(record, common, doc, tags, sender)
                if found is not None:
                    return _finish(record, doc, tags, found[0], found[1])
        return self._general(record, line, doc, tags, sender)

    def _common(
        self,
        record: RawRecord,
        common: re.Match[str],
        doc: dict[str, Any],
        tags: list[str],
        sender: Institution | None,
    ) -> tuple[datetime, Institution | None] | None:
        """Fill ``doc`` from a ``Mmm dd hh:mm:ss host prog[pid]: msg`` line; return its time and owner.

        None, with ``doc`` and ``tags`` untouched, when the date is not one (Feb 30): the general path decides.
        """
        pri_text, stamp, hostname, program, pid, message = common.groups()
        pri = common_pri(pri_text)
        if pri == -1:
            return None
        mark = len(tags)
        institution = self._attribute(record, hostname, sender, tags)
        timed = self._header_time(stamp, True, self._zone(institution), record.received_at)
        if timed is None:
            del tags[mark:]
            return None
        doc["@timestamp"] = timed[1]
        if pri is not None:
            doc["log"]["syslog"] = _syslog_priority(pri)
        pid_value = int(pid)
        if pid_value <= _MAX_LONG:
            doc["process"] = {"name": program, "pid": pid_value}
        else:
            doc["process"] = {"name": program}
            doc["log"].setdefault("syslog", {})["procid"] = pid
        message = message.strip()
        doc["message"] = message
        doc["event"]["dataset"] = parse_message(program, message, doc)
        _set_host(doc, hostname)
        _set_institution(doc, institution, tags)
        return timed[0], institution

    def _general(
        self, record: RawRecord, line: str, doc: dict[str, Any], tags: list[str], sender: Institution | None
    ) -> Event:
        """Every other line: any syslog frame, whole-line file formats, or no header at all."""
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
            if header is not None and header.app_time and line_parser is None:
                # "2024-01-10 10:00:00 ..." starts most applications' own files: their decoders read it first.
                detected = parse_app_line(line, doc)
                if detected is not None:
                    dataset, local_ts = detected
                    header = None
            elif header is None:
                if line_parser is not None:
                    raise ParseError(f"not a {hint} line and not syslog")
                detected = parse_line_format(line, record.source_name, doc)
                if detected is not None:
                    dataset, local_ts = detected
                if local_ts is None:
                    # No timestamp: keep the line, stamped with the receive time (RFC 3164 4.3.3).
                    header = parse_untimed(line) or SyslogHeader(message=line)
                    tags.append(NO_SYSLOG_HEADER)

        hostname = header.hostname if header is not None else None
        institution = self._attribute(record, hostname, sender, tags)
        zone = self._zone(institution)

        if header is not None:
            dataset = _apply_header(header, doc)
            if header.invalid_time is not None:
                tags.append(TIMESTAMP_OUT_OF_RANGE)
            ts = header.timestamp
            if ts is None:
                timestamp = datetime.fromtimestamp(record.received_at, UTC)
            elif ts.tzinfo is not None:
                timestamp = ts
            else:
                timed = self._header_time(ts, header.year_missing, zone, record.received_at)
                assert timed is not None
                timestamp = timed[0]
        else:
            assert local_ts is not None and dataset is not None
            timestamp = _resolve_time(*line_time(local_ts), zone, datetime.fromtimestamp(record.received_at, UTC))
            if "message" not in doc:
                doc["message"] = line
        doc["@timestamp"] = format_timestamp(timestamp)
        doc["event"]["dataset"] = dataset or GENERIC.dataset
        _set_host(doc, hostname or record.host_hint)
        _set_institution(doc, institution, tags)
        return _finish(record, doc, tags, timestamp, institution)


def _finish(
    record: RawRecord, doc: dict[str, Any], tags: list[str], timestamp: datetime, institution: Institution | None
) -> Event:
    """What ``new_event`` adds, written directly: id, module, ingested, ECS version; then the event."""
    if tags:
        doc["tags"] = tags
    if not doc["log"]:
        del doc["log"]
    event = doc["event"]
    event_id = event["id"] = record_event_id(record, institution.id if institution is not None else None)
    dataset = event["dataset"]
    if "module" not in event:
        event["module"] = _module(dataset)
    event["ingested"] = format_unix_time(time.time())
    doc["ecs"] = {"version": ECS_VERSION}
    return Event(id=event_id, timestamp=timestamp, dataset=dataset, doc=doc)


def _module(dataset: str) -> str:
    module = _MODULES.get(dataset)
    if module is None:
        module = dataset.split(".", 1)[0]
        if len(_MODULES) < 1024:  # datasets are a short fixed list; the bound only guards odd input
            _MODULES[dataset] = module
    return module


def _set_host(doc: dict[str, Any], host_name: str | None) -> None:
    if host_name:
        ip = clean_ip(host_name)
        doc["host"] = {"ip": [ip]} if ip is not None else {"hostname": host_name}


def _set_institution(doc: dict[str, Any], institution: Institution | None, tags: list[str]) -> None:
    if institution is not None:
        doc["organization"] = {"id": institution.id, "name": institution.name}
    else:
        tags.append(UNATTRIBUTED)


def _syslog_priority(pri: int) -> dict[str, Any]:
    """ECS ``log.syslog`` for a PRI value: priority, facility and severity (new dicts per event)."""
    facility, severity = divmod(pri, 8)
    return {
        "priority": pri,
        "facility": {"code": facility, "name": FACILITIES[facility] if facility < len(FACILITIES) else None},
        "severity": {"code": severity, "name": SEVERITIES[severity]},
    }


def _apply_header(header: SyslogHeader, doc: dict[str, Any]) -> str:
    """Syslog fields into ``doc``, then the program's parser; returns the dataset."""
    pri = header.pri
    if pri is not None:
        doc["log"]["syslog"] = _syslog_priority(pri)
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
        if pid is not None and pid.isdecimal():  # isdigit() also admits "²", which int() refuses
            value = int(pid)
            if value <= _MAX_LONG:
                process["pid"] = value
            else:  # no ECS long holds it: kept as text
                doc["log"].setdefault("syslog", {})["procid"] = pid
        doc["process"] = process
    message = header.message.strip()
    doc["message"] = message
    return parse_message(program, message, doc)


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
