"""Following ingest (``detect.follow_ingest``): each stored event is read once and rules run every second.

The engine stepping every second over events stored in batches (some late) raises the same alerts
as a back-test of the whole range by event time, and a step reads only what was stored since the
last one (not the hour it re-read before).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.config import DetectSettings
from sentinel.detect.alerts import load_alerts
from sentinel.detect.engine.runner import DetectionEngine, backtest
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack
from sentinel.events import Event, make_event_id, new_event, set_field
from sentinel.inventory import Inventory
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore

T0 = datetime(2025, 2, 3, 10, 0, tzinfo=UTC)
LIVE = DetectSettings(follow_ingest=True, interval_seconds=1, ingest_delay_seconds=0, scan_interval_seconds=60)


def login(n: int, at: datetime, stored: datetime, ip: str | None, outcome: str = "failure") -> Event:
    doc: dict[str, Any] = {}
    fields = {"event.action": "ssh_login", "event.outcome": outcome, "user.name": f"u{n % 4}", "organization.id": "mof"}
    if ip is not None:
        fields["source.ip"] = ip
    for key, value in fields.items():
        set_field(doc, key, value)
    return new_event(
        event_id=make_event_id("live", str(n)), timestamp=at, dataset="system.auth", fields=doc, ingested=stored
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "live.db")
    s.setup()
    yield s
    s.close()


def _traffic() -> list[tuple[datetime, list[Event]]]:
    """Batches stored second by second: brute forces from two sources, noise, and late events."""
    batches: list[tuple[datetime, list[Event]]] = []
    n = 0
    for second in range(1, 180):
        stored = T0 + timedelta(seconds=second)
        events = []
        for ip in ("203.0.113.9", "198.51.100.4", None):
            if second % (3 if ip else 7) == 0:
                events.append(login(n, stored - timedelta(milliseconds=300), stored, ip))
                n += 1
        if second % 50 == 0:  # a late event: happened two minutes before it was stored
            events.append(login(n, stored - timedelta(minutes=2), stored, "203.0.113.9"))
            n += 1
        if second == 120:
            events.append(login(n, stored - timedelta(seconds=1), stored, "203.0.113.9", outcome="success"))
            n += 1
        batches.append((stored, events))
    return batches


def test_following_ingest_raises_what_a_back_test_raises(store: SqliteStore) -> None:
    pack = load_rule_pack([builtin_rules_dir()])
    engine = DetectionEngine(store, pack, LIVE, Inventory([]), clock=lambda: T0)
    ssh_rules = [r.id for r in pack.rules if r.datasets == ("system.auth",) and r.kind in ("sigma", "correlation")]
    engine.run_all(T0, ssh_rules)
    for stored, events in _traffic():
        store.write_events(events)
        reports = engine.run_all(stored + timedelta(milliseconds=400), ssh_rules)
        assert not [r.error for r in reports if r.error]
    live = {(a.id, a.count, a.first_seen, a.last_seen) for a in load_alerts(store, Scope.everything(), ssh_rules)}
    expected, _, _ = backtest(
        store, pack, DetectSettings(), Inventory([]), T0 - timedelta(hours=1), T0 + timedelta(hours=1), ssh_rules
    )
    assert live == {(a.id, a.count, a.first_seen, a.last_seen) for a in expected}
    assert any(a.rule_title == "SSH brute force from one source" for a in expected)
    assert engine._feed is not None and engine._feed.read_until_ms is not None


def test_a_step_reads_only_what_was_stored_since_the_last(store: SqliteStore) -> None:
    pack = load_rule_pack([builtin_rules_dir()])
    engine = DetectionEngine(store, pack, LIVE, Inventory([]))
    ssh_rules = [r.id for r in pack.rules if r.datasets == ("system.auth",) and r.kind in ("sigma", "correlation")]
    old = [
        login(i, T0 - timedelta(minutes=30) + timedelta(seconds=i), T0 - timedelta(minutes=30), "192.0.2.1")
        for i in range(500)
    ]
    store.write_events(old)
    engine.run_all(T0, ssh_rules)  # the first step fills the open windows from the store once
    feed = engine._feed
    assert feed is not None
    read = feed.events_read
    store.write_events([login(9999, T0 + timedelta(seconds=1), T0 + timedelta(seconds=1), "192.0.2.1")])
    engine.run_all(T0 + timedelta(seconds=2), ssh_rules)
    assert feed.events_read - read == 1  # the one new event, not the 500 of the open window again
