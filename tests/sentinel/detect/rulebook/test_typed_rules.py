"""Typed rules beyond Sigma: parsing with file/line errors, thresholds, new values (with learning)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.config import DetectSettings
from sentinel.detect.alerts import load_alerts
from sentinel.detect.engine.runner import DetectionEngine, backtest
from sentinel.detect.matching.field_values import read_field
from sentinel.detect.rulebook.pack import RulePack, load_rule_text
from sentinel.detect.rulebook.typed_rules import ThresholdRule
from sentinel.events import Event, make_event_id, new_event, set_field
from sentinel.inventory import Inventory
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore

T0 = datetime(2024, 7, 1, 0, 0, tzinfo=UTC)

NEW_VALUE = """
type: new_value
id: nv-test
title: New sudo user on a host
description: first time a user runs sudo on a host
datasets: [system.auth]
where: [{field: event.action, op: eq, value: sudo_command}]
field: user.name
key: [host.hostname]
history: 30d
learn: 1d
"""


def ev(ts: datetime, n: Any, **fields: Any) -> Event:
    doc: dict[str, Any] = {}
    for key, value in {"organization.id": "mof", **fields}.items():
        set_field(doc, key, value)
    return new_event(event_id=make_event_id("rt", str(n)), timestamp=ts, dataset="system.auth", fields=doc)


def sudo(ts: datetime, n: Any, user: str, host: str = "web01") -> Event:
    return ev(ts, n, **{"event.action": "sudo_command", "user.name": user, "host.hostname": host})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "t.db")
    s.setup()
    yield s
    s.close()


def test_errors_name_the_file_line_and_key() -> None:
    text = NEW_VALUE.replace("history: 30d", "history: 30 days")
    rules, errors = load_rule_text(text, Path("nv.yml"))
    assert rules == [] and len(errors) == 1
    loc = errors[0].location
    assert loc is not None and loc.path == "nv.yml" and loc.line == 10 and loc.key == "history"
    _, errors = load_rule_text(NEW_VALUE + "colour: red\n", Path("nv.yml"))
    assert "unknown key" in str(errors[0]) and errors[0].location.key == "colour"  # type: ignore[union-attr]
    _, errors = load_rule_text("type: threshold\nid: t\ntitle: t\ncondition: {gte: 1, lt: 3}\n", Path("t.yml"))
    assert "exactly one of" in str(errors[0])


def test_threshold_sum_and_cardinality(store: SqliteStore) -> None:
    text = """
