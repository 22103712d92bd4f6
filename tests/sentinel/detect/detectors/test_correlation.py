"""Sigma correlations over base-rule matches, on a real SQLite store through the engine's back-test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.config import DetectSettings
from sentinel.detect.alerts import Alert
from sentinel.detect.detectors.correlation import Hit, _rules_seen
from sentinel.detect.engine.runner import backtest
from sentinel.detect.rulebook.pack import load_rule_text
from sentinel.events import Event, make_event_id, new_event, set_field
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

BASES = """
title: fail
id: aaaaaaaa-0000-4000-8000-000000000001
name: fail
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_login, event.outcome: failure}
  condition: sel
---
title: ok
id: aaaaaaaa-0000-4000-8000-000000000002
name: ok
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_login, event.outcome: success}
  condition: sel
---
title: corr
id: aaaaaaaa-0000-4000-8000-0000000000ff
correlation:
  type: {type}
  rules: {rules}
  group-by: [source.ip]
  timespan: {timespan}
  condition: {condition}
level: high
sentinel: {{suppress: 1h}}
"""


def rule_text(type_: str, rules: str = "[fail]", timespan: str = "15m", condition: str = "{gte: 10}") -> str:
    return (
        BASES.replace("{type}", type_)
        .replace("{rules}", rules)
        .replace("{timespan}", timespan)
        .replace("{condition}", condition)
        .replace("{{", "{")
        .replace("}}", "}")
    )


def login(ts: datetime, n: Any, ip: str, outcome: str = "failure", user: str = "root", org: str = "mof") -> Event:
    doc: dict[str, Any] = {}
    for key, value in {"event.action": "ssh_login", "event.outcome": outcome, "source.ip": ip, "user.name": user,
                       "organization.id": org}.items():  # fmt: skip
        set_field(doc, key, value)
    return new_event(event_id=make_event_id("corr", str(n)), timestamp=ts, dataset="system.auth", fields=doc)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "c.db")
    s.setup()
    yield s
    s.close()


def run(store: SqliteStore, text: str, events: list[Event], hours: int = 2) -> list[Alert]:
    rules, errors = load_rule_text(text)
    assert not errors
    from sentinel.detect.rulebook.pack import RulePack

    store.write_events(events)
    alerts, reports, load_errors = backtest(
        store,
        RulePack(rules=rules),
        DetectSettings(),
        Inventory([]),
        T0 - timedelta(hours=1),
        T0 + timedelta(hours=hours),
    )
    assert not load_errors and not [r.error for r in reports if r.error]
    return alerts


def test_ten_thousand_failures_are_one_alert_with_a_count(store: SqliteStore) -> None:
    events = [login(T0 + timedelta(milliseconds=300 * i), i, "203.0.113.5") for i in range(10_000)]
    (alert,) = run(store, rule_text("event_count"), events)
    assert alert.count == 10_000 and alert.group_key == {"source.ip": "203.0.113.5"}
    assert alert.details["peak"] >= 10 and len(alert.sample_event_ids) == 20
    assert alert.first_seen == "2024-05-06T09:00:00.000Z"


def test_event_count_uses_a_sliding_timespan_across_window_edges(store: SqliteStore) -> None:
    # 5 failures just before 09:15 and 5 just after: 10 within 15 minutes, though no 15-minute bucket has 10
    events = [login(T0 + timedelta(minutes=14, seconds=50 + i), f"a{i}", "192.0.2.1") for i in range(5)]
    events += [login(T0 + timedelta(minutes=15, seconds=1 + i), f"b{i}", "192.0.2.1") for i in range(5)]
    # 10 failures, but spread over 50 minutes: never 10 within 15
    events += [login(T0 + timedelta(minutes=5 * i), f"c{i}", "192.0.2.2") for i in range(10)]
    alerts = run(store, rule_text("event_count"), events)
    assert [a.group_key["source.ip"] for a in alerts] == ["192.0.2.1"]


def test_group_key_always_includes_the_institution(store: SqliteStore) -> None:
    events = [login(T0 + timedelta(seconds=i), f"m{i}", "192.0.2.3", org="mof") for i in range(10)]
    events += [login(T0 + timedelta(seconds=i), f"h{i}", "192.0.2.3", org="moh") for i in range(10)]
    alerts = run(store, rule_text("event_count"), events)
    assert sorted((a.institution_id, a.count) for a in alerts) == [("mof", 10), ("moh", 10)]


def test_value_count_counts_distinct_values(store: SqliteStore) -> None:
    users = ["root", "admin", "oracle", "test", "guest"]
    events = [login(T0 + timedelta(seconds=i), f"u{i}", "198.51.100.1", user=u) for i, u in enumerate(users)]
    events += [login(T0 + timedelta(seconds=i), f"s{i}", "198.51.100.2", user="root") for i in range(50)]
    alerts = run(store, rule_text("value_count", condition="{gte: 5, field: user.name}"), events)
    (alert,) = alerts
    assert alert.group_key == {"source.ip": "198.51.100.1"} and alert.details["distinct"] == 5
    assert sorted(alert.details["values"]) == sorted(users)


def test_temporal_needs_every_rule_within_the_timespan(store: SqliteStore) -> None:
    events = [login(T0, "t1", "192.0.2.10"), login(T0 + timedelta(minutes=3), "t2", "192.0.2.10", "success")]
    events += [login(T0, "t3", "192.0.2.11"), login(T0 + timedelta(minutes=30), "t4", "192.0.2.11", "success")]
    alerts = run(store, rule_text("temporal", rules="[fail, ok]", timespan="10m", condition="{gte: 2}"), events)
    assert [a.group_key["source.ip"] for a in alerts] == ["192.0.2.10"]


def test_temporal_ordered_respects_the_order(store: SqliteStore) -> None:
    events = [login(T0, "o1", "192.0.2.20"), login(T0 + timedelta(minutes=1), "o2", "192.0.2.20", "success")]
    events += [login(T0, "o3", "192.0.2.21", "success"), login(T0 + timedelta(minutes=1), "o4", "192.0.2.21")]
    text = rule_text("temporal_ordered", rules="[fail, ok]", timespan="10m", condition="{gte: 2}")
    alerts = run(store, text, events)
    assert [a.group_key["source.ip"] for a in alerts] == ["192.0.2.20"]


def test_first_min_needs_that_many_first_matches_before_the_next() -> None:
    hits = [Hit(i, str(i), 0) for i in range(4)] + [Hit(10, "s", 1)]
    assert _rules_seen(hits, 2, True, first_min=5) == 0
    assert _rules_seen(hits, 2, True, first_min=4) == 2
    assert _rules_seen(list(reversed(hits)), 2, True) == 1


@pytest.mark.parametrize(("type_", "first_min"), [("temporal_ordered", 1), ("temporal_ordered", 3), ("temporal", 1)])
def test_temporal_windows_match_a_scan_of_every_timespan(type_: str, first_min: int) -> None:
    import random

    from sentinel.detect.detectors.correlation import CorrelationDetector

    text = rule_text(type_, rules="[fail, ok]", timespan="10m", condition="{gte: 2}")
    text = text.replace("sentinel: {suppress: 1h}", f"sentinel: {{suppress: 1h, first_min: {first_min}}}")
    rules, errors = load_rule_text(text)
    assert not errors
    detector = CorrelationDetector(next(r for r in rules if r.kind == "correlation"))
    rng = random.Random(7)
    times = sorted(rng.randrange(0, 3 * 3_600_000) for _ in range(400))
    hits = [Hit(t, f"e{n}", int(rng.random() < 0.05)) for n, t in enumerate(times)]  # mostly the first rule
    fired = detector._fired_windows(hits, 3_600_000, 0)
    expected: dict[int, float] = {}
    for end, h in enumerate(hits):  # the plain definition: scan every timespan
        window = [x for x in hits[: end + 1] if x.ts_ms > h.ts_ms - 600_000]
        seen = float(_rules_seen(window, 2, type_ == "temporal_ordered", first_min))
        if seen >= 2:
            start = h.ts_ms - h.ts_ms % 3_600_000
            expected[start] = max(expected.get(start, seen), seen)
    assert fired == expected and fired
