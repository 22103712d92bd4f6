# SQL text is assembled from fixed fragments and the query builder's ":pN" placeholders only;
# values are always bound parameters (see sqlite_query), so S608 does not apply.
# ruff: noqa: S608
"""The embedded store: one SQLite file in WAL mode, behind the ``Store`` contract.

How connections are shared between threads and processes is in ``sqlite_connections``; the
SQL for queries in ``sqlite_query``, for documents in ``sqlite_documents``, the schema in
``sqlite_schema``. This module is the contract's methods and the ingestion hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from sentinel.errors import StoreError
from sentinel.events import Event
from sentinel.private_files import private_directory, private_file, tighten_if_present
from sentinel.store import sqlite_documents as documents
from sentinel.store.base import (
    UNCOUNTED,
    Document,
    DocumentWrite,
    EventQuery,
    FieldFilter,
    Scope,
    SearchResult,
    Store,
    TermBucket,
    TimeBucket,
    WriteResult,
    check_collection,
)
from sentinel.store.sqlite_connections import Connections
from sentinel.store.sqlite_query import event_page, event_where, field_values, from_millis, millis, time_column
from sentinel.store.sqlite_schema import migrate
from sentinel.store.sqlite_writes import event_rows, insert_event_rows

log = logging.getLogger(__name__)

_SKIP_TYPES = "('object', 'array', 'null')"  # values an aggregation does not count


class SqliteStore(Store):
    name = "sqlite"

    def __init__(
        self, path: Path, *, busy_timeout: float = 10.0, retention_chunk: int = 5000, sync_commits: bool = False
    ) -> None:
        self.path = Path(path)
        self.retention_chunk = retention_chunk
        self.connections = Connections(self.path, busy_timeout=busy_timeout, sync_commits=sync_commits)

    # lifecycle -------------------------------------------------------------------------
    def setup(self) -> None:
        # Every institution's events and the outbox: the directory 0700, the database 0600. SQLite gives
        # the -wal and -shm files the database file's mode; ones left from before are tightened here.
        private_directory(self.path.parent)
        private_file(self.path)
        for suffix in ("-wal", "-shm", "-journal"):
            tighten_if_present(self.path.with_name(self.path.name + suffix))
        with self.connections.locked_writer("set up") as conn:
            migrate(conn)
            if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) != 2:
                log.info(
                    "%s was created before incremental vacuum: space freed by retention is reused but the "
                    "file does not shrink (a one-off offline VACUUM after 'PRAGMA auto_vacuum = INCREMENTAL' "
                    "changes that)",
                    self.path,
                )

    def close(self) -> None:
        self.connections.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # events: writing -------------------------------------------------------------------
    def write_events(self, events: Sequence[Event]) -> WriteResult:
        rows, failed = event_rows(events)
        if not rows:
            return WriteResult(failed=failed)
        with self.connections.write("write events") as conn:
            created = insert_event_rows(conn, rows)
        return WriteResult(created=created, duplicates=len(rows) - created, failed=failed)

    def delete_events_before(self, cutoff: datetime) -> int:
        cut = millis(cutoff)
        total = 0
        while True:
            # One chunk per transaction, releasing the lock between chunks, so other writers
            # (collectors) are never held up for a whole retention run.
            with self.connections.write("delete old events") as conn:
                deleted = conn.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts < ? LIMIT ?)",
                    (cut, self.retention_chunk),
                ).rowcount
            total += deleted
            if deleted < self.retention_chunk:
                break
        if total:
            given = self.connections.give_space_back()
            log.info(
                "retention removed %d events before %s and gave %.1f MB back to the file system",
                total,
                cutoff.isoformat(),
                given / (1024 * 1024),
            )
        return total

    # events: reading -------------------------------------------------------------------
    def search_events(
        self,
        query: EventQuery,
        scope: Scope,
        *,
        limit: int = 100,
        order: Literal["asc", "desc"] = "desc",
        after: tuple[int, str] | None = None,
        with_total: bool = True,
    ) -> SearchResult:
        if not isinstance(limit, int) or limit < 0:
            raise StoreError(f"limit must be a non-negative integer, not {limit!r}")
        if order not in ("asc", "desc"):
            raise StoreError(f"order must be 'asc' or 'desc', not {order!r}")
        where = event_where(query, scope)
        count_sql = f"SELECT count(*) FROM events AS e WHERE {where.sql()}"
        after_pair = _check_after(after) if after is not None else None
        page_sql, page_params = event_page(query, scope, order, after_pair, limit)
        with self.connections.read("search events") as conn:
            # The count reads the whole range: a reader paging through it asks not to pay that per page.
            total = int(conn.execute(count_sql, where.params).fetchone()[0]) if with_total else UNCOUNTED
            rows = conn.execute(page_sql, page_params).fetchall() if limit else []
        more = len(rows) > limit
        rows = rows[:limit]
        # runs for every event detection reads: the datetime is built only if asked (``Event.stored``)
        loads, make = orjson.loads, Event.stored
        events = [make(r[0], r[1], r[2], loads(r[3])) for r in rows]
        next_after = (int(rows[-1][4]), str(rows[-1][0])) if more else None
        return SearchResult(events=events, total=total, next_after=next_after)

    def count_events(self, query: EventQuery, scope: Scope) -> int:
        where = event_where(query, scope)
        with self.connections.read("count events") as conn:
            return int(
                conn.execute(f"SELECT count(*) FROM events AS e WHERE {where.sql()}", where.params).fetchone()[0]
            )

    def terms(self, query: EventQuery, scope: Scope, field: str, size: int = 10) -> list[TermBucket]:
        if not isinstance(size, int) or size < 1:
            raise StoreError(f"size must be a positive integer, not {size!r}")
        where = event_where(query, scope)
        extra, value, kind = field_values(field, where)
        sql = (
            f"SELECT {value}, {kind}, count(*) AS n FROM events AS e{extra} "
            f"WHERE {where.sql()} AND {kind} NOT IN {_SKIP_TYPES} "
            f"GROUP BY {value}, {kind} ORDER BY n DESC, {value} ASC LIMIT {where.bind(size)}"
        )
        with self.connections.read("aggregate terms") as conn:
            rows = conn.execute(sql, where.params).fetchall()
        return [TermBucket(key=_typed(v, t), count=int(n)) for v, t, n in rows]

    def date_histogram(self, query: EventQuery, scope: Scope, interval_seconds: int) -> list[TimeBucket]:
        if not isinstance(interval_seconds, int) or interval_seconds < 1:
            raise StoreError(f"interval_seconds must be a positive integer, not {interval_seconds!r}")
        where = event_where(query, scope)
        tcol = time_column(query)
        w = where.bind(interval_seconds * 1000)
        # Floor to the interval from the epoch; the double modulo also floors times before 1970.
        sql = (
            f"SELECT {tcol} - ((({tcol} % {w}) + {w}) % {w}) AS b, count(*) FROM events AS e "
            f"WHERE {where.sql()} GROUP BY b ORDER BY b"
        )
        with self.connections.read("aggregate histogram") as conn:
            rows = conn.execute(sql, where.params).fetchall()
        return [TimeBucket(start=from_millis(b), count=int(n)) for b, n in rows]

    def cardinality(self, query: EventQuery, scope: Scope, field: str) -> int:
        where = event_where(query, scope)
        extra, value, kind = field_values(field, where)
        sql = (
            f"SELECT count(DISTINCT {value}) FROM events AS e{extra} "
            f"WHERE {where.sql()} AND {kind} NOT IN {_SKIP_TYPES}"
        )
        with self.connections.read("count distinct values") as conn:
            return int(conn.execute(sql, where.params).fetchone()[0])

    # documents -------------------------------------------------------------------------
    def create_document(
        self, collection: str, doc_id: str, body: dict[str, Any], *, institution_id: str | None = None
    ) -> Document:
        check_collection(collection)
        with self.connections.write("create a document") as conn:
            return documents.create(conn, collection, doc_id, body, institution_id)

    def get_document(self, collection: str, doc_id: str, scope: Scope) -> Document | None:
        check_collection(collection)
        with self.connections.read("read a document") as conn:
            return documents.get(conn, collection, doc_id, scope)

    def replace_document(
        self,
        collection: str,
        doc_id: str,
        body: dict[str, Any],
        *,
        expected_version: str,
        institution_id: str | None = None,
    ) -> Document:
        check_collection(collection)
        with self.connections.write("replace a document") as conn:
            return documents.replace(conn, collection, doc_id, body, expected_version, institution_id)

    def delete_document(self, collection: str, doc_id: str, *, expected_version: str | None = None) -> bool:
        check_collection(collection)
        with self.connections.write("delete a document") as conn:
            return documents.delete(conn, collection, doc_id, expected_version)

    def find_documents(
        self,
        collection: str,
        scope: Scope,
        filters: Sequence[FieldFilter] = (),
        *,
        sort: str | None = None,
        descending: bool = False,
        limit: int = 100,
    ) -> list[Document]:
        check_collection(collection)
        if not isinstance(limit, int) or limit < 0:
            raise StoreError(f"limit must be a non-negative integer, not {limit!r}")
        with self.connections.read("find documents") as conn:
            return documents.find(conn, collection, scope, filters, sort, descending, limit)

    def count_documents(self, collection: str, scope: Scope, filters: Sequence[FieldFilter] = ()) -> int:
        check_collection(collection)
        with self.connections.read("count documents") as conn:
            return documents.count(conn, collection, scope, filters)

    def write_documents(self, writes: Sequence[DocumentWrite]) -> list[Document]:
        for write in writes:
            check_collection(write.collection)
        written: list[Document] = []
        # One transaction: an error in any write rolls back all of them.
        with self.connections.write("write documents") as conn:
            for w in writes:
                if w.expected_version is None:
                    written.append(documents.create(conn, w.collection, w.doc_id, w.body, w.institution_id))
                else:
                    written.append(
                        documents.replace(conn, w.collection, w.doc_id, w.body, w.expected_version, w.institution_id)
                    )
        return written


def _check_after(after: Any) -> tuple[int, str]:
    if (
        not isinstance(after, tuple | list)
        or len(after) != 2
        or not isinstance(after[0], int)
        or isinstance(after[0], bool)
        or not isinstance(after[1], str)
    ):
        raise StoreError(f"after must be the (time, id) pair a previous search returned, not {after!r}")
    return int(after[0]), after[1]


def _typed(value: Any, kind: str) -> Any:
    """Give JSON booleans back as booleans (SQLite reports them as 1 and 0)."""
    if kind == "true":
        return True
    if kind == "false":
        return False
    return value


__all__ = ["SqliteStore"]
