"""ECS events: the one shape every collector produces and every store keeps.

An event is a nested Elastic Common Schema document (``doc``) plus the few values the
store indexes (id, time, dataset, institution). Its id follows one rule, ``event_id``: the same
record from the same owner is always the same id, so storing it again is a no-op, and any
other record, or the same record of another institution, is another id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any

import orjson

UNATTRIBUTED = "unattributed"  # tag for events no institution owns
ECS_VERSION = "8.11.0"


def event_id(institution_id: str | None, source: str, content: bytes | str, place: str = "") -> str:
    """The id of the event a received record becomes. Every collector calls this (or a wrapper of it).

    The rule: the id is a 128-bit hash of

    - **who owns the record**: the institution the event is attributed to; when there is none, the
      authenticated source that sent it (syslog sender address, file source, API token, local import);
    - **where the record sits**, for sources in which the same content can be two events: the sender
      address of a syslog message (two devices may send the same line), the file, generation and byte
      offset of a file line (a log may hold the same line twice), the scan of a scan result; empty for
      self-contained records (a Windows event, an HTTP JSON record);
    - **the whole record**: the exact bytes of a line; the canonical JSON (``canonical_json``) of a
      JSON record, every field of it (a Windows event's computer, channel and record id are not
      enough: two EVTX files of one host reuse record numbers for different events).

    So a re-sent, re-read or replayed record (spool replay, a file read again, a batch posted again) is
    the same id and the store keeps it once; a record with any field changed is another event; and the
    same record from two institutions is two events, one each, so no institution can make another's
    event a "duplicate" or learn that it exists.

    Ids changed with this rule (they were derived from the transport origin alone, and Windows events
    from computer, channel and record id): data stored before the upgrade and sent again afterwards is
    stored once more, under its new id.
    """
    # The hash input is "owner NUL place NUL content": with no NUL in owner and place, no other triple
    # gives the same bytes. (One with a NUL there, which no source makes, is length-prefixed instead:
    # that form starts with a digit, never with "i:" or "s:".) One update of one buffer is the
    # cheapest form per event: this runs for every line received.
    head = ("i:" + institution_id if institution_id else "s:" + source) + "\x00" + place + "\x00"
    data = content if isinstance(content, bytes) else _utf8(content)
    h = _EVENT_ID_HASH.copy()
    if head.count("\x00") == 2:
        try:
            h.update(head.encode() + data)
        except UnicodeEncodeError:  # lone surrogates (undecodable file names): kept apart, losslessly
            h.update(head.encode("utf-8", "surrogatepass") + data)
    else:
        owner = _utf8("i:" + institution_id if institution_id else "s:" + source)
        where = _utf8(place)
        h.update(b"%d.%d|" % (len(owner), len(where)) + owner + where + data)
    return h.hexdigest()


def canonical_json(record: Any) -> bytes:
    """A JSON record as the bytes its id is made from: compact, keys sorted at every level.

    Raises ``orjson.JSONEncodeError`` (a ``TypeError``) for what JSON cannot hold or nests too deep.
    """
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates (undecodable file names, bytes read as text): kept apart
        return text.encode("utf-8", "surrogatepass")


def make_event_id(origin: str, raw: bytes | str) -> str:
    """The digest under ``event_id``: 128 bits from a text and bytes. Collectors use ``event_id``;
    this is for ids of events made up by Sentinel itself (rule samples, tests)."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
    try:
        tail = origin.encode()
    except UnicodeEncodeError:  # lone surrogates: the slower, lossless encoding
        tail = origin.encode("utf-8", "surrogateescape")
    # Copying a keyed template skips the constructor's keyword parsing, and one update of one buffer
    # gives the same digest as the two updates "raw", then "\x1f" + origin.
    h = _ID_HASH.copy()
    h.update(data + b"\x1f" + tail)
    return h.hexdigest()


_ID_HASH = blake2b(digest_size=16, person=b"sentinel-ev1")
_EVENT_ID_HASH = blake2b(digest_size=16, person=b"sentinel-ev2")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# format_timestamp runs three times per ingested event; datetime formatting costs far more than the
# rest of an event. The "YYYY-MM-DDTHH:MM:SS." text is built once per second (bounded cache) and the
# milliseconds come from a table. Outside 1970-2199 (float seconds lose precision) the plain path runs.
_MILLIS = tuple(f"{ms:03d}Z" for ms in range(1000))
_SECOND_TEXT: dict[int, str] = {}
_FAST_RANGE_END = 7258118400  # 2200-01-01T00:00:00Z


