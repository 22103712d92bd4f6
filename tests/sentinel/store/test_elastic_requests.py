"""The Elasticsearch backend's exact requests, sent by the official client to a recording server.

Each request is checked against the documented API (Elasticsearch 8.x reference):
- _bulk: NDJSON action/source pairs; "Data streams support only the create action".
- index templates: ``index_patterns`` + ``data_stream: {}`` + ``composed_of`` component templates.
- ILM: ``PUT _ilm/policy/<name>`` with ``{"policy": {"phases": ...}}``.
- search: ``bool.filter``, ``sort`` + ``search_after`` (the last hit's sort values), ``track_total_hits``.
- optimistic concurrency control: ``if_seq_no``/``if_primary_term`` on index/delete,
  ``seq_no_primary_term: true`` on search, 409 ``version_conflict_engine_exception``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import elasticsearch
import pytest

from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.config import ElasticsearchSettings
from sentinel.errors import ConfigError, ConflictError, NotFoundError, StoreError
from sentinel.events import Event, make_event_id, new_event
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import COLLECTIONS, UNCOUNTED, EventQuery, FieldFilter, Scope
from sentinel.store.elastic import ElasticStore
from sentinel.store.elastic_client import build_client
from tests.conftest import free_port
from tests.support.es_recorder import FakeElasticsearch

PREFIX = "sen"
EVENTS = f"{PREFIX}-events"  # the ILM policy and index template
EVENT_INDICES = f"{EVENTS}-*"  # what reads address
T0 = datetime(2024, 6, 1, 10, 0, 0, tzinfo=UTC)
ORG_A = Scope.institution("moh")


@pytest.fixture
def fake() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as server:
        yield server


@pytest.fixture
def store(fake: FakeElasticsearch) -> Iterator[ElasticStore]:
    instance = ElasticStore.from_settings(
        ElasticsearchSettings(url=fake.url, index_prefix=PREFIX, request_timeout=5), retention_days=30
    )
    instance.setup()
    fake.clear()
    try:
        yield instance
    finally:
        instance.close()


def event(n: int, org: str = "moh", message: str = "Failed password for root") -> Event:
    raw = f"line {n}"
    return new_event(
        event_id=make_event_id("test", raw),
        timestamp=T0 + timedelta(seconds=n),
        dataset="sshd.auth",
        fields={"message": message, "organization": {"id": org}, "source": {"ip": "10.1.2.3"}},
        ingested=T0 + timedelta(seconds=n, milliseconds=5),
    )


def hit(ev: Event) -> dict[str, Any]:
    return {"_index": f"{EVENTS}-2024.06.01", "_id": ev.id, "_source": ev.doc, "sort": [ev.timestamp_ms, ev.id]}


def search_answer(events: list[Event], total: int) -> dict[str, Any]:
    return {"hits": {"total": {"value": total, "relation": "eq"}, "hits": [hit(e) for e in events]}}


def sent_query(fake: FakeElasticsearch, suffix: str = "/_search") -> dict[str, Any]:
    body: dict[str, Any] = fake.last("POST", suffix=suffix).json()
    return body


# setup ----------------------------------------------------------------------------------


def test_setup_installs_ilm_templates_and_collection_indices(fake: FakeElasticsearch) -> None:
    with ElasticStore.from_settings(ElasticsearchSettings(url=fake.url, index_prefix=PREFIX), retention_days=30) as s:
        s.setup()
    policy = fake.last("PUT", f"/_ilm/policy/{EVENTS}").json()["policy"]
    assert "rollover" not in policy["phases"]["hot"]["actions"]  # one index per day, by the events' own time
    # Age counts from the start of the index's day (parsed from its name); a day more keeps its last events 30 days.
    assert policy["phases"]["delete"] == {"min_age": "31d", "actions": {"delete": {}}}

    settings = fake.last("PUT", f"/_component_template/{EVENTS}-settings").json()["template"]["settings"]
    assert settings["index.lifecycle.name"] == EVENTS
    assert settings["index.lifecycle.parse_origination_date"] is True
    assert settings["index.mapping.ignore_malformed"] is True

    mappings = fake.last("PUT", f"/_component_template/{EVENTS}-mappings").json()["template"]["mappings"]
    props = mappings["properties"]
    assert props["@timestamp"] == {"type": "date"}
    for endpoint in ("source", "destination", "host", "client", "server", "observer"):
        assert props[endpoint]["properties"]["ip"] == {"type": "ip"}, endpoint
    assert props["message"]["type"] == "text"
    assert props["message"]["fields"]["keyword"] == {"type": "keyword", "ignore_above": 8191}
    assert props["event"]["properties"]["original"] == {"type": "keyword", "index": False, "doc_values": False}
    for name in ("id", "dataset", "action", "module", "category", "outcome"):
        assert props["event"]["properties"][name]["type"] == "keyword", name
    assert props["event"]["properties"]["ingested"] == {"type": "date"}
    assert props["organization"]["properties"]["id"]["type"] == "keyword"
    assert props["user"]["properties"]["name"]["type"] == "keyword"
    assert mappings["dynamic_templates"] == [
        {"strings_as_keyword": {"match_mapping_type": "string", "mapping": {"type": "keyword", "ignore_above": 1024}}}
    ]

    template = fake.last("PUT", f"/_index_template/{EVENTS}").json()
    assert template["index_patterns"] == [EVENT_INDICES]
    assert "data_stream" not in template  # a data stream's write index moves on rollover: see the bulk tests
    assert template["composed_of"] == [f"{EVENTS}-mappings", f"{EVENTS}-settings"]
    assert template["priority"] > 100  # above the built-in logs-*-* templates
    assert not fake.matching("PUT", f"/_data_stream/{EVENTS}")
    # The pattern must not take in a collection's index.
    assert not any(f"{PREFIX}-{c}".startswith(EVENT_INDICES.rstrip("*")) for c in COLLECTIONS)

    for collection in COLLECTIONS:
        body = fake.last("PUT", f"/{PREFIX}-{collection}").json()
        doc_props = body["mappings"]["properties"]
        assert doc_props["institution_id"] == {"type": "keyword"}
        assert doc_props["body"] == {"type": "object", "dynamic": True}
        assert body["mappings"]["dynamic"] == "strict"
    # ILM first (the template names it).
    order = [r.path for r in fake.requests if r.method == "PUT"]
    assert order.index(f"/_ilm/policy/{EVENTS}") < order.index(f"/_index_template/{EVENTS}")


def test_setup_twice_tolerates_existing_indices(fake: FakeElasticsearch, store: ElasticStore) -> None:
    store.setup()  # the fixture already ran it once: every creation now answers 400 "already exists"
    assert fake.matching("PUT", f"/{PREFIX}-alerts")


def test_every_request_asks_for_the_8x_rest_api(fake: FakeElasticsearch, store: ElasticStore) -> None:
    store.write_events([event(1)])
    store.count_events(EventQuery(), Scope.everything())
    for req in fake.requests:
        assert req.headers["accept"].endswith("compatible-with=8"), req.path
        if req.body:
            assert req.headers["content-type"].endswith("compatible-with=8"), req.path
    assert fake.last("PUT", "/_bulk").headers["content-type"].startswith("application/vnd.elasticsearch+x-ndjson")


def test_the_fake_refuses_the_9x_default_like_a_real_8x_server(fake: FakeElasticsearch) -> None:
    """Guards the test double itself: without ``CompatibleTransport`` the 9.x client fails on 8.x."""
    if elasticsearch.__versionstr__.startswith("8."):
        pytest.skip("an 8.x client asks for compatible-with=8 by itself")
    with elasticsearch.Elasticsearch(fake.url) as plain, pytest.raises(elasticsearch.BadRequestError) as err:
        plain.count(index="x")
    assert "media_type_header_exception" in str(err.value)


# write_events ---------------------------------------------------------------------------


def test_bulk_body_is_create_actions_with_event_ids(fake: FakeElasticsearch, store: ElasticStore) -> None:
    events = [event(1), event(2, org="tra")]
    result = store.write_events(events)
    assert (result.created, result.duplicates, result.failed) == (2, 0, [])
    req = fake.last("PUT", "/_bulk")
    lines = req.ndjson()
    assert lines == [
        {"create": {"_index": f"{EVENTS}-2024.06.01", "_id": events[0].id}},
        events[0].doc,
        {"create": {"_index": f"{EVENTS}-2024.06.01", "_id": events[1].id}},
        events[1].doc,
    ]
    assert req.body.endswith(b"\n")  # the bulk API requires the final newline
    assert req.query["filter_path"] == "errors,items.*.status,items.*._id,items.*.error"
    assert "refresh" not in req.query  # ingest does not wait for refreshes


def test_the_same_line_of_two_institutions_is_two_documents(fake: FakeElasticsearch, store: ElasticStore) -> None:
    # The _id is the event id (sentinel.events.event_id): one per institution, so a "create" of one
    # institution's event never collides with (or reveals) the other's.
    normalizer = Normalizer(Inventory([Institution(id="moh", name="MoH"), Institution(id="tra", name="TRA")]))
    line = RawRecord(b"<13>Jun  1 10:00:00 gw app: link down", T0.timestamp(), "http:fw", "http")
    ours, theirs = (normalizer.normalize(line, sender=Institution(id=i, name=i)) for i in ("moh", "tra"))
    assert store.write_events([ours, theirs]).created == 2
    ids = [action["create"]["_id"] for action in fake.last("PUT", "/_bulk").ndjson()[::2]]
    assert ids == [ours.id, theirs.id] and ours.id != theirs.id and len(ours.id) == 32


def test_resent_events_are_duplicates_not_errors(fake: FakeElasticsearch, store: ElasticStore) -> None:
    events = [event(1), event(2)]
    store.write_events(events)
    again = store.write_events([*events, event(3)])
    assert (again.created, again.duplicates, again.failed) == (1, 2, [])


def test_each_event_goes_to_the_index_of_its_utc_day(fake: FakeElasticsearch, store: ElasticStore) -> None:
    late = T0.replace(hour=23, minute=59, second=59, microsecond=999_000)
    evs = [
        new_event(event_id=make_event_id("test", f"day {n}"), timestamp=ts, dataset="sshd.auth", fields={})
        for n, ts in enumerate((late, late + timedelta(milliseconds=1), datetime(2023, 12, 31, 22, 30, tzinfo=UTC)))
    ]
    store.write_events(evs)
    actions = [line["create"]["_index"] for line in fake.last("PUT", "/_bulk").ndjson()[::2]]
    assert actions == [f"{EVENTS}-2024.06.01", f"{EVENTS}-2024.06.02", f"{EVENTS}-2023.12.31"]


def test_a_resend_days_later_meets_its_first_copy(fake: FakeElasticsearch, store: ElasticStore) -> None:
    # A data stream would write the re-send to its current backing index, beside rather than onto
    # the first copy. The daily index follows from the event, so the re-send is a 409 however late.
    first = event(1)
    store.write_events([first])
    later = new_event(
        event_id=make_event_id("test", "three days on"),
        timestamp=T0 + timedelta(days=3),
        dataset="sshd.auth",
        fields={},
    )
    result = store.write_events([later, first])
    assert (result.created, result.duplicates) == (1, 1)
    sent = fake.last("PUT", "/_bulk").ndjson()
    assert sent[2] == {"create": {"_index": f"{EVENTS}-2024.06.01", "_id": first.id}}
    assert sent[0]["create"]["_index"] == f"{EVENTS}-2024.06.04"


def test_refused_items_are_failed_with_the_reason(fake: FakeElasticsearch, store: ElasticStore) -> None:
    bad = event(7)
    fake.bulk_item_errors[bad.id] = (
        400,
        {
            "type": "document_parsing_exception",
            "reason": "[1:120] failed to parse field [source.port] of type [long]",
            "caused_by": {"type": "illegal_argument_exception", "reason": 'For input string: "ssh"'},
        },
    )
    result = store.write_events([event(6), bad, event(8)])
    assert result.created == 2
    assert result.failed == [
        (
            bad.id,
            "document_parsing_exception: [1:120] failed to parse field [source.port] of type [long] "
            '(caused by illegal_argument_exception: For input string: "ssh")',
        )
    ]


def test_large_batches_are_chunked(fake: FakeElasticsearch) -> None:
    client = build_client(ElasticsearchSettings(url=fake.url))
    with ElasticStore(client, PREFIX, bulk_max_events=2) as s:
        s.setup()
        fake.clear()
        result = s.write_events([event(n) for n in range(5)])
    assert result.created == 5
    sizes = [len(r.ndjson()) // 2 for r in fake.matching("PUT", "/_bulk")]
    assert sizes == [2, 2, 1]


def test_unserialisable_event_fails_alone(fake: FakeElasticsearch, store: ElasticStore) -> None:
    odd = event(3)
    odd.doc["labels"] = {"blob": object()}
    result = store.write_events([event(2), odd])
    assert result.created == 1
    assert [eid for eid, _ in result.failed] == [odd.id]
    assert len(fake.last("PUT", "/_bulk").ndjson()) == 2


def test_empty_write_sends_nothing(fake: FakeElasticsearch, store: ElasticStore) -> None:
    assert store.write_events([]).created == 0
    assert not fake.requests


# search ---------------------------------------------------------------------------------


def test_search_query_sort_and_result(fake: FakeElasticsearch, store: ElasticStore) -> None:
    evs = [event(2), event(1)]
    fake.answer("POST", f"/{EVENT_INDICES}/_search", search_answer(evs, total=5))
    query = EventQuery(start=T0, end=T0 + timedelta(hours=1), datasets=("sshd.auth", "pam"), text='root "AND" *')
    result = store.search_events(query, ORG_A, limit=2)

    body = sent_query(fake)
    assert body == {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"organization.id": "moh"}},
                    {
                        "range": {
                            "@timestamp": {
                                "gte": "2024-06-01T10:00:00.000Z",
                                "lt": "2024-06-01T11:00:00.000Z",
                                "format": "strict_date_optional_time",
                            }
                        }
                    },
                    {"terms": {"event.dataset": ["sshd.auth", "pam"]}},
                    {"match": {"message": {"query": 'root "AND" *', "operator": "and"}}},
                ]
            }
        },
        "sort": [{"@timestamp": {"order": "desc"}}, {"event.id": {"order": "desc"}}],
        "size": 2,
        "track_total_hits": True,
    }
    assert fake.last("POST", suffix="/_search").query["ignore_unavailable"] == "true"
    assert [e.id for e in result.events] == [e.id for e in evs]
    assert result.total == 5
    assert result.next_after == (evs[-1].timestamp_ms, evs[-1].id)


def test_search_after_continues_a_page(fake: FakeElasticsearch, store: ElasticStore) -> None:
    last = event(4)
    fake.answer("POST", f"/{EVENT_INDICES}/_search", search_answer([event(5)], total=3))
    result = store.search_events(
        EventQuery(), Scope.everything(), limit=10, order="asc", after=(last.timestamp_ms, last.id)
    )
    body = sent_query(fake)
    assert body["search_after"] == [last.timestamp_ms, last.id]
    assert body["sort"] == [{"@timestamp": {"order": "asc"}}, {"event.id": {"order": "asc"}}]
    assert body["query"] == {"bool": {"filter": []}}  # Scope.everything adds no institution filter
    assert result.next_after is None  # a short page is the last one


def test_search_without_a_total_does_not_track_hits(fake: FakeElasticsearch, store: ElasticStore) -> None:
    last = event(4)
    fake.answer("POST", f"/{EVENT_INDICES}/_search", search_answer([event(5), event(6)], total=0))
    result = store.search_events(
        EventQuery(), Scope.everything(), limit=2, order="asc", after=(last.timestamp_ms, last.id), with_total=False
    )
    assert sent_query(fake) == {
        "query": {"bool": {"filter": []}},
        "sort": [{"@timestamp": {"order": "asc"}}, {"event.id": {"order": "asc"}}],
        "size": 2,
        "track_total_hits": False,
        "search_after": [last.timestamp_ms, last.id],
    }
    assert result.total == UNCOUNTED
    assert result.next_after == (event(6).timestamp_ms, event(6).id)


def test_search_sorts_on_the_query_time_field(fake: FakeElasticsearch, store: ElasticStore) -> None:
    store.search_events(EventQuery(time_field="event.ingested"), Scope.everything(), order="asc")
    assert sent_query(fake)["sort"] == [{"event.ingested": {"order": "asc"}}, {"event.id": {"order": "asc"}}]


def test_ingested_time_field(fake: FakeElasticsearch, store: ElasticStore) -> None:
    store.count_events(EventQuery(start=T0, time_field="event.ingested"), Scope.everything())
    clause = sent_query(fake, "/_count")["query"]["bool"]["filter"][0]
    assert clause == {
        "range": {"event.ingested": {"gte": "2024-06-01T10:00:00.000Z", "format": "strict_date_optional_time"}}
    }


def test_blank_text_adds_no_match(fake: FakeElasticsearch, store: ElasticStore) -> None:
    store.count_events(EventQuery(text="   "), Scope.everything())
    assert sent_query(fake, "/_count") == {"query": {"bool": {"filter": []}}}


@pytest.mark.parametrize(
    ("flt", "clause"),
    [
        (FieldFilter("user.name", "eq", "root"), {"term": {"user.name": "root"}}),
        (FieldFilter("message", "eq", "exact line"), {"term": {"message.keyword": "exact line"}}),
        (FieldFilter("user.name", "neq", "root"), {"bool": {"must_not": [{"term": {"user.name": "root"}}]}}),
        (
            FieldFilter("event.outcome", "in", ["failure", "unknown"]),
            {"terms": {"event.outcome": ["failure", "unknown"]}},
        ),
        (FieldFilter("user.name", "prefix", "adm"), {"prefix": {"user.name": {"value": "adm"}}}),
        (FieldFilter("message", "prefix", "Failed"), {"prefix": {"message.keyword": {"value": "Failed"}}}),
        (FieldFilter("source.ip", "prefix", "10.1."), {"term": {"source.ip": "10.1.0.0/16"}}),
        (FieldFilter("source.ip", "eq", "10.1.2.3"), {"term": {"source.ip": "10.1.2.3"}}),
        (FieldFilter("process.pid", "exists"), {"exists": {"field": "process.pid"}}),
        (FieldFilter("user.name", "missing"), {"bool": {"must_not": [{"exists": {"field": "user.name"}}]}}),
        (FieldFilter("source.port", "gt", 1024), {"range": {"source.port": {"gt": 1024}}}),
        (FieldFilter("source.port", "gte", 22), {"range": {"source.port": {"gte": 22}}}),
        (FieldFilter("source.port", "lt", 22), {"range": {"source.port": {"lt": 22}}}),
        (FieldFilter("@timestamp", "lte", T0), {"range": {"@timestamp": {"lte": "2024-06-01T10:00:00.000Z"}}}),
        (FieldFilter("tls.established", "eq", True), {"term": {"tls.established": True}}),
    ],
)
def test_filter_ops(fake: FakeElasticsearch, store: ElasticStore, flt: FieldFilter, clause: dict[str, Any]) -> None:
    store.count_events(EventQuery(filters=(flt,)), ORG_A)
    assert sent_query(fake, "/_count")["query"]["bool"]["filter"] == [{"term": {"organization.id": "moh"}}, clause]


@pytest.mark.parametrize(
    "flt",
    [
        FieldFilter("user.name; drop", "eq", "x"),
        FieldFilter("a..b", "eq", "x"),
        FieldFilter("*", "exists"),
        FieldFilter("user.name", "eq", None),
        FieldFilter("user.name", "in", "root"),
        FieldFilter("user.name", "eq", {"script": "x"}),
        FieldFilter("source.ip", "prefix", "10.1"),
        FieldFilter("source.ip", "prefix", "300."),
    ],
)
def test_bad_filters_are_refused_before_any_request(
    fake: FakeElasticsearch, store: ElasticStore, flt: FieldFilter
) -> None:
    with pytest.raises(StoreError):
        store.search_events(EventQuery(filters=(flt,)), Scope.everything())
    assert not fake.matching("POST")


# scope ----------------------------------------------------------------------------------


def test_institution_scope_filters_every_read(fake: FakeElasticsearch, store: ElasticStore) -> None:
    scope = Scope.institution("tra")
    q = EventQuery(datasets=("sshd.auth",))
    store.search_events(q, scope)
    store.count_events(q, scope)
    store.terms(q, scope, "user.name")
    store.date_histogram(q, scope, 60)
    store.cardinality(q, scope, "source.ip")
    store.find_documents("alerts", scope, [FieldFilter("status", "eq", "open")])
    store.count_documents("incidents", scope)
    reads = fake.matching("POST", suffix="/_search") + fake.matching("POST", suffix="/_count")
    assert len(reads) == 7
    for req in reads:
        filters = req.json()["query"]["bool"]["filter"]
        field = (
            "institution_id"
            if req.path.startswith(f"/{PREFIX}-alerts") or "incidents" in req.path
            else "organization.id"
        )
        assert filters[0] == {"term": {field: "tra"}}, req.path


def test_get_document_of_another_institution_is_none(store: ElasticStore) -> None:
    store.create_document("incidents", "inc-1", {"title": "x"}, institution_id="moh")
    assert store.get_document("incidents", "inc-1", Scope.institution("tra")) is None
    found = store.get_document("incidents", "inc-1", Scope.institution("moh"))
    assert found is not None and found.institution_id == "moh"
    assert store.get_document("incidents", "inc-1", Scope.everything()) is not None


# aggregations ---------------------------------------------------------------------------


def test_terms_request_and_buckets(fake: FakeElasticsearch, store: ElasticStore) -> None:
    answer = {
        "aggregations": {"result": {"buckets": [{"key": "root", "doc_count": 9}, {"key": "admin", "doc_count": 4}]}}
    }
    fake.answer("POST", f"/{EVENT_INDICES}/_search", answer)
    buckets = store.terms(EventQuery(), ORG_A, "message", size=5)
    body = sent_query(fake)
    assert body["size"] == 0
    assert body["aggs"] == {
        "result": {"terms": {"field": "message.keyword", "size": 5, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
    }
    assert [(b.key, b.count) for b in buckets] == [("root", 9), ("admin", 4)]


def test_date_histogram_request_and_buckets(fake: FakeElasticsearch, store: ElasticStore) -> None:
    key = int(T0.timestamp() * 1000)
    answer = {"aggregations": {"result": {"buckets": [{"key": key, "key_as_string": "x", "doc_count": 3}]}}}
    fake.answer("POST", f"/{EVENT_INDICES}/_search", answer)
    buckets = store.date_histogram(EventQuery(time_field="event.ingested"), ORG_A, 300)
    assert sent_query(fake)["aggs"] == {
        "result": {"date_histogram": {"field": "event.ingested", "fixed_interval": "300s", "min_doc_count": 1}}
    }
    assert [(b.start, b.count) for b in buckets] == [(T0, 3)]
    with pytest.raises(StoreError):
        store.date_histogram(EventQuery(), ORG_A, 0)


def test_cardinality_request(fake: FakeElasticsearch, store: ElasticStore) -> None:
    fake.answer("POST", f"/{EVENT_INDICES}/_search", {"aggregations": {"result": {"value": 42}}})
    assert store.cardinality(EventQuery(), ORG_A, "source.ip") == 42
    assert sent_query(fake)["aggs"] == {"result": {"cardinality": {"field": "source.ip", "precision_threshold": 40000}}}


def test_read_after_write_refreshes_once(fake: FakeElasticsearch, store: ElasticStore) -> None:
    store.write_events([event(1)])
    store.count_events(EventQuery(), ORG_A)
    store.count_events(EventQuery(), ORG_A)
    refreshes = fake.matching("POST", f"/{EVENT_INDICES}/_refresh")
    assert len(refreshes) == 1
    paths = [r.path for r in fake.requests]
    assert paths.index(f"/{EVENT_INDICES}/_refresh") < paths.index(f"/{EVENT_INDICES}/_count")


def test_delete_events_before(fake: FakeElasticsearch, store: ElasticStore) -> None:
    fake.answer("POST", f"/{EVENT_INDICES}/_delete_by_query", {"deleted": 7, "failures": []})
    assert store.delete_events_before(T0) == 7
    req = fake.last("POST", f"/{EVENT_INDICES}/_delete_by_query")
    assert req.json() == {"query": {"range": {"@timestamp": {"lt": "2024-06-01T10:00:00.000Z"}}}}
    assert req.query["conflicts"] == "proceed"
    assert req.query["refresh"] == "true"


# documents ------------------------------------------------------------------------------


def test_create_document_uses_op_type_create(fake: FakeElasticsearch, store: ElasticStore) -> None:
    doc = store.create_document("alerts", "a-1", {"rule": "ssh-brute", "count": 3}, institution_id="moh")
    req = fake.last("PUT", f"/{PREFIX}-alerts/_doc/a-1")
    assert req.query["op_type"] == "create"
    assert req.query["refresh"] == "wait_for"
    sent = req.json()
    assert sent["body"] == {"rule": "ssh-brute", "count": 3}
    assert (sent["doc_id"], sent["institution_id"]) == ("a-1", "moh")
    assert sent["created"] == sent["updated"]
    assert doc.version == "0:1"
    with pytest.raises(ConflictError):
        store.create_document("alerts", "a-1", {"rule": "other"})


def test_replace_sends_if_seq_no_and_if_primary_term(fake: FakeElasticsearch, store: ElasticStore) -> None:
    first = store.create_document("incidents", "i-1", {"state": "new"}, institution_id="moh")
    second = store.replace_document("incidents", "i-1", {"state": "acknowledged"}, expected_version=first.version)
    req = fake.last("PUT", f"/{PREFIX}-incidents/_doc/i-1")
    seq, term = first.version.split(":")
    assert (req.query["if_seq_no"], req.query["if_primary_term"]) == (seq, term)
    assert req.query["refresh"] == "wait_for"
    assert "op_type" not in req.query
    assert req.json()["created"] == fake.matching("PUT", f"/{PREFIX}-incidents/_doc/i-1")[0].json()["created"]
    assert second.version != first.version
    with pytest.raises(ConflictError):  # the old version no longer matches
        store.replace_document("incidents", "i-1", {"state": "closed"}, expected_version=first.version)
    with pytest.raises(ConflictError):
        store.replace_document("incidents", "i-1", {"state": "closed"}, expected_version="not-a-version")
    with pytest.raises(NotFoundError):
        store.replace_document("incidents", "nope", {"state": "closed"}, expected_version="0:1")


def test_replace_keeps_the_institution_unless_given(fake: FakeElasticsearch, store: ElasticStore) -> None:
    v1 = store.create_document("incidents", "i-3", {"s": 1}, institution_id="moh")
    v2 = store.replace_document("incidents", "i-3", {"s": 2}, expected_version=v1.version)
    assert v2.institution_id == "moh"
    assert fake.last("PUT", f"/{PREFIX}-incidents/_doc/i-3").json()["institution_id"] == "moh"
    v3 = store.replace_document("incidents", "i-3", {"s": 3}, expected_version=v2.version, institution_id="tra")
    assert fake.last("PUT", f"/{PREFIX}-incidents/_doc/i-3").json()["institution_id"] == "tra"
    assert v3.institution_id == "tra"


def test_replace_of_a_missing_document_is_not_found_whatever_the_token(store: ElasticStore) -> None:
    with pytest.raises(NotFoundError):
        store.replace_document("incidents", "ghost", {"s": 1}, expected_version="1")


@pytest.mark.parametrize("body", [["a", "list"], "text", {"when": {1, 2}}])
def test_bad_bodies_are_refused_before_any_request(fake: FakeElasticsearch, store: ElasticStore, body: Any) -> None:
    with pytest.raises(StoreError):
        store.create_document("alerts", "bad", body)
    assert not fake.requests


def test_replace_conflict_reported_by_the_server(fake: FakeElasticsearch, store: ElasticStore) -> None:
    """A writer that wins between our read and our write: the server's 409 is a ConflictError."""
    doc = store.create_document("incidents", "i-2", {"state": "new"})
    conflict = {
        "error": {"type": "version_conflict_engine_exception", "reason": "[i-2]: version conflict"},
        "status": 409,
    }
    fake.answer("PUT", f"/{PREFIX}-incidents/_doc/i-2", conflict, status=409)
    with pytest.raises(ConflictError):
        store.replace_document("incidents", "i-2", {"state": "x"}, expected_version=doc.version)


