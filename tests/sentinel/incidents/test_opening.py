"""open_or_attach: one open incident per key within the window, idempotent, race-free with real threads."""

from __future__ import annotations

import threading
from pathlib import Path

from sentinel.config import Settings
from sentinel.incidents import IncidentService, IncidentState
from sentinel.incidents.opening import lock_id
from sentinel.store.base import DocumentWrite, Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import Clock, make_alert

ALL = Scope.everything()
KEY = "moh|source.ip=203.0.113.9"


def test_attach_within_window_else_open_new(service: IncidentService, store: SqliteStore) -> None:
    first, created = service.open_or_attach(make_alert(store, 1), key=KEY, window_seconds=3600, actor="playbook:bf")
    assert created and first.title == "SSH brute force (source.ip=203.0.113.9)"
    # 59 minutes after the last alert: same incident
    same, created = service.open_or_attach(
        make_alert(store, 2, minutes=60), key=KEY, window_seconds=3600, actor="playbook:bf"
    )
    assert not created and same.id == first.id and same.alert_ids == ["alert-moh-1", "alert-moh-2"]
    assert same.last_alert_at == "2024-05-01T13:00:00.000Z"
    # more than the window after the last one: a new incident
    later, created = service.open_or_attach(
        make_alert(store, 3, minutes=121), key=KEY, window_seconds=3600, actor="playbook:bf"
    )
    assert created and later.id != first.id
    # another key never mixes in
    other, created = service.open_or_attach(
        make_alert(store, 4, ip="198.51.100.7"), key="moh|source.ip=198.51.100.7", actor="playbook:bf"
    )
    assert created and other.id not in (first.id, later.id)


def test_same_alert_twice_changes_nothing(service: IncidentService, store: SqliteStore) -> None:
    alert = make_alert(store, 1)
    notice = DocumentWrite("outbox", "n-1", {"incident_id": "x"})
    first, created = service.open_or_attach(alert, key=KEY, actor="playbook:bf", extra_writes=[notice])
    again, created_again = service.open_or_attach(alert, key=KEY, actor="playbook:bf", extra_writes=[notice])
    assert created and not created_again
    assert again.id == first.id and again.version == first.version
    assert store.count_documents("incidents", ALL) == 1
    assert store.count_documents("outbox", ALL) == 1


def test_closed_incident_is_not_reused(service: IncidentService, store: SqliteStore) -> None:
    first, _ = service.open_or_attach(make_alert(store, 1), key=KEY, actor="playbook:bf")
    service.transition(first.id, "false_positive", actor="analyst:ana", scope=ALL)
    second, created = service.open_or_attach(make_alert(store, 2), key=KEY, actor="playbook:bf")
    assert created and second.id != first.id and second.state is IncidentState.NEW
    lock = store.get_document("state", lock_id(KEY), ALL)
    assert lock is not None and lock.body["incident_id"] == second.id


def test_key_of_a_merged_incident_attaches_to_the_target(service: IncidentService, store: SqliteStore) -> None:
    target, _ = service.open_or_attach(make_alert(store, 1), key=KEY, actor="playbook:bf")
    source, _ = service.open_or_attach(make_alert(store, 2, ip="198.51.100.7"), key="moh|b", actor="playbook:bf")
    service.merge(target.id, [source.id], actor="analyst:ana", scope=ALL)
    joined, created = service.open_or_attach(make_alert(store, 3, ip="198.51.100.7"), key="moh|b", actor="playbook:bf")
    assert not created and joined.id == target.id and "alert-moh-3" in joined.alert_ids


def test_concurrent_open_for_one_key_makes_one_incident(tmp_path: Path) -> None:
    """Eight workers, each with its own store connection, open for the same key at once."""
    setup = SqliteStore(tmp_path / "s.db")
    setup.setup()
    alerts = [make_alert(setup, n) for n in range(8)]
    barrier = threading.Barrier(len(alerts))
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        store = SqliteStore(tmp_path / "s.db")
        try:
            service = IncidentService(store, Settings(), clock=Clock())
            barrier.wait(timeout=30)
            incident, created = service.open_or_attach(alerts[n], key=KEY, actor=f"playbook:w{n}")
            results.append((incident.id, created))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(alerts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len({incident_id for incident_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    [doc] = setup.find_documents("incidents", ALL)
    assert sorted(doc.body["alert_ids"]) == sorted(a.id for a in alerts)  # no attach lost
    attaches = setup.count_documents("audit", ALL)
    assert attaches == 3 + 7  # create: state, severity, first alert; then one attach entry per other alert
    setup.close()
