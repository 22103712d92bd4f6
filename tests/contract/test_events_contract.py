"""The event half of the store contract, run against every available backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sentinel.errors import StoreError
from sentinel.events import Event, new_event
from sentinel.store.base import EventQuery, FieldFilter, Scope, Store

T0 = datetime(2024, 5, 1, tzinfo=UTC)
ALL = Scope.everything()


def ev(
    n: int,
    *,
    seconds: float = 0,
    org: str | None = "org-a",
    dataset: str = "system.auth",
    message: str | None = None,
    ingested: datetime | None = None,
    **fields: Any,
) -> Event:
    doc: dict[str, Any] = dict(fields)
    if org is not None:
        doc["organization"] = {"id": org}
    if message is not None:
        doc["message"] = message
    return new_event(
        event_id=f"ev-{n:04d}",
        timestamp=T0 + timedelta(seconds=seconds),
        dataset=dataset,
        fields=doc,
        ingested=ingested or T0 + timedelta(hours=1),
    )


def ids(events: list[Event]) -> list[str]:
    return [e.id for e in events]


def q(*filters: FieldFilter, **kwargs: Any) -> EventQuery:
    return EventQuery(filters=filters, **kwargs)


@pytest.fixture
def corpus(store: Store) -> Store:
    """Ten events over two institutions, one unattributed, with list, number and boolean fields."""
    events = [
        ev(1, seconds=0, message="Failed password for root from 203.0.113.5 port 4242 ssh2",
           source={"ip": "203.0.113.5", "port": 4242}, user={"name": "root"},
           tags=["ssh", "bruteforce"], event={"category": ["authentication"], "outcome": "failure"}),
        ev(2, seconds=10, message="Failed password for invalid user admin from 203.0.113.5 port 4243 ssh2",
           source={"ip": "203.0.113.5", "port": 4243}, user={"name": "admin"},
           tags=["ssh", "bruteforce"], event={"category": ["authentication"], "outcome": "failure"}),
        ev(3, seconds=20, message="Accepted publickey for deploy from 198.51.100.7 port 50000 ssh2",
           source={"ip": "198.51.100.7", "port": 50000}, user={"name": "deploy"},
           tags=["ssh"], event={"category": ["authentication", "session"], "outcome": "success"}),
        ev(4, seconds=30, org="org-b", message="Failed password for root from 192.0.2.44 port 1000 ssh2",
           source={"ip": "192.0.2.44", "port": 1000}, user={"name": "root"},
           tags=["ssh", "bruteforce"], event={"category": ["authentication"], "outcome": "failure"}),
        ev(5, seconds=40, org="org-b", dataset="nginx.access", message="GET /wp-login.php 404",
           source={"ip": "192.0.2.44"}, http={"response": {"status_code": 404}}, tags=["web"]),
        ev(6, seconds=50, org="org-b", dataset="nginx.access", message="GET /index.html 200",
           source={"ip": "198.51.100.7"}, http={"response": {"status_code": 200}}, tags=[]),
        ev(7, seconds=3600, dataset="nginx.access", message="POST /login 500 100%_done",
           source={"ip": "10.1.2.3"}, http={"response": {"status_code": 500}}, flagged=True),
        ev(8, seconds=3601, dataset="scan.nmap", message="port 22/tcp open ssh OpenSSH 8.9",
           destination={"port": 22}, flagged=False),
        ev(9, seconds=7300, org=None, message="Connection closed by 203.0.113.99",
           source={"ip": "203.0.113.99"}, user={"name": "Root"}),
        ev(10, seconds=7300, org="org-a", message="Disconnected from 203.0.113.5", source={"ip": "203.0.113.5"}),
    ]  # fmt: skip
    result = store.write_events(events)
    assert (result.created, result.duplicates, result.failed) == (10, 0, [])
    return store


# writing ----------------------------------------------------------------------------------


def test_write_is_idempotent_and_counts_exactly(store: Store) -> None:
    first = [ev(i, seconds=i) for i in range(5)]
    assert store.write_events(first).created == 5
    again = store.write_events([*first[:3], ev(10, seconds=10), ev(11, seconds=11)])
    assert (again.created, again.duplicates, again.failed) == (2, 3, [])
    assert store.count_events(EventQuery(), ALL) == 7


def test_duplicate_inside_one_batch_counts_once(store: Store) -> None:
    result = store.write_events([ev(1), ev(1), ev(2)])
    assert (result.created, result.duplicates) == (2, 1)
    assert store.count_events(EventQuery(), ALL) == 2


def test_write_nothing(store: Store) -> None:
    result = store.write_events([])
    assert (result.created, result.duplicates, result.failed) == (0, 0, [])


def test_an_unstorable_event_fails_alone(store: Store) -> None:
    bad = ev(2, message="bad")
    bad.doc["weird"] = {1, 2}  # a set is not JSON
    result = store.write_events([ev(1), bad, ev(3)])
    assert result.created == 2
    assert [fid for fid, _ in result.failed] == ["ev-0002"]
    assert result.failed[0][1]  # a reason is given
    assert sorted(ids(store.search_events(EventQuery(), ALL).events)) == ["ev-0001", "ev-0003"]


def test_events_read_back_unchanged(store: Store) -> None:
    original = ev(1, seconds=1.25, message="Ünïcode — ok", user={"name": "jürgen"}, tags=["a"], score=3.5)
    store.write_events([original])
    [back] = store.search_events(EventQuery(), ALL).events
    assert back.id == original.id
    assert back.dataset == "system.auth"
    assert back.timestamp == T0 + timedelta(seconds=1.25)
    assert back.doc == original.doc


# searching and paging ---------------------------------------------------------------------


def test_order_is_time_then_id(corpus: Store) -> None:
    desc = ids(corpus.search_events(EventQuery(), ALL, limit=100).events)
    assert desc[:2] == ["ev-0010", "ev-0009"]  # same timestamp: id breaks the tie
    assert desc[-1] == "ev-0001"
    asc = ids(corpus.search_events(EventQuery(), ALL, limit=100, order="asc").events)
    assert asc == list(reversed(desc))


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_with_after_cover_everything_once(corpus: Store, order: str) -> None:
    full = ids(corpus.search_events(EventQuery(), ALL, limit=100, order=order).events)  # type: ignore[arg-type]
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = corpus.search_events(EventQuery(), ALL, limit=3, order=order, after=after)  # type: ignore[arg-type]
        assert page.total == 10  # total ignores both limit and after
        seen += ids(page.events)
        after = page.next_after
        if after is None:
            break
    assert seen == full


def test_limit_zero_still_counts(corpus: Store) -> None:
    result = corpus.search_events(EventQuery(), ALL, limit=0)
    assert (result.events, result.total) == ([], 10)


def test_time_range_is_start_inclusive_end_exclusive(corpus: Store) -> None:
    query = EventQuery(start=T0 + timedelta(seconds=10), end=T0 + timedelta(seconds=40))
    assert sorted(ids(corpus.search_events(query, ALL).events)) == ["ev-0002", "ev-0003", "ev-0004"]
    assert corpus.count_events(query, ALL) == 3


def test_time_field_ingested(store: Store) -> None:
    late = T0 + timedelta(days=1)
    store.write_events([ev(1, seconds=0, ingested=late), ev(2, seconds=100, ingested=T0 + timedelta(seconds=5))])
    by_ingest = EventQuery(start=late, time_field="event.ingested")
    assert ids(store.search_events(by_ingest, ALL).events) == ["ev-0001"]
    assert ids(store.search_events(EventQuery(start=late), ALL).events) == []
    page = store.search_events(EventQuery(time_field="event.ingested"), ALL, order="asc")
    assert ids(page.events) == ["ev-0002", "ev-0001"]


def test_datasets(corpus: Store) -> None:
    assert corpus.count_events(EventQuery(datasets=("nginx.access",)), ALL) == 3
    assert corpus.count_events(EventQuery(datasets=("nginx.access", "scan.nmap")), ALL) == 4
    assert corpus.count_events(EventQuery(datasets=("nothing",)), ALL) == 0


# field filters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (FieldFilter("user.name", "eq", "root"), {1, 4}),  # exact and case-sensitive: not "Root"
        (FieldFilter("source.ip", "eq", "203.0.113.5"), {1, 2, 10}),
        (FieldFilter("source.port", "eq", 4242), {1}),
        (FieldFilter("flagged", "eq", True), {7}),
        (FieldFilter("flagged", "eq", False), {8}),
        (FieldFilter("user.name", "neq", "root"), {2, 3, 5, 6, 7, 8, 9, 10}),  # missing counts as "not root"
        (FieldFilter("user.name", "in", ["admin", "deploy", "nobody"]), {2, 3}),
        (FieldFilter("user.name", "in", []), set()),
        (FieldFilter("source.ip", "prefix", "203.0.113."), {1, 2, 9, 10}),
        (FieldFilter("message", "prefix", "failed"), set()),  # prefix is case-sensitive
        (FieldFilter("message", "prefix", "POST /login 500 100%_"), {7}),
        (FieldFilter("message", "prefix", "POST /login 500 100_%"), set()),  # % and _ are literal
        (FieldFilter("user.name", "exists"), {1, 2, 3, 4, 9}),
        (FieldFilter("user.name", "missing"), {5, 6, 7, 8, 10}),
        (FieldFilter("tags", "exists"), {1, 2, 3, 4, 5}),  # an empty list is not a value
        (FieldFilter("source.port", "gt", 4243), {3}),
        (FieldFilter("source.port", "gte", 4243), {2, 3}),
        (FieldFilter("source.port", "lt", 4242), {4}),
        (FieldFilter("source.port", "lte", 4242), {1, 4}),
        (FieldFilter("http.response.status_code", "gte", 404), {5, 7}),
        # list-valued fields match when any element does
        (FieldFilter("tags", "eq", "bruteforce"), {1, 2, 4}),
        (FieldFilter("event.category", "eq", "session"), {3}),
        (FieldFilter("event.category", "in", ["session", "network"]), {3}),
        (FieldFilter("tags", "neq", "ssh"), {5, 6, 7, 8, 9, 10}),
        (FieldFilter("tags", "prefix", "brute"), {1, 2, 4}),
        # fields a backend may serve from dedicated columns behave the same
        (FieldFilter("organization.id", "eq", "org-b"), {4, 5, 6}),
        (FieldFilter("organization.id", "missing"), {9}),
        (FieldFilter("organization.id", "neq", "org-a"), {4, 5, 6, 9}),
        (FieldFilter("event.dataset", "in", ["scan.nmap"]), {8}),
        (FieldFilter("event.dataset", "prefix", "nginx."), {5, 6, 7}),
        (FieldFilter("event.id", "eq", "ev-0003"), {3}),
        (FieldFilter("@timestamp", "gte", T0 + timedelta(seconds=3600)), {7, 8, 9, 10}),
        (FieldFilter("@timestamp", "lt", "2024-05-01T00:00:10Z"), {1}),
        (FieldFilter("@timestamp", "eq", T0 + timedelta(seconds=20)), {3}),
    ],
)
def test_filters(corpus: Store, flt: FieldFilter, expected: set[int]) -> None:
    found = corpus.search_events(q(flt), ALL, limit=100).events
    assert {int(i.removeprefix("ev-")) for i in ids(found)} == expected
    assert corpus.count_events(q(flt), ALL) == len(expected)


def test_filters_combine_with_and(corpus: Store) -> None:
    query = q(
        FieldFilter("tags", "eq", "bruteforce"), FieldFilter("user.name", "eq", "root"), datasets=("system.auth",)
    )
    assert sorted(ids(corpus.search_events(query, ALL).events)) == ["ev-0001", "ev-0004"]


@pytest.mark.parametrize(
    "name", ["", "a b", "user.name'", "a;drop table events", "a..b", ".a", "a.", "x)--", 'a"b', "$.a", "a[0]"]
)
def test_invalid_field_names_are_refused(corpus: Store, name: str) -> None:
    with pytest.raises(StoreError):
        corpus.count_events(q(FieldFilter(name, "eq", "x")), ALL)
    with pytest.raises(StoreError):
        corpus.terms(EventQuery(), ALL, name)


def test_values_are_data_not_query_text(corpus: Store) -> None:
    for value in ["' OR '1'='1", "root' --", '"); DROP TABLE events; --', "%", "_"]:
        assert corpus.count_events(q(FieldFilter("user.name", "eq", value)), ALL) == 0
        assert corpus.count_events(q(FieldFilter("user.name", "prefix", value)), ALL) == 0
    assert corpus.count_events(EventQuery(), ALL) == 10


@pytest.mark.parametrize(
    "flt",
    [
        FieldFilter("user.name", "eq", None),
        FieldFilter("user.name", "in", "root"),  # a string is not a list of values
        FieldFilter("user.name", "prefix", 5),
        FieldFilter("user.name", "eq", {"a": 1}),
        FieldFilter("user.name", "bogus", "x"),  # type: ignore[arg-type]
    ],
)
def test_bad_filter_values_are_refused(corpus: Store, flt: FieldFilter) -> None:
    with pytest.raises(StoreError):
        corpus.count_events(q(flt), ALL)


# full text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password", {1, 2, 4}),
        ("PASSWORD", {1, 2, 4}),  # case-insensitive
        ("failed root", {1, 4}),  # every word must occur, in any order
        ("root failed", {1, 4}),
        ("203.0.113.5", {1, 2, 10}),
        ("publickey deploy", {3}),
        ("nonexistentword", set()),
        ("failed nonexistentword", set()),
    ],
)
def test_full_text(corpus: Store, text: str, expected: set[int]) -> None:
    found = corpus.search_events(EventQuery(text=text), ALL, limit=100).events
    assert {int(i.removeprefix("ev-")) for i in ids(found)} == expected


@pytest.mark.parametrize(
    "text", ['"', "*", "AND", "-", "OR NOT", 'a"b', "(", ")", "NEAR(", "^", "a:b", "password*", "'"]
)
def test_full_text_accepts_any_input(corpus: Store, text: str) -> None:
    result = corpus.search_events(EventQuery(text=text), ALL)  # must not raise
    assert result.total == len(result.events) <= 10


def test_full_text_operator_words_are_plain_words(corpus: Store) -> None:
    assert corpus.count_events(EventQuery(text="password AND"), ALL) == 0  # no message holds "and"
    assert corpus.count_events(EventQuery(text='"password'), ALL) == 3


# scope ------------------------------------------------------------------------------------


def test_institution_scope_sees_only_its_own_rows(corpus: Store) -> None:
    b = Scope.institution("org-b")
    query = EventQuery()
    assert sorted(ids(corpus.search_events(query, b).events)) == ["ev-0004", "ev-0005", "ev-0006"]
    assert corpus.count_events(query, b) == 3
    assert {t.key for t in corpus.terms(query, b, "organization.id")} == {"org-b"}
    assert sum(t.count for t in corpus.terms(query, b, "user.name")) == 1
    assert sum(bucket.count for bucket in corpus.date_histogram(query, b, 60)) == 3
    assert corpus.cardinality(query, b, "source.ip") == 2
    # Asking for another institution's rows inside the scope finds nothing.
    other = q(FieldFilter("organization.id", "eq", "org-a"))
    assert corpus.count_events(other, b) == 0
    assert corpus.search_events(other, b).events == []
    assert corpus.terms(other, b, "user.name") == []
    assert corpus.date_histogram(other, b, 60) == []
    assert corpus.cardinality(other, b, "user.name") == 0
    assert corpus.count_events(EventQuery(text="203.0.113.5"), b) == 0


def test_unattributed_events_are_only_visible_to_everything_scope(corpus: Store) -> None:
    query = q(FieldFilter("event.id", "eq", "ev-0009"))
    assert corpus.count_events(query, ALL) == 1
    assert corpus.count_events(query, Scope.institution("org-a")) == 0
    assert corpus.count_events(query, Scope.institution("unattributed")) == 0


# aggregations -----------------------------------------------------------------------------


def test_terms_most_frequent_first_ties_by_key(corpus: Store) -> None:
    buckets = corpus.terms(EventQuery(), ALL, "source.ip", size=10)
    assert [(b.key, b.count) for b in buckets] == [
        ("203.0.113.5", 3),
        ("192.0.2.44", 2),
        ("198.51.100.7", 2),
        ("10.1.2.3", 1),
        ("203.0.113.99", 1),
    ]
    assert [b.key for b in corpus.terms(EventQuery(), ALL, "source.ip", size=2)] == ["203.0.113.5", "192.0.2.44"]


def test_terms_counts_list_elements_and_fast_fields(corpus: Store) -> None:
    tags = {b.key: b.count for b in corpus.terms(EventQuery(), ALL, "tags")}
    assert tags == {"ssh": 4, "bruteforce": 3, "web": 1}
    datasets = [(b.key, b.count) for b in corpus.terms(EventQuery(), ALL, "event.dataset")]
    assert datasets == [("system.auth", 6), ("nginx.access", 3), ("scan.nmap", 1)]
    orgs = [(b.key, b.count) for b in corpus.terms(EventQuery(), ALL, "organization.id")]
    assert orgs == [("org-a", 6), ("org-b", 3)]  # the unattributed event has no key
    ports = {b.key: b.count for b in corpus.terms(EventQuery(), ALL, "http.response.status_code")}
    assert ports == {200: 1, 404: 1, 500: 1}


def test_terms_respects_the_query(corpus: Store) -> None:
    buckets = corpus.terms(EventQuery(text="failed"), ALL, "user.name")
    assert [(b.key, b.count) for b in buckets] == [("root", 2), ("admin", 1)]
    assert corpus.terms(EventQuery(), ALL, "no.such.field") == []


def test_date_histogram_buckets_are_utc_aligned(corpus: Store) -> None:
    buckets = corpus.date_histogram(EventQuery(), ALL, 3600)
    assert [(b.start, b.count) for b in buckets] == [
        (T0, 6),
        (T0 + timedelta(hours=1), 2),
        (T0 + timedelta(hours=2), 2),
    ]
    assert all(b.start.utcoffset() == timedelta(0) for b in buckets)
    # 7 minutes does not divide the day: buckets still start on multiples of 7 minutes since the epoch.
    for bucket in corpus.date_histogram(EventQuery(), ALL, 420):
        assert int(bucket.start.timestamp()) % 420 == 0
    # empty intervals are omitted
    minutes = corpus.date_histogram(EventQuery(), ALL, 60)
    assert [b.count for b in minutes] == [6, 2, 2]


def test_date_histogram_on_ingest_time(store: Store) -> None:
    store.write_events(
        [
            ev(1, seconds=0, ingested=T0 + timedelta(days=2, minutes=1)),
            ev(2, seconds=1, ingested=T0 + timedelta(days=2, minutes=2)),
            ev(3, seconds=2, ingested=T0 + timedelta(days=3)),
        ]
    )
    buckets = store.date_histogram(EventQuery(time_field="event.ingested"), ALL, 86400)
    assert [(b.start, b.count) for b in buckets] == [(T0 + timedelta(days=2), 2), (T0 + timedelta(days=3), 1)]


def test_cardinality(corpus: Store) -> None:
    assert corpus.cardinality(EventQuery(), ALL, "source.ip") == 5
    assert corpus.cardinality(EventQuery(), ALL, "user.name") == 4  # "root" and "Root" differ
    assert corpus.cardinality(EventQuery(), ALL, "tags") == 3
    assert corpus.cardinality(EventQuery(), ALL, "event.dataset") == 3
    assert corpus.cardinality(EventQuery(datasets=("scan.nmap",)), ALL, "source.ip") == 0


@pytest.mark.parametrize("interval", [0, -60])
def test_bad_histogram_interval_is_refused(corpus: Store, interval: int) -> None:
    with pytest.raises(StoreError):
        corpus.date_histogram(EventQuery(), ALL, interval)


# retention --------------------------------------------------------------------------------


def test_retention_removes_only_older_events_and_their_text(corpus: Store) -> None:
    deleted = corpus.delete_events_before(T0 + timedelta(seconds=3600))
    assert deleted == 6 or corpus.name != "sqlite"  # Elasticsearch may return an estimate
    assert sorted(ids(corpus.search_events(EventQuery(), ALL).events)) == ["ev-0007", "ev-0008", "ev-0009", "ev-0010"]
    assert corpus.count_events(EventQuery(text="password"), ALL) == 0
    assert corpus.count_events(EventQuery(text="203.0.113.5"), ALL) == 1
    assert corpus.delete_events_before(T0) == 0
    # a deleted id can be written again (it is gone, not remembered)
    assert corpus.write_events([ev(1, message="again password")]).created == 1
    assert ids(corpus.search_events(EventQuery(text="password"), ALL).events) == ["ev-0001"]


def test_retention_of_everything_leaves_no_stale_text(corpus: Store) -> None:
    # Deleting every event and writing new ones must not let old words find the new events
    # (a stale full-text entry would, once the new rows take the old rows' places).
    corpus.delete_events_before(T0 + timedelta(days=365))
    assert corpus.count_events(EventQuery(), ALL) == 0
    corpus.write_events([ev(n, seconds=n, message=f"fresh line {n}") for n in range(20, 32)])
    assert corpus.count_events(EventQuery(text="password"), ALL) == 0
    assert corpus.count_events(EventQuery(text="203.0.113.5"), ALL) == 0
    assert corpus.count_events(EventQuery(text="fresh"), ALL) == 12