def test_delete_document(fake: FakeElasticsearch, store: ElasticStore) -> None:
    doc = store.create_document("outbox", "o-1", {"to": "ict@moh"})
    with pytest.raises(ConflictError):
        store.delete_document("outbox", "o-1", expected_version="99:1")
    assert store.delete_document("outbox", "o-1", expected_version=doc.version) is True
    req = fake.last("DELETE", f"/{PREFIX}-outbox/_doc/o-1")
    assert (req.query["if_seq_no"], req.query["if_primary_term"]) == tuple(doc.version.split(":"))
    assert store.delete_document("outbox", "o-1") is False


def test_find_documents_request_and_versions(fake: FakeElasticsearch, store: ElasticStore) -> None:
    made = store.create_document("alerts", "a-1", {"severity": "high", "count": 3}, institution_id="moh")
    docs = store.find_documents(
        "alerts",
        ORG_A,
        [FieldFilter("severity", "in", ["high", "critical"]), FieldFilter("_created", "gte", T0)],
        sort="count",
        descending=True,
        limit=20,
    )
    body = sent_query(fake)
    assert body == {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"institution_id": "moh"}},
                    {"terms": {"body.severity": ["high", "critical"]}},
                    {"range": {"created": {"gte": "2024-06-01T10:00:00.000Z"}}},
                ]
            }
        },
        "sort": [
            {"body.count": {"order": "desc", "unmapped_type": "keyword", "missing": "_last"}},
            {"doc_id": {"order": "desc"}},
        ],
        "size": 20,
        "seq_no_primary_term": True,
    }
    assert [(d.id, d.version, d.body, d.institution_id) for d in docs] == [("a-1", made.version, made.body, "moh")]


