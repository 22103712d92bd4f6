# SQL text is assembled from fixed fragments and the query builder's ":pN" placeholders only;
# values are always bound parameters (see sqlite_query), so S608 does not apply.
# ruff: noqa: S608
"""Document collections on SQLite: the SQL for each contract operation, on a given connection.

The store hands these functions a connection inside the right transaction (the writer for
changes, a thread's reader for reads); they hold no state of their own. The version is an
integer column, exposed as a string token; a replace is a compare-and-swap in one UPDATE.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import orjson

from sentinel.errors import ConflictError, NotFoundError, StoreError
from sentinel.store.base import Document, FieldFilter, Scope
from sentinel.store.sqlite_query import document_order, document_where

_COLUMNS = "d.id, d.body, d.version, d.org"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _encode(doc_id: str, body: dict[str, Any]) -> str:
    if not isinstance(doc_id, str) or not doc_id:
        raise StoreError("a document id must be a non-empty string")
    if not isinstance(body, dict):
        raise StoreError(f"document {doc_id!r}: the body must be a mapping, not {type(body).__name__}")
    try:
        return orjson.dumps(body).decode()
    except TypeError as exc:
        raise StoreError(f"document {doc_id!r}: the body cannot be stored as JSON: {exc}") from exc


def _version(token: str) -> int | None:
    """The integer behind a version token; None for a token this backend never issued."""
    return int(token) if isinstance(token, str) and token.isdigit() else None


def _document(row: tuple[Any, ...]) -> Document:
    return Document(id=row[0], body=orjson.loads(row[1]), version=str(row[2]), institution_id=row[3])


def create(
    conn: sqlite3.Connection, collection: str, doc_id: str, body: dict[str, Any], institution_id: str | None
) -> Document:
    encoded = _encode(doc_id, body)
    now = _now_ms()
    try:
        conn.execute(
            "INSERT INTO documents (collection, id, org, version, body, created, updated) VALUES (?, ?, ?, 1, ?, ?, ?)",
            (collection, doc_id, institution_id, encoded, now, now),
        )
    except sqlite3.IntegrityError as exc:
        raise ConflictError(f"{collection}/{doc_id} already exists") from exc
    # Read back through JSON so the caller sees what a later get returns (datetimes as strings).
    return Document(id=doc_id, body=orjson.loads(encoded), version="1", institution_id=institution_id)


def get(conn: sqlite3.Connection, collection: str, doc_id: str, scope: Scope) -> Document | None:
    where = document_where(collection, scope, ())
    where.add(f"d.id = {where.bind(doc_id)}")
    row = conn.execute(f"SELECT {_COLUMNS} FROM documents AS d WHERE {where.sql()}", where.params).fetchone()
    return _document(row) if row is not None else None


def replace(
    conn: sqlite3.Connection,
    collection: str,
    doc_id: str,
    body: dict[str, Any],
    expected_version: str,
    institution_id: str | None,
) -> Document:
    """Compare-and-swap: the UPDATE only matches the row still at the expected version.

    ``institution_id=None`` keeps the document's institution (a replace never silently moves
    a document out of an institution's sight).
    """
    encoded = _encode(doc_id, body)
    expected = _version(expected_version)
    row = None
    if expected is not None:
        row = conn.execute(
            "UPDATE documents SET body = ?, version = version + 1, updated = ?, org = coalesce(?, org) "
            "WHERE collection = ? AND id = ? AND version = ? RETURNING version, org",
            (encoded, _now_ms(), institution_id, collection, doc_id, expected),
        ).fetchone()
    if row is None:
        current = conn.execute(
            "SELECT version FROM documents WHERE collection = ? AND id = ?", (collection, doc_id)
        ).fetchone()
        if current is None:
            raise NotFoundError(f"{collection}/{doc_id} does not exist")
        raise ConflictError(f"{collection}/{doc_id} changed: it is at version {current[0]}, not {expected_version!r}")
    return Document(id=doc_id, body=orjson.loads(encoded), version=str(row[0]), institution_id=row[1])


def delete(conn: sqlite3.Connection, collection: str, doc_id: str, expected_version: str | None) -> bool:
    if expected_version is None:
        cur = conn.execute("DELETE FROM documents WHERE collection = ? AND id = ?", (collection, doc_id))
        return cur.rowcount > 0
    expected = _version(expected_version)
    cur = conn.execute(
        "DELETE FROM documents WHERE collection = ? AND id = ? AND version = ?", (collection, doc_id, expected)
    )
    if cur.rowcount > 0:
        return True
    exists = conn.execute("SELECT 1 FROM documents WHERE collection = ? AND id = ?", (collection, doc_id)).fetchone()
    if exists is not None:
        raise ConflictError(f"{collection}/{doc_id} changed since version {expected_version!r}; not deleted")
    return False


def find(
    conn: sqlite3.Connection,
    collection: str,
    scope: Scope,
    filters: Sequence[FieldFilter],
    sort: str | None,
    descending: bool,
    limit: int,
) -> list[Document]:
    where = document_where(collection, scope, filters)
    order = document_order(sort, descending, where)
    sql = f"SELECT {_COLUMNS} FROM documents AS d WHERE {where.sql()} ORDER BY {order} LIMIT {where.bind(limit)}"
    return [_document(row) for row in conn.execute(sql, where.params)]


def count(conn: sqlite3.Connection, collection: str, scope: Scope, filters: Sequence[FieldFilter]) -> int:
    where = document_where(collection, scope, filters)
    row = conn.execute(f"SELECT count(*) FROM documents AS d WHERE {where.sql()}", where.params).fetchone()
    return int(row[0])
