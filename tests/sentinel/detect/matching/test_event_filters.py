"""Field filters evaluated on documents select exactly the events the SQLite store selects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.detect.matching.event_filters import compile_filters
from sentinel.events import new_event
from sentinel.store.base import EventQuery, FieldFilter, Scope
from sentinel.store.sqlite import SqliteStore

T0 = datetime(2024, 5, 1, tzinfo=UTC)

DOCS: list[dict[str, Any]] = [
    {"user": {"name": "root"}, "n": 5, "flag": True},
    {"user": {"name": "Root"}, "n": "5", "flag": False},
    {"user": {"name": ["admin", "root"]}, "n": 5.0, "tags": ["a", None]},
    {"user": {"name": None}, "n": [1, 7], "tags": []},
    {"user": {"name": "rootkit"}, "n": 1, "obj": {"k": None}},
    {"user": "root", "n": True, "obj": {"k": 1}},
    {"user.name": "root", "n": 0},  # a top-level dotted key is not the nested field
    {"other": 1, "tags": [None]},
    {"user": {"name": ["ro", 5, True]}, "n": [True, "x"]},
]

FILTERS: list[FieldFilter] = [
    FieldFilter("user.name", "eq", "root"),
    FieldFilter("user.name", "neq", "root"),
    FieldFilter("user.name", "in", ["root", "admin"]),
    FieldFilter("user.name", "in", [5, "ro"]),
    FieldFilter("user.name", "eq", 5),
    FieldFilter("user.name", "eq", True),
    FieldFilter("user.name", "prefix", "roo"),
    FieldFilter("user.name", "prefix", "Ro"),
    FieldFilter("user.name", "exists"),
    FieldFilter("user.name", "missing"),
    FieldFilter("user.name", "gt", "r"),
    FieldFilter("user.name", "lte", "root"),
    FieldFilter("n", "eq", 5),
    FieldFilter("n", "eq", "5"),
    FieldFilter("n", "eq", 1),
    FieldFilter("n", "eq", True),
    FieldFilter("n", "neq", 5),
    FieldFilter("n", "in", [1.0, 7]),
    FieldFilter("n", "gt", 1),
    FieldFilter("n", "gte", 1),
    FieldFilter("n", "lt", 5),
    FieldFilter("n", "lt", "6"),
    FieldFilter("flag", "eq", True),
    FieldFilter("flag", "eq", 0),
    FieldFilter("tags", "exists"),
    FieldFilter("tags", "missing"),
    FieldFilter("obj", "exists"),
    FieldFilter("obj.k", "exists"),
    FieldFilter("user", "eq", "root"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    path: Path = tmp_path_factory.mktemp("filters") / "s.db"
    s = SqliteStore(path)
    s.setup()
    events = [
        new_event(event_id=f"d{i}", timestamp=T0 + timedelta(seconds=i), dataset="test.docs", fields=doc)
        for i, doc in enumerate(DOCS)
    ]
    s.write_events(events)
    yield s
    s.close()


def _stored(store: SqliteStore) -> dict[str, dict[str, Any]]:
    page = store.search_events(EventQuery(datasets=("test.docs",)), Scope.everything(), limit=100, order="asc")
    return {e.id: e.doc for e in page.events}


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: f"{f.field}-{f.op}-{f.value!r}")
def test_a_filter_selects_what_the_store_selects(store: SqliteStore, flt: FieldFilter) -> None:
    pred = compile_filters([flt])
    assert pred is not None
    docs = _stored(store)
    query = EventQuery(datasets=("test.docs",), filters=(flt,))
    wanted = {e.id for e in store.search_events(query, Scope.everything(), limit=100).events}
    assert {i for i, doc in docs.items() if pred(doc)} == wanted


def test_filters_are_a_conjunction(store: SqliteStore) -> None:
    filters = [FieldFilter("user.name", "exists"), FieldFilter("n", "eq", 5)]
    pred = compile_filters(filters)
    assert pred is not None
    wanted = {
        e.id
        for e in store.search_events(
            EventQuery(datasets=("test.docs",), filters=tuple(filters)), Scope.everything(), limit=100
        ).events
    }
    assert {i for i, doc in _stored(store).items() if pred(doc)} == wanted == {"d0", "d2"}
    always = compile_filters([])
    assert always is not None and always({})


@pytest.mark.parametrize(
    "flt",
    [
        FieldFilter("organization.id", "eq", "moh"),  # a column with its own conversions
        FieldFilter("@timestamp", "gt", "2024-01-01"),
        FieldFilter("user.name", "eq", None),  # the store refuses it: the store says so
        FieldFilter("user.name", "eq", T0),  # datetimes are formatted by the store
        FieldFilter("user.name", "in", "root"),
        FieldFilter("user.name", "prefix", 5),
        FieldFilter("bad..field", "eq", "x"),
    ],
)
def test_what_must_stay_in_the_store_does_not_compile(flt: FieldFilter) -> None:
    assert compile_filters([flt]) is None
    assert compile_filters([FieldFilter("user.name", "eq", "root"), flt]) is None


@pytest.mark.parametrize(
    "name", ["user.name", "user", "n", "tags", "obj.k", "user.name.x", "missing.field", "derived.clock_skew_seconds"]
)
def test_field_reader_reads_what_read_field_reads(name: str) -> None:
    from collections import OrderedDict

    from sentinel.detect.matching.field_values import field_reader, read_field

    docs = [*DOCS, {"@timestamp": "2024-05-01T00:00:10Z", "event": {"created": "2024-05-01T00:00:00Z"}}]
    docs.append({"user": OrderedDict(name="mapping, not dict")})  # any Mapping, as read_field allows
    read = field_reader(name)
    for doc in docs:
        assert read(doc) == read_field(doc, name)


def test_three_filters_are_a_conjunction(store: SqliteStore) -> None:
    filters = [FieldFilter("user.name", "exists"), FieldFilter("n", "gte", 1), FieldFilter("user.name", "neq", "ro")]
    pred = compile_filters(filters)
    assert pred is not None
    query = EventQuery(datasets=("test.docs",), filters=tuple(filters))
    wanted = {e.id for e in store.search_events(query, Scope.everything(), limit=100).events}
    assert {i for i, doc in _stored(store).items() if pred(doc)} == wanted == {"d0", "d2", "d4"}