def test_document_default_sort_and_count(fake: FakeElasticsearch, store: ElasticStore) -> None:
    store.find_documents("audit", Scope.everything(), sort="_updated")
    assert sent_query(fake)["sort"] == [{"updated": {"order": "asc"}}, {"doc_id": {"order": "asc"}}]
    store.find_documents("audit", Scope.everything())
    assert sent_query(fake)["sort"] == [{"created": {"order": "asc"}}, {"doc_id": {"order": "asc"}}]
    store.create_document("audit", "x", {"who": "a"})
    assert store.count_documents("audit", Scope.everything(), [FieldFilter("who", "eq", "a")]) == 1
    assert sent_query(fake, "/_count") == {"query": {"bool": {"filter": [{"term": {"body.who": "a"}}]}}}


def test_unknown_collection(store: ElasticStore) -> None:
    with pytest.raises(StoreError, match="unknown collection"):
        store.get_document("secrets", "x", Scope.everything())


# connection, auth, configuration ---------------------------------------------------------


def test_unreachable_server_is_a_store_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ElasticStore.from_settings(ElasticsearchSettings(url=url, request_timeout=2)) as s:
        with pytest.raises(StoreError, match=r"cannot reach Elasticsearch at http://127\.0\.0\.1"):
            s.setup()


