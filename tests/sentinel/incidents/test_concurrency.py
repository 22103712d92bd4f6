"""Concurrent updates with real threads, each with its own store connection: no lost update."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from sentinel.config import Settings
from sentinel.errors import ConflictError, SentinelError
from sentinel.incidents import IncidentService, IncidentState
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import make_alert

ALL = Scope.everything()


def _run(tmp_path: Path, workers: int, job: Callable[[IncidentService, int], None]) -> list[BaseException]:
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        store = SqliteStore(tmp_path / "s.db")
        try:
            service = IncidentService(store, Settings())
            barrier.wait(timeout=30)
            job(service, n)
        except BaseException as exc:  # collected for the test to inspect
            with lock:
                errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return errors


def _incident(tmp_path: Path, alerts: int = 1) -> tuple[SqliteStore, str]:
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    service = IncidentService(store, Settings())
    incident, _ = service.open_or_attach(make_alert(store, 0), key="k", actor="playbook:bf")
    for n in range(1, alerts):
        make_alert(store, n)
    return store, incident.id


def test_concurrent_comments_all_kept(tmp_path: Path) -> None:
    store, incident_id = _incident(tmp_path)

    def job(service: IncidentService, n: int) -> None:
        for i in range(10):
            service.comment(incident_id, f"w{n}-{i}", actor=f"analyst:w{n}", scope=ALL)

    assert _run(tmp_path, 6, job) == []
    incident = IncidentService(store, Settings()).get(incident_id, ALL)
    assert sorted(c.text for c in incident.comments) == sorted(f"w{n}-{i}" for n in range(6) for i in range(10))
    assert store.count_documents("audit", ALL, []) == 3 + 60  # every comment audited once
    store.close()


def test_concurrent_attach_all_kept(tmp_path: Path) -> None:
    store, incident_id = _incident(tmp_path, alerts=31)

    def job(service: IncidentService, n: int) -> None:
        for alert_n in range(1 + n * 5, 1 + n * 5 + 5):
            service.attach_alert(incident_id, f"alert-moh-{alert_n}", actor=f"analyst:w{n}", scope=ALL)

    assert _run(tmp_path, 6, job) == []
    incident = IncidentService(store, Settings()).get(incident_id, ALL)
    assert sorted(incident.alert_ids) == sorted(f"alert-moh-{n}" for n in range(31))
    store.close()


def test_concurrent_transitions_one_wins_the_others_are_told(tmp_path: Path) -> None:
    """Six analysts looked at the new incident (same version) and each pressed a different button."""
    store, incident_id = _incident(tmp_path)
    seen = IncidentService(store, Settings()).get(incident_id, ALL).version
    wins: list[str] = []

    def job(service: IncidentService, n: int) -> None:
        target = "acknowledged" if n % 2 else "false_positive"
        service.transition(incident_id, target, actor=f"analyst:w{n}", scope=ALL, expected_version=seen)
        wins.append(target)

    errors = _run(tmp_path, 6, job)
    assert len(wins) == 1 and len(errors) == 5
    for error in errors:
        assert isinstance(error, ConflictError)
        assert "changed by someone else meanwhile; reload it and try again" in str(error)
    incident = IncidentService(store, Settings()).get(incident_id, ALL)
    assert incident.state is IncidentState(wins[0])
    states = [e for e in IncidentService(store, Settings()).audit(incident_id, ALL) if e.field == "state"]
    assert [(e.old, e.new) for e in states] == [(None, "new"), ("new", wins[0])]
    store.close()


def test_concurrent_same_transition_happens_once(tmp_path: Path) -> None:
    """Without a version: the losers either lose the write race or find it already done."""
    store, incident_id = _incident(tmp_path)
    wins: list[int] = []

    def job(service: IncidentService, n: int) -> None:
        service.transition(incident_id, "acknowledged", actor=f"analyst:w{n}", scope=ALL)
        wins.append(n)

    errors = _run(tmp_path, 6, job)
    assert len(wins) == 1 and len(errors) == 5
    for error in errors:
        assert isinstance(error, SentinelError)
        assert "changed by someone else meanwhile" in str(error) or "is already acknowledged" in str(error)
    trail = IncidentService(store, Settings()).audit(incident_id, ALL)
    assert [(e.new, e.actor) for e in trail if e.field == "state"][1:] == [("acknowledged", f"analyst:w{wins[0]}")]
    store.close()
