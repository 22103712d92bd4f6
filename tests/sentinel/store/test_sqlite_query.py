"""The SQL builder on its own: field names, full-text quoting, and that values never reach SQL text."""

from __future__ import annotations

import sqlite3

import pytest

from sentinel.errors import StoreError
from sentinel.store.base import EventQuery, FieldFilter, Scope
from sentinel.store.sqlite_query import event_where, fts_query, json_path


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("user.name", '$."user"."name"'),
        ("@timestamp", '$."@timestamp"'),
        ("http.response.status_code", '$."http"."response"."status_code"'),
    ],
)
def test_json_path(name: str, path: str) -> None:
    assert json_path(name) == path


@pytest.mark.parametrize("name", ["", "a b", "a..b", "a.", "a'b", 'a"b', "a[0]", "a-b", "ü", "a\nb"])
def test_json_path_refuses(name: str) -> None:
    with pytest.raises(StoreError, match="invalid field name"):
        json_path(name)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("failed password", '"failed" AND "password"'),
        ('say "hi"', '"say" AND """hi"""'),
        ("AND OR NOT", '"AND" AND "OR" AND "NOT"'),
        ("a* -b", '"a*" AND "-b"'),
        ("- * ( )", None),
        ("", None),
    ],
)
def test_fts_query_quotes_every_word(text: str, match: str | None) -> None:
    assert fts_query(text) == match


@pytest.mark.parametrize("text", ['"', 'a"b', "NEAR(a b)", "a:b", "^x", "{col}: x", "x AND", "\\", "'; --"])
def test_fts_query_is_always_valid_fts5(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(message)")
        conn.execute("INSERT INTO t VALUES ('a b x hi col')")
        match = fts_query(text)
        if match is not None:
            conn.execute("SELECT count(*) FROM t WHERE t MATCH ?", (match,)).fetchone()
    finally:
        conn.close()


def test_values_and_paths_are_bound_not_inlined() -> None:
    hostile = "x' OR 1=1 --"
    where = event_where(
        EventQuery(
            filters=(
                FieldFilter("user.name", "eq", hostile),
                FieldFilter("source.ip", "prefix", hostile),
                FieldFilter("tags", "in", [hostile]),
            ),
            datasets=(hostile, "b"),
            text=hostile,
        ),
        Scope.institution(hostile),
    )
    sql = where.sql()
    assert hostile not in sql and "user" not in sql and "source" not in sql
    assert hostile in where.params.values()
    assert '$."user"."name"' in where.params.values()
