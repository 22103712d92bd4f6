"""The ingestion hot path of the SQLite store: events → rows → one insert per few hundred rows.

Why multi-row ``INSERT ... VALUES (...), (...)`` and not ``executemany``: ``executemany`` steps a
statement per row, and Python's ``sqlite3`` releases and retakes the GIL around every step. With a
receiver thread busy in the same process each retake can wait for the interpreter's switch
interval, and even alone the per-row statement costs about 4 µs more per event than a few hundred
rows per statement (``benchmarks/store_write.py``). SQLite's limit of bound variables per
statement (32,766 since 3.32) bounds the rows per statement.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain

import orjson

from sentinel.events import Event, parse_timestamp

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
ROWS_PER_STATEMENT = 500  # 3,500 bound values: far under the limit, large enough to amortise the call
_INSERT_HEAD = "INSERT OR IGNORE INTO events (id, ts, ingested, dataset, org, message, doc) VALUES "
_INDEX_TEXT = (
    "INSERT INTO events_fts (rowid, message) SELECT seq, message FROM events WHERE seq > ? AND message IS NOT NULL"
)
_STATEMENTS: dict[int, str] = {}
_LONG = range(-(2**63), 2**63)  # what a JSON number in the store (and an ECS long) holds

Row = tuple[str, int, int, str, str | None, str | None, str]


def _insert_statement(rows: int) -> str:
    """The INSERT for ``rows`` rows; kept so sqlite3's statement cache sees the same text again."""
    sql = _STATEMENTS.get(rows)
    if sql is None:
        sql = _STATEMENTS[rows] = _INSERT_HEAD + ",".join(("(?,?,?,?,?,?,?)",) * rows)
    return sql


def insert_event_rows(conn: sqlite3.Connection, rows: Sequence[Row]) -> int:
    """Insert ``rows`` (a write transaction must be open) and index their text; returns how many were new.

    New rows get ``seq`` above the current maximum (the transaction holds the file's write lock against
    every process), so the full-text index takes exactly the rows this call created, in one statement.
    """
    last_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    created = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[start : start + ROWS_PER_STATEMENT]
        # rowcount counts the rows this statement inserted; an ignored duplicate adds nothing.
        created += conn.execute(_insert_statement(len(part)), list(chain.from_iterable(part))).rowcount
    if created:
        conn.execute(_INDEX_TEXT, (last_seq,))
    return created


def event_rows(events: Sequence[Event]) -> tuple[list[Row], list[tuple[str, str]]]:
    """Insert rows for the events that can be stored, and (id, reason) for those that cannot.

    Only what the columns need, one orjson call per event. A batch holding the same id twice keeps
    the first (``INSERT OR IGNORE`` within one statement behaves like across statements).
    """
    dumps = orjson.dumps
    ingested_ms: dict[str, int] = {}  # a batch usually shares a handful of ingest times
    now_ms: int | None = None
    rows: list[Row] = []
    failed: list[tuple[str, str]] = []
    append = rows.append
    for ev in events:
        try:
            ts = ev.timestamp
            if ts.tzinfo is None:
                raise ValueError("the timestamp has no time zone")
            if not ev.id or type(ev.id) is not str:
                raise ValueError("the event has no id")
            if not ev.dataset or type(ev.dataset) is not str:
                raise ValueError("the event has no dataset")
            doc = ev.doc
            meta = doc.get("event")
            ingested = meta.get("ingested") if type(meta) is dict else None
            if type(ingested) is str:
                ms = ingested_ms.get(ingested)
                if ms is None:
                    ms = ingested_ms[ingested] = (parse_timestamp(ingested) - _EPOCH) // _MS
            else:
                if now_ms is None:
                    now_ms = (datetime.now(UTC) - _EPOCH) // _MS
                ms = now_ms
            org = doc.get("organization")
            org_id = org.get("id") if type(org) is dict else None
            if org_id is not None and type(org_id) is not str:
                raise ValueError("organization.id must be a string")
            message = doc.get("message")
            try:
                text = dumps(doc).decode()
            except TypeError:  # "Integer exceeds 64-bit range": such numbers are kept as text
                text = dumps(numbers_as_text(doc)).decode()
            append(
                (
                    ev.id,
                    (ts - _EPOCH) // _MS,
                    ms,
                    ev.dataset,
                    org_id,
                    message if type(message) is str else None,
                    text,
                )
            )
        except (TypeError, ValueError, AttributeError) as exc:
            ident = ev.id if isinstance(getattr(ev, "id", None), str) else repr(getattr(ev, "id", None))
            failed.append((ident, f"cannot store event: {exc}"))
    if failed:
        log.warning("%d of %d events could not be stored; first: %s", len(failed), len(events), failed[0])
    return rows, failed


def numbers_as_text(value: object) -> object:
    """A copy of a document with every integer beyond 64 bits as its decimal text."""
    if type(value) is int:
        return value if value in _LONG else str(value)
    if isinstance(value, dict):
        return {k: numbers_as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [numbers_as_text(v) for v in value]
    return value
