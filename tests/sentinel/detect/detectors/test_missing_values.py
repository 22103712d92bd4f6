"""Sigma correlation semantics for missing values: an event without a group-by value is in no group.

Correlations, thresholds and new-value rules never form a group of events that lack the field
(an attack "from -" that no one made), and a back-test never reports a silence that began
before the range it was asked about.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.config import DetectSettings
from sentinel.detect.alerts import Alert
from sentinel.detect.engine.runner import backtest
from sentinel.detect.rulebook.pack import RulePack, builtin_rules_dir, load_rule_pack, load_rule_text
from sentinel.events import Event, make_event_id, new_event, set_field
from sentinel.inventory import ExpectedSource, Institution, Inventory
from sentinel.store.sqlite import SqliteStore

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

CORRELATION = """
title: fail
id: bbbbbbbb-0000-4000-8000-000000000001
name: fail
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_login, event.outcome: failure}
  condition: sel
---
title: brute force
id: bbbbbbbb-0000-4000-8000-0000000000ff
correlation: {type: event_count, rules: [fail], group-by: [source.ip], timespan: 15m, condition: {gte: 10}}
level: high
"""
THRESHOLD = """
type: threshold
id: failures-by-source
title: Many failures from one source
datasets: [system.auth]
group_by: [source.ip]
timespan: 15m
metric: {op: count}
condition: {gte: 10}
"""
NEW_VALUE = """
type: new_value
id: new-user-on-host
title: New user on a host
datasets: [system.auth]
field: user.name
key: [host.hostname]
history: 30d
learn: 0
"""


def failure(n: int, ip: str | None, ts: datetime, org: str = "mof", **more: Any) -> Event:
    doc: dict[str, Any] = {}
    fields = {"event.action": "ssh_login", "event.outcome": "failure", "organization.id": org, **more}
    if ip is not None:
        fields["source.ip"] = ip
    for key, value in fields.items():
        set_field(doc, key, value)
    return new_event(event_id=make_event_id("missing", str(n)), timestamp=ts, dataset="system.auth", fields=doc)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "m.db")
    s.setup()
    yield s
    s.close()


def run(store: SqliteStore, text: str, events: list[Event], inventory: Inventory | None = None) -> list[Alert]:
    rules, errors = load_rule_text(text)
    assert not errors
    store.write_events(events)
    alerts, reports, load_errors = backtest(
        store,
        RulePack(rules=rules),
        DetectSettings(),
        inventory or Inventory([]),
        T0 - timedelta(hours=1),
        T0 + timedelta(hours=2),
    )
    assert not load_errors and not [r.error for r in reports if r.error]
    return alerts


def _burst(no_source: int, with_source: int, empty: int = 0) -> list[Event]:
    events = [failure(i, None, T0 + timedelta(seconds=i)) for i in range(no_source)]
    events += [failure(1000 + i, "", T0 + timedelta(seconds=i)) for i in range(empty)]
    events += [failure(2000 + i, "198.51.100.7", T0 + timedelta(seconds=i)) for i in range(with_source)]
    return events


@pytest.mark.parametrize("text", [CORRELATION, THRESHOLD], ids=["correlation", "threshold"])
def test_events_without_the_group_by_field_form_no_group(store: SqliteStore, text: str) -> None:
    alerts = run(store, text, _burst(no_source=25, with_source=3, empty=12))
    assert alerts == []  # 37 failures without an address, 3 with one: no "brute force from -"


@pytest.mark.parametrize("text", [CORRELATION, THRESHOLD], ids=["correlation", "threshold"])
def test_the_events_with_a_value_still_group(store: SqliteStore, text: str) -> None:
    (alert,) = run(store, text, _burst(no_source=25, with_source=12))
    assert alert.group_key == {"source.ip": "198.51.100.7"} and alert.count == 12


def test_a_new_value_needs_its_key(store: SqliteStore) -> None:
    events = [failure(1, None, T0, **{"user.name": "mallory"})]  # no host.hostname
    events.append(failure(2, None, T0 + timedelta(minutes=1), **{"user.name": "trudy", "host.hostname": "db01"}))
    alerts = run(store, NEW_VALUE, events)
    assert [(a.group_key["host.hostname"], a.group_key["user.name"]) for a in alerts] == [("db01", "trudy")]


def test_a_back_test_reports_no_silence_before_its_start(store: SqliteStore) -> None:
    pack = load_rule_pack([builtin_rules_dir() / "expected_source_silent.yml"])
    source = ExpectedSource(name="db01 auth", dataset="system.auth", host="db01", silence_minutes=30)
    inventory = Inventory([Institution(id="mof", name="Finance", expected_sources=[source])])
    start, end = T0 - timedelta(days=36500), T0  # `sentinel detect --since 36500d` with no event at all
    alerts, reports, errors = backtest(store, pack, DetectSettings(), inventory, start, end)
    assert not errors and not [r.error for r in reports if r.error]
    (alert,) = alerts
    assert alert.first_seen >= start.isoformat().replace("+00:00", "") and alert.window_start.startswith("1924")
