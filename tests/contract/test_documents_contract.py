"""The document half of the store contract, run against every available backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from sentinel.errors import ConflictError, NotFoundError, StoreError
from sentinel.store.base import COLLECTIONS, Document, FieldFilter, Scope, Store

ALL = Scope.everything()


def test_create_and_get(store: Store) -> None:
    body = {"title": "Brute force on ssh", "severity": "high", "count": 3, "tags": ["T1110"], "nested": {"ü": "ß"}}
    created = store.create_document("incidents", "inc-1", body, institution_id="org-a")
    assert isinstance(created.version, str) and created.version
    assert (created.id, created.body, created.institution_id) == ("inc-1", body, "org-a")
    got = store.get_document("incidents", "inc-1", ALL)
    assert got == created


def test_create_twice_conflicts_and_keeps_the_first(store: Store) -> None:
    store.create_document("alerts", "a-1", {"n": 1})
    with pytest.raises(ConflictError):
        store.create_document("alerts", "a-1", {"n": 2})
    got = store.get_document("alerts", "a-1", ALL)
    assert got is not None and got.body == {"n": 1}


def test_collections_are_separate(store: Store) -> None:
    store.create_document("alerts", "same-id", {"kind": "alert"})
    store.create_document("incidents", "same-id", {"kind": "incident"})
    alert = store.get_document("alerts", "same-id", ALL)
    incident = store.get_document("incidents", "same-id", ALL)
    assert alert is not None and alert.body == {"kind": "alert"}
    assert incident is not None and incident.body == {"kind": "incident"}
    assert store.count_documents("alerts", ALL) == 1
    assert store.get_document("outbox", "same-id", ALL) is None


def test_get_missing(store: Store) -> None:
    assert store.get_document("alerts", "nope", ALL) is None


def test_replace_needs_the_current_version(store: Store) -> None:
    v1 = store.create_document("incidents", "inc-1", {"state": "new", "old": True}, institution_id="org-a")
    v2 = store.replace_document("incidents", "inc-1", {"state": "acknowledged"}, expected_version=v1.version)
    assert v2.version != v1.version
    assert v2.body == {"state": "acknowledged"}  # the body is replaced, not merged
    with pytest.raises(ConflictError):
        store.replace_document("incidents", "inc-1", {"state": "closed"}, expected_version=v1.version)
    with pytest.raises(ConflictError):
        store.replace_document("incidents", "inc-1", {"state": "closed"}, expected_version="not-a-version")
    got = store.get_document("incidents", "inc-1", ALL)
    assert got == v2
    v3 = store.replace_document("incidents", "inc-1", {"state": "investigating"}, expected_version=v2.version)
    assert len({v1.version, v2.version, v3.version}) == 3


def test_replace_keeps_or_sets_the_institution(store: Store) -> None:
    v1 = store.create_document("incidents", "inc-1", {"s": 1}, institution_id="org-a")
    v2 = store.replace_document("incidents", "inc-1", {"s": 2}, expected_version=v1.version)
    assert v2.institution_id == "org-a"
    assert store.get_document("incidents", "inc-1", Scope.institution("org-a")) is not None
    v3 = store.replace_document("incidents", "inc-1", {"s": 3}, expected_version=v2.version, institution_id="org-b")
    assert v3.institution_id == "org-b"
    assert store.get_document("incidents", "inc-1", Scope.institution("org-a")) is None


def test_replace_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.replace_document("incidents", "ghost", {"s": 1}, expected_version="1")


def test_delete(store: Store) -> None:
    doc = store.create_document("outbox", "m-1", {"to": "x@example.org"})
    assert store.delete_document("outbox", "m-1") is True
    assert store.delete_document("outbox", "m-1") is False
    assert store.get_document("outbox", "m-1", ALL) is None
    # after a delete the id is free again
    again = store.create_document("outbox", "m-1", {"to": "y@example.org"})
    assert again.body == {"to": "y@example.org"}
    assert doc.id == again.id


def test_delete_with_version(store: Store) -> None:
    v1 = store.create_document("state", "k", {"v": 1})
    v2 = store.replace_document("state", "k", {"v": 2}, expected_version=v1.version)
    with pytest.raises(ConflictError):
        store.delete_document("state", "k", expected_version=v1.version)
    assert store.get_document("state", "k", ALL) is not None
    assert store.delete_document("state", "k", expected_version=v2.version) is True
    assert store.get_document("state", "k", ALL) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.create_document("nope", "x", {}),
        lambda s: s.get_document("nope", "x", ALL),
        lambda s: s.replace_document("nope", "x", {}, expected_version="1"),
        lambda s: s.delete_document("nope", "x"),
        lambda s: s.find_documents("nope", ALL),
        lambda s: s.count_documents("nope", ALL),
        lambda s: s.find_documents("alerts; DROP TABLE documents", ALL),
    ],
)
def test_unknown_collection_is_refused(store: Store, call: Callable[[Store], Any]) -> None:
    with pytest.raises(StoreError):
        call(store)


def test_every_collection_is_usable(store: Store) -> None:
    for name in sorted(COLLECTIONS):
        store.create_document(name, "probe", {"collection": name})
        assert store.count_documents(name, ALL) == 1


@pytest.mark.parametrize("body", [["not", "a", "mapping"], "text", {"when": {1, 2}}])
def test_bad_bodies_are_refused(store: Store, body: Any) -> None:
    with pytest.raises(StoreError):
        store.create_document("alerts", "bad", body)
    assert store.count_documents("alerts", ALL) == 0


# finding ----------------------------------------------------------------------------------


@pytest.fixture
def incidents(store: Store) -> Store:
    rows: list[tuple[str, str | None, dict[str, Any]]] = [
        ("i1", "org-a", {"state": "new", "severity": "high", "score": 80, "rule": {"id": "ssh-brute"},
                         "tags": ["T1110", "ssh"]}),
        ("i2", "org-a", {"state": "closed", "severity": "low", "score": 10, "rule": {"id": "web-scan"},
                         "tags": ["T1595"]}),
        ("i3", "org-b", {"state": "new", "severity": "critical", "score": 95, "rule": {"id": "ssh-brute"},
                         "tags": ["ssh"]}),
        ("i4", "org-b", {"state": "acknowledged", "severity": "medium", "rule": {"id": "ssh_brute%"}, "tags": []}),
        ("i5", None, {"state": "new", "severity": "low", "score": 30, "rule": {"id": "silence"}}),
    ]  # fmt: skip
    for doc_id, org, body in rows:
        store.create_document("incidents", doc_id, body, institution_id=org)
    return store


def doc_ids(docs: list[Document]) -> list[str]:
    return [d.id for d in docs]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (FieldFilter("state", "eq", "new"), {"i1", "i3", "i5"}),
        (FieldFilter("state", "neq", "new"), {"i2", "i4"}),
        (FieldFilter("severity", "in", ["critical", "high"]), {"i1", "i3"}),
        (FieldFilter("rule.id", "eq", "ssh-brute"), {"i1", "i3"}),
        (FieldFilter("rule.id", "prefix", "ssh"), {"i1", "i3", "i4"}),
        (FieldFilter("rule.id", "prefix", "ssh_"), {"i4"}),  # _ is literal
        (FieldFilter("rule.id", "prefix", "SSH"), set()),
        (FieldFilter("score", "gte", 80), {"i1", "i3"}),
        (FieldFilter("score", "lt", 30), {"i2"}),
        (FieldFilter("score", "missing"), {"i4"}),
        (FieldFilter("score", "exists"), {"i1", "i2", "i3", "i5"}),
        (FieldFilter("tags", "eq", "ssh"), {"i1", "i3"}),
        (FieldFilter("tags", "exists"), {"i1", "i2", "i3"}),
    ],
)
def test_find_filters(incidents: Store, flt: FieldFilter, expected: set[str]) -> None:
    assert set(doc_ids(incidents.find_documents("incidents", ALL, [flt]))) == expected
    assert incidents.count_documents("incidents", ALL, [flt]) == len(expected)


def test_find_sorts_by_a_body_field_missing_last(incidents: Store) -> None:
    asc = doc_ids(incidents.find_documents("incidents", ALL, sort="score"))
    assert asc == ["i2", "i5", "i1", "i3", "i4"]
    desc = doc_ids(incidents.find_documents("incidents", ALL, sort="score", descending=True))
    assert desc == ["i3", "i1", "i5", "i2", "i4"]
    assert doc_ids(incidents.find_documents("incidents", ALL, sort="score", limit=2)) == ["i2", "i5"]


def test_find_sorts_by_creation_and_update(incidents: Store) -> None:
    assert doc_ids(incidents.find_documents("incidents", ALL, sort="_created")) == ["i1", "i2", "i3", "i4", "i5"]
    newest = doc_ids(incidents.find_documents("incidents", ALL, sort="_created", descending=True, limit=1))
    assert newest == ["i5"]
    doc = incidents.get_document("incidents", "i2", ALL)
    assert doc is not None
    time.sleep(0.01)  # not a timing assertion: only so the update's clock reading differs from the creations'
    incidents.replace_document("incidents", "i2", {**doc.body, "state": "new"}, expected_version=doc.version)
    assert doc_ids(incidents.find_documents("incidents", ALL, sort="_updated", descending=True, limit=1)) == ["i2"]


def test_find_with_invalid_field_is_refused(incidents: Store) -> None:
    with pytest.raises(StoreError):
        incidents.find_documents("incidents", ALL, [FieldFilter("state') OR 1=1 --", "eq", "x")])
    with pytest.raises(StoreError):
        incidents.find_documents("incidents", ALL, sort="score DESC; --")
    with pytest.raises(StoreError):
        incidents.count_documents("incidents", ALL, [FieldFilter("a b", "exists")])


def test_institution_scope_on_documents(incidents: Store) -> None:
    a = Scope.institution("org-a")
    assert set(doc_ids(incidents.find_documents("incidents", a))) == {"i1", "i2"}
    assert incidents.count_documents("incidents", a) == 2
    assert incidents.get_document("incidents", "i1", a) is not None
    assert incidents.get_document("incidents", "i3", a) is None  # another institution's
    assert incidents.get_document("incidents", "i5", a) is None  # nobody's: SOC only
    assert incidents.find_documents("incidents", a, [FieldFilter("rule.id", "eq", "ssh-brute")])[0].id == "i1"
    assert incidents.count_documents("incidents", a, [FieldFilter("severity", "eq", "critical")]) == 0
    assert incidents.count_documents("incidents", ALL) == 5


# concurrency ------------------------------------------------------------------------------


def test_racing_replaces_exactly_one_wins(store: Store) -> None:
    threads_per_round, rounds = 4, 10
    doc = store.create_document("incidents", "race", {"round": -1, "winner": None})
    for rnd in range(rounds):
        barrier = threading.Barrier(threads_per_round)
        wins: list[int] = []
        conflicts: list[int] = []
        others: list[BaseException] = []
        version = doc.version

        def attempt(
            n: int,
            rnd: int = rnd,
            version: str = version,
            barrier: threading.Barrier = barrier,
            wins: list[int] = wins,
            conflicts: list[int] = conflicts,
            others: list[BaseException] = others,
        ) -> None:
            barrier.wait()
            try:
                store.replace_document("incidents", "race", {"round": rnd, "winner": n}, expected_version=version)
                wins.append(n)
            except ConflictError:
                conflicts.append(n)
            except BaseException as exc:  # surfaced below: any other error fails the test
                others.append(exc)

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(threads_per_round)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert others == []
        assert len(wins) == 1 and len(conflicts) == threads_per_round - 1
        current = store.get_document("incidents", "race", ALL)
        assert current is not None and current.body == {"round": rnd, "winner": wins[0]}
        doc = current


# --- write_documents: several documents together (added with the incident/outbox work) ---


def test_write_documents_creates_and_replaces_together(store: Store) -> None:
    from sentinel.store.base import DocumentWrite

    first = store.create_document("incidents", "i1", {"state": "new"}, institution_id="moh")
    written = store.write_documents(
        [
            DocumentWrite("incidents", "i1", {"state": "acknowledged"}, expected_version=first.version),
            DocumentWrite("audit", "a1", {"incident": "i1", "old": "new", "new": "acknowledged"}, institution_id="moh"),
            DocumentWrite("outbox", "n1", {"incident_id": "i1"}, institution_id="moh"),
        ]
    )
    assert [d.id for d in written] == ["i1", "a1", "n1"]
    assert written[0].version != first.version
    everything = Scope.everything()
    assert store.get_document("incidents", "i1", everything).body == {"state": "acknowledged"}  # type: ignore[union-attr]
    assert store.get_document("outbox", "n1", Scope.institution("moh")) is not None


def test_write_documents_conflict_stops_the_batch(store: Store) -> None:
    from sentinel.store.base import DocumentWrite

    doc = store.create_document("incidents", "i2", {"state": "new"})
    store.replace_document("incidents", "i2", {"state": "investigating"}, expected_version=doc.version)
    with pytest.raises(ConflictError):
        store.write_documents(
            [
                DocumentWrite("incidents", "i2", {"state": "closed"}, expected_version=doc.version),  # stale
                DocumentWrite("outbox", "n2", {"incident_id": "i2"}),
            ]
        )
    # The notice that depended on the refused change was not written (last in the batch).
    assert store.get_document("outbox", "n2", Scope.everything()) is None
    assert store.get_document("incidents", "i2", Scope.everything()).body == {"state": "investigating"}  # type: ignore[union-attr]


def test_write_documents_is_all_or_nothing_where_the_backend_has_transactions(store: Store) -> None:
    from sentinel.store.base import DocumentWrite

    if store.name != "sqlite":
        pytest.skip("Elasticsearch has no multi-document transactions (documented in the contract)")
    store.create_document("audit", "dup", {})
    with pytest.raises(ConflictError):
        store.write_documents([DocumentWrite("outbox", "n3", {}), DocumentWrite("audit", "dup", {})])
    assert store.get_document("outbox", "n3", Scope.everything()) is None
