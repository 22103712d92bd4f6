"""Alerts: deterministic ids, idempotent merge, optimistic concurrency against a real SQLite store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentinel.detect.alerts import COLLECTION, Alert, AlertCandidate, MemoryAlertSink, StoreAlertSink, alert_id, merge
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MS = 1_717_243_200_000  # 2024-06-01T12:00:00Z


def cand(count: int = 10, first: int = MS, last: int = MS + 60_000, samples: list[str] | None = None) -> AlertCandidate:
    return AlertCandidate(
        rule_id="r1", rule_title="Brute force", rule_kind="correlation", severity="high", description="d",
        tags=("attack.t1110.001", "sentinel.control.auth-02"), attack=("attack.t1110.001",), controls=("AUTH-02",),
        institution_id="mof", group_key={"source.ip": "192.0.2.1"}, window_start_ms=MS, window_end_ms=MS + 3_600_000,
        first_seen_ms=first, last_seen_ms=last, count=count, sample_event_ids=samples or ["e1", "e2"],
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "a.db")
    s.setup()
    yield s
    s.close()


def test_alert_id_depends_on_rule_institution_key_and_window_only() -> None:
    a = alert_id("r1", "mof", {"source.ip": "1.2.3.4", "user.name": "x"}, MS)
    assert a == alert_id("r1", "mof", {"user.name": "x", "source.ip": "1.2.3.4"}, MS)
    assert len({a, alert_id("r2", "mof", {"source.ip": "1.2.3.4", "user.name": "x"}, MS),
                alert_id("r1", "moh", {"source.ip": "1.2.3.4", "user.name": "x"}, MS),
                alert_id("r1", "mof", {"source.ip": "1.2.3.5", "user.name": "x"}, MS),
                alert_id("r1", "mof", {"source.ip": "1.2.3.4", "user.name": "x"}, MS + 1)}) == 5  # fmt: skip


def test_merge_is_idempotent_and_only_widens() -> None:
    first = cand().to_alert(NOW, 20)
    assert merge(first, cand(), NOW, 20) is None
    bigger = merge(first, cand(count=15, last=MS + 120_000, samples=["e3"]), NOW, 20)
    assert bigger is not None and bigger.count == 15 and bigger.sample_event_ids == ["e1", "e2", "e3"]
    assert merge(bigger, cand(count=15, last=MS + 120_000, samples=["e3"]), NOW, 20) is None
    assert merge(bigger, cand(count=3), NOW, 20) is None  # a partial recount never shrinks it


def test_samples_are_bounded() -> None:
    alert = cand(samples=[f"e{i}" for i in range(50)]).to_alert(NOW, 5)
    assert alert.sample_event_ids == ["e0", "e1", "e2", "e3", "e4"]


def test_store_sink_creates_updates_and_keeps_the_analysts_state(store: SqliteStore) -> None:
    sink = StoreAlertSink(store, clock=lambda: NOW)
    assert sink.upsert(cand()) == "created"
    assert sink.upsert(cand()) == "unchanged"
    doc = store.get_document(COLLECTION, cand().id, Scope.everything())
    assert doc is not None and doc.institution_id == "mof"
    store.replace_document(COLLECTION, doc.id, {**doc.body, "state": "acknowledged"}, expected_version=doc.version,
                           institution_id="mof")  # fmt: skip
    assert sink.upsert(cand(count=40)) == "updated"
    alert = Alert.model_validate(store.get_document(COLLECTION, cand().id, Scope.everything()).body)  # type: ignore[union-attr]
    assert alert.count == 40 and alert.state == "acknowledged"
    assert store.get_document(COLLECTION, cand().id, Scope.institution("moh")) is None  # scoped to its institution
    assert [a.id for a in sink.open_alerts("r1")] == [cand().id]


def test_concurrent_upserts_create_one_alert(store: SqliteStore) -> None:
    sink = StoreAlertSink(store)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait()
        outcomes.append(sink.upsert(cand(count=10 + n, samples=[f"t{n}"])))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes.count("created") == 1
    assert store.count_documents(COLLECTION, Scope.everything()) == 1
    doc = store.get_document(COLLECTION, cand().id, Scope.everything())
    assert doc is not None and doc.body["count"] == 13


def test_resolving_moves_an_open_alert_to_resolved_once() -> None:
    sink = MemoryAlertSink(clock=lambda: NOW)
    sink.upsert(cand())
    done = cand()
    done.state = "resolved"
    done.resolved_at_ms = MS + 600_000
    assert sink.upsert(done) == "updated"
    assert sink.alerts[done.id].state == "resolved" and sink.open_alerts("r1") == []
    assert sink.upsert(done) == "unchanged"