type: threshold
id: big-downloads
title: Large downloads by one client
datasets: [nginx.access]
group_by: [source.ip]
timespan: 10m
metric: {op: sum, field: http.response.body.bytes}
condition: {gt: 1000000}
---
type: threshold
id: many-hosts
title: One user on many hosts
datasets: [nginx.access]
group_by: [user.name]
timespan: 10m
metric: {op: cardinality, field: host.hostname}
condition: {gte: 3}
"""
    rules, errors = load_rule_text(text)
    assert not errors and all(isinstance(r.definition, ThresholdRule) for r in rules)
    events = []
    for i in range(6):
        events.append(new_event(event_id=f"w{i}", timestamp=T0 + timedelta(seconds=i), dataset="nginx.access",
                                fields={"organization": {"id": "mof"}, "source": {"ip": "192.0.2.1"}, "user": {"name": "bob"},
                                        "host": {"hostname": f"h{i % 3}"}, "http": {"response": {"body": {"bytes": 300_000}}}}))  # fmt: skip
    events.append(new_event(event_id="small", timestamp=T0, dataset="nginx.access",
                            fields={"organization": {"id": "mof"}, "source": {"ip": "192.0.2.2"}, "user": {"name": "eve"},
                                    "host": {"hostname": "h0"}, "http": {"response": {"body": {"bytes": 10}}}}))  # fmt: skip
    store.write_events(events)
    alerts, _, _ = backtest(
        store, RulePack(rules=rules), DetectSettings(), Inventory([]), T0 - timedelta(hours=1), T0 + timedelta(hours=1)
    )
    got = {(a.rule_id, tuple(a.group_key.values())): a.details["value"] for a in alerts}
    assert got == {("big-downloads", ("192.0.2.1",)): 1_800_000.0, ("many-hosts", ("bob",)): 3.0}


def test_new_value_learns_silently_then_alerts_once_per_new_value(store: SqliteStore) -> None:
    rules, errors = load_rule_text(NEW_VALUE)
    assert not errors
    engine = DetectionEngine(store, RulePack(rules=rules), DetectSettings(ingest_delay_seconds=0), Inventory([]))
    engine.run_all(T0)  # first run: learning starts now
    store.write_events([sudo(T0 + timedelta(hours=h), f"a{h}", "alice") for h in range(1, 20)])
    store.write_events([sudo(T0 + timedelta(hours=2), "b", "bob")])  # new, but during learning
    engine.catch_up(T0 + timedelta(hours=23))
    assert load_alerts(store, Scope.everything()) == []  # no flood while learning

    store.write_events([sudo(T0 + timedelta(hours=30), "b2", "bob")])  # bob is known from history
    store.write_events(
        [sudo(T0 + timedelta(hours=31), "m1", "mallory"), sudo(T0 + timedelta(hours=31, minutes=1), "m2", "mallory")]
    )
    store.write_events([sudo(T0 + timedelta(hours=31), "a-db", "alice", host="db01")])  # alice is new on db01
    engine.catch_up(T0 + timedelta(hours=32))
    alerts = load_alerts(store, Scope.everything())
    assert sorted((a.group_key["host.hostname"], a.group_key["user.name"]) for a in alerts) == [
        ("db01", "alice"),
        ("web01", "mallory"),
    ]
    engine.catch_up(T0 + timedelta(hours=40))
    assert len(load_alerts(store, Scope.everything())) == 2


def test_derived_clock_skew() -> None:
    doc = {"@timestamp": "2024-07-01T00:00:00.000Z", "event": {"created": "2024-07-01T00:02:00.000Z"}}
    assert read_field(doc, "derived.clock_skew_seconds") == 120.0
    assert read_field({"@timestamp": "2024-07-01T00:00:00.000Z"}, "derived.clock_skew_seconds") is None


def _skew_by_datetimes(doc: dict[str, Any]) -> float | None:
    """The clock skew as first written: both times parsed, their difference in seconds."""
    from sentinel.events import get_field, parse_timestamp

    created, ts = get_field(doc, "event.created"), doc.get("@timestamp")
    if not isinstance(created, str) or not isinstance(ts, str):
        return None
    try:
        return abs((parse_timestamp(ts) - parse_timestamp(created)).total_seconds())
    except ValueError:
        return None


def test_clock_skew_equals_the_datetime_difference_for_any_text() -> None:
    import random

    from sentinel.events import format_timestamp, from_millis

    rng = random.Random(7)
    created = ["2025-06-01T00:00:00.000Z", "2025-06-02T03:00:00+03:00", "2025-06-02T00:00:00.123456", "later", 5]
    odd = ["1a3", "\u0661\u0662\u0663", "999", "000", "12", "1234"]
    for n in range(20_000):
        ts = format_timestamp(from_millis(rng.randrange(-(10**12), 7 * 10**12)))
        if n % 7 == 0:
            ts = ts[:20] + rng.choice(odd) + "Z"
        elif n % 11 == 0:
            ts = ts[:19] + "+01:00"
        elif n % 13 == 0:
            ts = ts[:11] + "24" + ts[13:]  # an hour that does not exist
        elif n % 17 == 0:
            ts = ts.replace("T", " ")
        for doc in ({"@timestamp": ts, "event": {"created": rng.choice(created)}},
                    {"@timestamp": ts, "event.created": created[0], "event": {"created": created[1]}},
                    {"@timestamp": ts}, {"@timestamp": ts, "event": "created"}):  # fmt: skip
            want = _skew_by_datetimes(doc)
            assert read_field(doc, "derived.clock_skew_seconds") == want, doc
            assert read_field(doc, "derived.clock_skew_seconds") == want, doc  # again, from the caches
