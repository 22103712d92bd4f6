"""Threshold and new-value passes fed a page at a time count what the plain per-event formulas give."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.detect.alerts import MemoryAlertSink
from sentinel.detect.detectors.base import RunContext, align, key_value
from sentinel.detect.detectors.typed import NewValueDetector, ThresholdDetector, _metric
from sentinel.detect.matching.field_values import read_field
from sentinel.detect.rulebook.pack import load_rule_text
from sentinel.events import Event, new_event, to_millis
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore

T0 = datetime(2024, 7, 1, tzinfo=UTC)
VALUES: list[Any] = [5, 2.5, "7", "x", "nan", True, None, [1, 2], {"k": 1}, -0.0, "1e3", 10**20]
HOSTS: list[Any] = ["web01", "db01", ["a", "b"], None, {"x": 1}, 3]


def _events() -> list[Event]:
    out = []
    for n in range(120):
        ts = T0 + timedelta(seconds=37 * n, milliseconds=n)
        fields: dict[str, Any] = {"metric": VALUES[n % len(VALUES)], "host": {"hostname": HOSTS[n % len(HOSTS)]}}
        if n % 5:
            fields["organization"] = {"id": "mof" if n % 3 else "moh"}
        fields["event"] = {"created": (T0 + timedelta(seconds=n % 90)).isoformat()}
        out.append(new_event(event_id=f"e{n:03d}", timestamp=ts, dataset="test.x", fields=fields))
    return out


def _ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        store=SqliteStore(tmp_path / "unused.db"),
        inventory=Inventory([]),
        sink=MemoryAlertSink(),
        start_ms=to_millis(T0),
        end_ms=to_millis(T0 + timedelta(hours=3)),
        lookback_ms=0,
        suppress_ms=3_600_000,
        deadline=time.monotonic() + 60,
        rule_created_ms=0,
        sample_limit=5,
    )


def _threshold(op: str, field: str) -> ThresholdDetector:
    metric = f"{{op: {op}, field: {field}}}" if op != "count" else "{op: count}"
    text = f"type: threshold\nid: t-{op}\ntitle: t\ndatasets: [test.x]\ngroup_by: [host.hostname]\n"
    text += f"timespan: 10m\nmetric: {metric}\ncondition: {{gte: -1000}}\n"
    rules, errors = load_rule_text(text)
    assert not errors
    return ThresholdDetector(rules[0])


def _reference(op: str, field: str, events: list[Event], span: int) -> dict[Any, tuple[int, int, int, list[str], Any]]:
    """Per (org, key, timespan): count, first, last, samples and the metric, by the plain formulas."""
    groups: dict[Any, list[Any]] = {}
    for event in events:
        key = (key_value(read_field(event.doc, "host.hostname")),)
        if key[0] in (None, ""):  # no group-by value: in no group
            continue
        value = read_field(event.doc, field) if op != "count" else None
        if op != "count" and value is None:
            continue
        ts = to_millis(event.timestamp)
        slot = (event.organization_id, key, align(ts, span))
        g = groups.setdefault(slot, [0, ts, ts, [], set(), []])
        g[0] += 1
        g[1], g[2] = min(g[1], ts), max(g[2], ts)
        if len(g[3]) < 5:
            g[3].append(event.id)
        if op == "cardinality":
            g[4].add(key_value(value))
        if op in ("sum", "min", "max", "avg"):
            try:
                g[5].append(float(str(value)))
            except (TypeError, ValueError):
                pass
    out = {}
    for slot, (count, first, last, samples, distinct, numbers) in groups.items():
        metric: Any = {"count": float(count), "cardinality": float(len(distinct))}.get(op)
        if op in ("sum", "min", "max", "avg") and numbers:
            metric = {"sum": sum, "min": min, "max": max, "avg": lambda x: sum(x) / len(x)}[op](numbers)
        out[slot] = (count, first, last, samples, metric)
    return out


@pytest.mark.parametrize(
    ("op", "field"),
    [("count", ""), ("sum", "metric"), ("min", "metric"), ("max", "metric"), ("avg", "metric"),
     ("cardinality", "metric"), ("max", "derived.clock_skew_seconds")],
)  # fmt: skip
def test_threshold_pages_count_what_the_formulas_give(tmp_path: Path, op: str, field: str) -> None:
    detector = _threshold(op, field)
    events = _events()
    state = detector.begin(_ctx(tmp_path))
    state.add_all(events[:50])
    for event in events[50:70]:
        state.add(event)
    state.add_all(events[70:])
    want = _reference(op, field, events, 600_000)
    got = {}
    for slot, group in state.grouper.groups.items():
        numbers = state.numbers.get(slot, [])
        got[slot] = (group.count, group.first_ms, group.last_ms, group.samples, _metric(op, group, numbers))
    assert repr(got) == repr(want)  # repr: nan equals nan, -0.0 differs from 0.0
    assert state.matches == sum(v[0] for v in want.values())


def test_new_value_pages_remember_the_first_time_of_each_value(tmp_path: Path) -> None:
    text = "type: new_value\nid: nv\ntitle: t\ndatasets: [test.x]\nfield: metric\nkey: [host.hostname]\n"
    rules, errors = load_rule_text(text)
    assert not errors
    state = NewValueDetector(rules[0]).begin(_ctx(tmp_path))
    events = _events()
    state.add_all(events[:33])
    state.add_all(events[33:])
    want: dict[Any, tuple[int, str, int]] = {}
    for event in events:
        raw = read_field(event.doc, "metric")
        key = (key_value(read_field(event.doc, "host.hostname")),)
        if key[0] in (None, ""):  # no key value: never a new value of anything
            continue
        for value in raw if isinstance(raw, list) else [raw]:
            if value is None or isinstance(value, dict):
                continue
            slot = (event.organization_id, key, value)
            ts, first_id, count = want.get(slot, (to_millis(event.timestamp), event.id, 0))
            want[slot] = (ts, first_id, count + 1)
    assert state.first == want