def format_timestamp(ts: datetime) -> str:
    """ECS ``@timestamp``: UTC, millisecond precision, ``Z`` suffix."""
    if ts.tzinfo is None:
        raise ValueError("event timestamps must be timezone-aware")
    seconds = ts.timestamp()
    if not 0 <= seconds < _FAST_RANGE_END:
        ts = ts.astimezone(UTC)
        # Not strftime: its %Y gives "1", not "0001", for years before 1000, which is no ISO date.
        return f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts:%H:%M:%S}.{ts.microsecond // 1000:03d}Z"
    second = int(seconds)
    prefix = _SECOND_TEXT.get(second)
    if prefix is None:
        if len(_SECOND_TEXT) >= 4096:
            _SECOND_TEXT.clear()
        prefix = _SECOND_TEXT[second] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
    return prefix + _MILLIS[ts.microsecond // 1000]


def format_unix_time(seconds: float) -> str:
    """``format_timestamp(datetime.fromtimestamp(seconds, UTC))`` without building a datetime."""
    if not 0 <= seconds < _FAST_RANGE_END:
        return format_timestamp(datetime.fromtimestamp(seconds, UTC))
    second = int(seconds)
    micros = round((seconds - second) * 1e6)  # as datetime.fromtimestamp rounds
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    prefix = _SECOND_TEXT.get(second)
    if prefix is None:
        if len(_SECOND_TEXT) >= 4096:
            _SECOND_TEXT.clear()
        prefix = _SECOND_TEXT[second] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
    return prefix + _MILLIS[micros // 1000]


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` or offset); naive values are taken as UTC."""
    ts = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


_MS = timedelta(milliseconds=1)


def to_millis(ts: datetime) -> int:
    """Epoch milliseconds of an aware time, truncated, in exact integer arithmetic.

    Not ``int(ts.timestamp() * 1000)``: the float product falls just below a whole millisecond for
    some times (none in 2025-2026, about 1 in 160 over 1970-2100), which moved them 1 ms earlier.
    """
    return (ts - _EPOCH) // _MS


def from_millis(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def get_field(doc: Mapping[str, Any], name: str) -> Any:
    """Read a dotted ECS field (``source.ip``) from a nested document; None when absent."""
    if name in doc:  # top-level names with dots, e.g. "@timestamp"
        return doc[name]
    node: Any = doc
    for part in name.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


def set_field(doc: dict[str, Any], name: str, value: Any) -> None:
    """Write a dotted ECS field into a nested document, creating parents."""
    parts = name.split(".")
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def flatten(doc: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted name, leaf value) pairs; lists are leaves."""
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, name + ".")
        else:
            yield name, value


class Event:
    """One ECS event. ``doc`` is the stored document; the other fields mirror it for indexing.

    A plain class with slots rather than a dataclass so that an event read from the store can build
    its ``timestamp`` only when asked (``stored``): detection reads hundreds of thousands of
    events and needs their time in milliseconds, rarely as a datetime. Constructor, fields,
    equality and repr are those of the dataclass it was.
    """

    __slots__ = ("_ms", "_row_ms", "_timestamp", "dataset", "doc", "id")
    __match_args__ = ("id", "timestamp", "dataset", "doc")
    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value (as the dataclass was)

    def __init__(self, id: str, timestamp: datetime, dataset: str, doc: dict[str, Any]) -> None:
        self.id = id
        self._timestamp: datetime | None = timestamp
        self._row_ms: int | None = None  # a stored event's time until its datetime is built
        self._ms: int | None = None  # ``timestamp_ms`` of ``_timestamp``, once asked
        self.dataset = dataset
        self.doc = doc

    @classmethod
    def stored(cls, id: str, ms: int, dataset: str, doc: dict[str, Any]) -> Event:
        """An event as the store keeps it: its time as exact epoch milliseconds (``ms``)."""
        if type(ms) is not int:  # the column holds integers; anything else takes the plain path
            return cls(id, _EPOCH + timedelta(milliseconds=ms), dataset, doc)
        event = cls.__new__(cls)
        event.id = id
        event._timestamp = None
        event._row_ms = ms
        event._ms = ms  # to_millis of that datetime, exactly
        event.dataset = dataset
        event.doc = doc
        return event

    @property
    def timestamp(self) -> datetime:
        ts = self._timestamp
        if ts is None and self._row_ms is not None:
            ts = self._timestamp = _EPOCH + timedelta(milliseconds=self._row_ms)  # exact, unlike floats
        return ts  # type: ignore[return-value]  # None only if constructed with None, as before

    @timestamp.setter
    def timestamp(self, value: datetime) -> None:
        self._timestamp = value
        self._row_ms = None
        self._ms = None

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Event)
        mine = (self.id, self.timestamp, self.dataset, self.doc)
        return mine == (other.id, other.timestamp, other.dataset, other.doc)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(id={self.id!r}, timestamp={self.timestamp!r}, dataset={self.dataset!r})"

    @property
    def organization_id(self) -> str | None:
        org = self.doc.get("organization")
        return org.get("id") if isinstance(org, dict) else None

    @property
    def message(self) -> str | None:
        value = self.doc.get("message")
        return value if isinstance(value, str) else None

    @property
    def timestamp_ms(self) -> int:
        ms = self._ms
        if ms is None:
            ms = self._ms = to_millis(self.timestamp)
        return ms

    def get(self, name: str) -> Any:
        return get_field(self.doc, name)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Event:
        """Rebuild an event from a stored ECS document."""
        event = doc.get("event") or {}
        return cls(
            id=str(event["id"]),
            timestamp=parse_timestamp(doc["@timestamp"]),
            dataset=str(event.get("dataset") or "unknown"),
            doc=doc,
        )


def new_event(
    *,
    event_id: str,
    timestamp: datetime,
    dataset: str,
    fields: dict[str, Any],
    ingested: datetime | None = None,
) -> Event:
    """Build an event, filling the ECS fields every event must have."""
    doc = fields
    doc["@timestamp"] = format_timestamp(timestamp)
    ev = doc.get("event")
    if not isinstance(ev, dict):
        ev = {}
        doc["event"] = ev
    ev["id"] = event_id
    ev["dataset"] = dataset
    ev.setdefault("module", dataset.split(".", 1)[0])
    ev["ingested"] = format_timestamp(ingested) if ingested is not None else format_unix_time(time.time())
    doc.setdefault("ecs", {"version": ECS_VERSION})
    return Event(id=event_id, timestamp=timestamp, dataset=dataset, doc=doc)
