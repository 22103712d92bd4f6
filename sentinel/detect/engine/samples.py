"""Run a rule's samples on the real engine: events that must raise an alert and events that must not.

Every sample is a *scenario* run on its own, in a fresh store the caller provides (a real
SQLite file in tests and in ``sentinel rules test``):

* a plain mapping is one event: ``{event.action: ssh_login, event.outcome: failure, source.ip: ...}``
  (nested or dotted keys);
* ``{events: [...], expected_source: {...}, check_from: 1h, check_after: 2h}`` is a scenario. Inside it an event
  may carry ``_repeat: N`` (N copies), ``_every: 10s`` (spacing of copies and of consecutive
  events, default 1s) and ``_at: 5m`` (offset from the scenario start). ``expected_source`` adds
  an inventory expected source (silence rules); ``check_after`` is when the engine looks, after
  the scenario start (default: just after the last event); ``check_from`` is where the engine starts
  (default: an hour before the scenario start): events before it are history only.

Events get ``@timestamp`` from their offset, ``event.dataset`` from the rule when missing,
``organization.id`` ``sample-org`` when missing, and deterministic ids.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel.config import DetectSettings
from sentinel.detect.alerts import Alert
from sentinel.detect.engine.runner import backtest
from sentinel.detect.rulebook.pack import PackRule, RulePack
from sentinel.durations import parse_duration
from sentinel.events import Event, format_timestamp, make_event_id, new_event, set_field
from sentinel.inventory import ExpectedSource, Institution, Inventory
from sentinel.store.base import Store

SAMPLE_ORG = "sample-org"
BASE_TIME = datetime(2024, 1, 15, 8, 0, tzinfo=UTC)
_SPECIAL = {"_repeat", "_every", "_at"}
_SCENARIO_KEYS = {"events", "expected_source", "check_after", "check_from"}


@dataclass
class Scenario:
    events: list[Event]
    inventory: Inventory
    check_at: datetime
    check_from: datetime


@dataclass
class SampleResult:
    rule_id: str
    expect: str  # "match" or "no_match"
    index: int
    passed: bool
    alerts: list[Alert] = field(default_factory=list)
    error: str | None = None

    def describe(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        detail = self.error or f"{len(self.alerts)} alert(s)"
        return f"{verdict}: {self.expect}[{self.index}] -> {detail}"


def build_scenario(rule: PackRule, sample: Any, index: int, expect: str) -> Scenario:
    if isinstance(sample, dict) and set(sample) & _SCENARIO_KEYS and set(sample) <= _SCENARIO_KEYS:
        raw_events = sample.get("events") or []
        source = sample.get("expected_source")
        check_after = sample.get("check_after")
        check_from = sample.get("check_from")
    elif isinstance(sample, dict):
        raw_events, source, check_after, check_from = [sample], None, None, None
    else:
        raise ValueError("a sample is an event mapping or a scenario {events: [...]}")
    if not isinstance(raw_events, list):
        raise ValueError("'events' must be a list")
    events: list[Event] = []
    offset = timedelta(0)
    for n, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            raise ValueError(f"event {n} is not a mapping")
        every = parse_duration(raw.get("_every", 1))
        if "_at" in raw:
            offset = parse_duration(raw["_at"])
        repeat = int(raw.get("_repeat", 1))
        if not 1 <= repeat <= 100_000:
            raise ValueError("_repeat must be between 1 and 100000")
        for r in range(repeat):
            doc = _expand({k: v for k, v in raw.items() if k not in _SPECIAL})
            events.append(_event(rule, doc, BASE_TIME + offset, f"{rule.id}:{expect}:{index}:{n}:{r}"))
            offset += every
    if check_after is not None:
        check_at = BASE_TIME + parse_duration(check_after)
    else:
        check_at = BASE_TIME + offset + timedelta(minutes=1)
    start = BASE_TIME + parse_duration(check_from) if check_from is not None else BASE_TIME - timedelta(hours=1)
    institutions = [Institution(id=SAMPLE_ORG, name="Sample institution")]
    if source is not None:
        institutions = [
            Institution(
                id=SAMPLE_ORG, name="Sample institution", expected_sources=[ExpectedSource.model_validate(source)]
            )
        ]
    return Scenario(events, Inventory(institutions), check_at, start)


def _expand(flat: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in flat.items():
        if key == "@timestamp":
            continue
        if isinstance(value, dict) and "." not in key:
            doc.setdefault(key, {})
            for sub_key, sub_value in _expand(value).items():
                set_field(doc, f"{key}.{sub_key}", sub_value)
        else:
            set_field(doc, key, copy.deepcopy(value))
    return doc


def _event(rule: PackRule, doc: dict[str, Any], ts: datetime, origin: str) -> Event:
    dataset = (doc.get("event") or {}).get("dataset") or (rule.datasets[0] if rule.datasets else "system.syslog")
    doc.setdefault("organization", {}).setdefault("id", SAMPLE_ORG)
    doc.setdefault("event", {}).setdefault("created", format_timestamp(ts))
    event_id = make_event_id("sample", origin)
    return new_event(event_id=event_id, timestamp=ts, dataset=dataset, fields=doc, ingested=ts)


def run_sample(
    store_factory: Callable[[int], Store], pack: RulePack, rule: PackRule, sample: Any, index: int, expect: str
) -> SampleResult:
    """One sample in its own store: ``match`` passes with ≥1 alert, ``no_match`` with none."""
    try:
        scenario = build_scenario(rule, sample, index, expect)
    except (ValueError, TypeError) as exc:
        return SampleResult(rule.id, expect, index, False, error=f"invalid sample: {exc}")
    store = store_factory(index if expect == "match" else 100_000 + index)
    try:
        store.write_events(scenario.events)
        single = RulePack(rules=[rule])
        settings = DetectSettings()
        alerts, reports, errors = backtest(
            store, single, settings, scenario.inventory, scenario.check_from, scenario.check_at, [rule.id]
        )
    finally:
        store.close()
    problems = [str(e) for e in errors] + [r.error for r in reports if r.error]
    if problems:
        return SampleResult(rule.id, expect, index, False, alerts, error="; ".join(problems))
    passed = bool(alerts) if expect == "match" else not alerts
    return SampleResult(rule.id, expect, index, passed, alerts)


def run_rule_samples(store_factory: Callable[[int], Store], pack: RulePack, rule: PackRule) -> list[SampleResult]:
    results = []
    for expect, samples in (("match", rule.options.samples.match), ("no_match", rule.options.samples.no_match)):
        for i, sample in enumerate(samples):
            results.append(run_sample(store_factory, pack, rule, sample, i, expect))
    return results
