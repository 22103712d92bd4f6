"""What a collector receives before parsing: one raw record and where it came from."""

from __future__ import annotations

from typing import Literal, NamedTuple

from sentinel.events import event_id

Transport = Literal["udp", "tcp", "tls", "file", "http", "import"]


class RawRecord(NamedTuple):
    """One received line or message, exactly as received.

    ``origin`` names the source and the record's place in it: for network senders the sender's
    address; for files, the configured source, its generation and the line's byte offset, so a
    file read twice (or replayed after a crash) yields the same ids (``record_event_id``).

    A NamedTuple (immutable, like the frozen dataclass it replaced) because the spool reader
    builds one per event: a tuple is built about five times faster than a frozen dataclass.
    Use ``record._replace(raw=...)`` for a changed copy.
    """

    raw: bytes
    received_at: float  # UNIX seconds, when Sentinel received it
    origin: str
    transport: Transport
    peer: str | None = None  # sender IP address for network transports
    source_name: str | None = None  # listener name or file path, for observer/log fields
    dataset_hint: str | None = None  # a file source may name its dataset (e.g. nginx.access)
    host_hint: str | None = None  # hostname to attribute to when the line names none


# Transports whose records have no place in a stream: the origin names the authenticated sender only.
_PLACELESS = frozenset({"http"})


def record_event_id(record: RawRecord, institution_id: str | None) -> str:
    """``event_id`` of a received line (``sentinel.events.event_id`` states the rule): owned by the
    institution it is attributed to (else its origin), placed at its origin (sender address, file
    position; none over HTTP), and identified by its exact bytes."""
    origin = record.origin
    return event_id(institution_id, origin, record.raw, "" if record.transport in _PLACELESS else origin)
