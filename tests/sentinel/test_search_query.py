import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.errors import QueryError
from sentinel.search_query import format_cursor, parse_cursor, parse_search
from sentinel.store.base import FieldFilter, Scope
from sentinel.store.elastic_query import event_query
from sentinel.store.sqlite import SqliteStore


def test_fields_words_prefix_negation_exists() -> None:
    q = parse_search(
        'source.ip:10.0.0.1 "invalid user" -user.name:root url.path:/admin* host.hostname:* event.dataset:system.auth x:404'
    )
    assert q.text == "invalid user"
    assert q.datasets == ("system.auth",)
    assert FieldFilter("source.ip", "eq", "10.0.0.1") in q.filters
    assert FieldFilter("user.name", "neq", "root") in q.filters
    assert FieldFilter("url.path", "prefix", "/admin") in q.filters
    assert FieldFilter("host.hostname", "exists") in q.filters
    assert FieldFilter("x", "eq", 404) in q.filters


def test_empty_query_and_unbalanced_quote() -> None:
    assert parse_search("").text is None
    try:
        parse_search('"open')
    except ValueError as exc:
        assert "cannot read" in str(exc)
    else:
        raise AssertionError("an unbalanced quote must be refused")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("a..b:x", "invalid field name 'a..b'"),  # reached the store: a 503
        ("a.:x", "invalid field name"),
        ("-a.b.:x", "invalid field name"),
        ("@timestamp:abc", "'abc' is not a time"),  # reached the store: a 503 logged as an error
        ("event.ingested:99999999999999999999", "out of range"),
        ("@timestamp:2025*", "takes a time, not a prefix"),
        ("source.ip:10.1*", "ends at a dot between octets"),  # Elasticsearch refused it with a 503
        ("source.ip:10.1.300.*", "ends at a dot between octets"),
        ("user.name:\udcff", "not valid text"),  # undecodable bytes from the command line
    ],
)
def test_bad_queries_are_refused_before_the_store(query: str, problem: str) -> None:
    with pytest.raises(QueryError, match=re.escape(problem)):
        parse_search(query)


def test_good_time_and_address_terms() -> None:
    q = parse_search("@timestamp:2025-01-31T10:00:00Z event.ingested:1738317600000 source.ip:10.1.* x:²")
    assert FieldFilter("@timestamp", "eq", "2025-01-31T10:00:00Z") in q.filters
    assert FieldFilter("event.ingested", "eq", 1738317600000) in q.filters
    assert FieldFilter("source.ip", "prefix", "10.1.") in q.filters
    assert FieldFilter("x", "eq", "²") in q.filters  # a digit to str.isdigit, not to int() (a 500 before)


@pytest.mark.parametrize(
    "cursor",
    [
        "99999999999999999999999:x",
        "9223372036854775808:x",
        "1:",
        ":x",
        "abc:x",
        "²:x",
        "-1:x",
        "1",
        "1:a\nb",
        "1:\udcff",
    ],
)
def test_bad_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(QueryError, match=r"invalid 'after' cursor|not valid text"):
        parse_cursor(cursor)


def test_cursor_round_trip() -> None:
    assert parse_cursor(format_cursor((9223372036854775807, "ev:1"))) == (9223372036854775807, "ev:1")


@pytest.fixture(scope="module")
def query_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path_factory.mktemp("queries") / "sentinel.db")
    store.setup()
    yield store
    store.close()


_QUERY_TEXT = st.lists(
    st.sampled_from([*"ab.@:*-\" '\\x1²é\udcff", "@timestamp", "source.ip", "event.dataset", "10", "."]),
    max_size=20,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_QUERY_TEXT)
def test_any_query_is_refused_clearly_or_runs_on_both_stores(query_store: SqliteStore, text: str) -> None:
    try:
        query = parse_search(text)
    except QueryError:
        return
    event_query(query, Scope.institution("moh"))  # the Elasticsearch request: no StoreError
    query_store.search_events(query, Scope.institution("moh"), limit=5)  # SQLite: no StoreError