def test_basic_auth_sent_and_bad_credentials_explained() -> None:
    with FakeElasticsearch(credentials=("elastic", "s3cret")) as server:
        good = ElasticsearchSettings(url=server.url, username="elastic", password="s3cret")
        with ElasticStore.from_settings(good) as s:
            s.setup()
        bad = good.model_copy(update={"password": "wrong"})
        with ElasticStore.from_settings(bad) as s, pytest.raises(StoreError, match="refused the credentials") as err:
            s.setup()
        assert "wrong" not in str(err.value)


def test_api_key_header() -> None:
    with FakeElasticsearch() as server:
        with ElasticStore.from_settings(ElasticsearchSettings(url=server.url, api_key="a2V5OnNlY3JldA==")) as s:
            s.setup()
        assert {r.headers["authorization"] for r in server.requests} == {"ApiKey a2V5OnNlY3JldA=="}


def test_a_server_that_is_not_elasticsearch() -> None:
    with FakeElasticsearch(product_header=False) as server:
        with ElasticStore.from_settings(ElasticsearchSettings(url=server.url)) as s:
            with pytest.raises(StoreError, match="not Elasticsearch"):
                s.setup()


def test_invalid_prefix_is_a_config_error(fake: FakeElasticsearch) -> None:
    with elasticsearch.Elasticsearch(fake.url) as client, pytest.raises(ConfigError):
        ElasticStore(client, "Bad Prefix*")


def test_registered_backend_builds_from_settings(fake: FakeElasticsearch, tmp_path: Any) -> None:
    from sentinel.config import Settings, StoreSettings
    from sentinel.store import BACKENDS

    es = ElasticsearchSettings(url=fake.url, index_prefix="reg")
    settings = Settings(
        data_dir=tmp_path, store=StoreSettings(backend="elasticsearch", retention_days=14, elasticsearch=es)
    )
    s = BACKENDS["elasticsearch"](settings)
    try:
        s.setup()
    finally:
        s.close()
    # 14 days of retention: a daily index goes one day after its last events turn 14 days old
    assert fake.last("PUT", "/_ilm/policy/reg-events").json()["policy"]["phases"]["delete"]["min_age"] == "15d"
