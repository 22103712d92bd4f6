"""The scheduled engine on a real SQLite store: catch-up, late events, silence, broken rules."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.config import DetectSettings
from sentinel.detect.alerts import load_alerts
from sentinel.detect.engine.checkpoints import Checkpoints
from sentinel.detect.engine.health import HealthRecorder
from sentinel.detect.engine.runner import DetectionEngine, backtest
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack
from sentinel.events import Event, make_event_id, new_event, set_field
from sentinel.inventory import ExpectedSource, Institution, Inventory
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore

T0 = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)
BRUTE_FORCE = "6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02"
ROOT_LOGIN = "d3ca30c9-e0f8-4790-9370-8910999c2960"
INVENTORY = Inventory([Institution(id="mof", name="Ministry of Finance")])

GOOD_RULE = """
title: Test root login
id: 11111111-2222-4333-8444-555555555555
logsource: {product: linux, service: sshd}
detection:
  sel: {event.action: ssh_login, event.outcome: success, user.name: root}
  condition: sel
level: high
tags: [attack.t1078]
"""


def ev(ts: datetime, n: int | str, dataset: str = "system.auth", org: str | None = "mof", **fields: Any) -> Event:
    doc: dict[str, Any] = {}
    for key, value in fields.items():
        set_field(doc, key.replace("__", "."), value)
    if org:
        set_field(doc, "organization.id", org)
    return new_event(event_id=make_event_id("test", f"{n}"), timestamp=ts, dataset=dataset, fields=doc, ingested=ts)


def failure(ts: datetime, n: int | str, ip: str) -> Event:
    return ev(ts, n, event__action="ssh_login", event__outcome="failure", source__ip=ip, user__name="root")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "sentinel.db")
    s.setup()
    yield s
    s.close()


def engine_for(store: SqliteStore, rules: Path | None = None, **settings: Any) -> DetectionEngine:
    pack = load_rule_pack([rules or builtin_rules_dir()], builtin=rules is None)
    cfg = DetectSettings(**settings)
    return DetectionEngine(store, pack, cfg, INVENTORY, health=HealthRecorder(store))


def test_catch_up_after_outage_raises_each_alert_exactly_once(store: SqliteStore) -> None:
    rules = [BRUTE_FORCE, ROOT_LOGIN]
    engine = engine_for(store)
    engine.run_all(T0, rules)  # the engine ran once, then stopped
    assert all(Checkpoints(store).get(r) for r in rules)

    events: list[Event] = []
    expected: set[tuple[str, str, datetime]] = set()
    for hour in range(6):
        base = T0 + timedelta(hours=hour, minutes=10)
        ip = f"203.0.113.{hour + 1}"
        events += [failure(base + timedelta(seconds=5 * i), f"f{hour}-{i}", ip) for i in range(12 + hour)]
        expected.add((BRUTE_FORCE, ip, T0 + timedelta(hours=hour)))
        events.append(ev(base + timedelta(minutes=20), f"r{hour}", event__action="ssh_login", event__outcome="success",
                         user__name="root", source__ip="10.0.0.9", host__hostname="db01"))  # fmt: skip
        expected.add((ROOT_LOGIN, "10.0.0.9", T0 + timedelta(hours=hour)))
        # under the threshold: 9 failures
        events += [failure(base + timedelta(minutes=40, seconds=i), f"u{hour}-{i}", "198.51.100.9") for i in range(9)]
    store.write_events(events)

    restarted = engine_for(store)  # a new process: state comes from the store only
    now = T0 + timedelta(hours=6, minutes=5)
    reports = restarted.catch_up(now, rules)
    assert not [r.error for r in reports if r.error]
    assert sum(r.windows_done for r in reports if r.rule_id == BRUTE_FORCE) >= 6 * 60
    assert max(r.windows_done for r in reports) <= restarted.settings.max_windows_per_run  # bounded steps

    alerts = load_alerts(store, Scope.everything(), rules, limit=1000)
    got = [(a.rule_id, a.group_key["source.ip"], datetime.fromisoformat(a.window_start)) for a in alerts]
    assert sorted(got) == sorted(expected)  # each exactly once, none for the 9-failure source
    counts = {a.group_key["source.ip"]: a.count for a in alerts if a.rule_id == BRUTE_FORCE}
    assert counts == {f"203.0.113.{h + 1}": 12 + h for h in range(6)}

    again = restarted.catch_up(now, rules)
    assert sum(r.alerts_created + r.alerts_updated for r in again) == 0
    assert len(load_alerts(store, Scope.everything(), rules, limit=1000)) == len(expected)


def test_late_event_within_lookback_updates_the_alert(store: SqliteStore) -> None:
    engine = engine_for(store, lookback_seconds=300)
    engine.run_all(T0, [BRUTE_FORCE])
    store.write_events([failure(T0 + timedelta(minutes=1, seconds=i), f"a{i}", "192.0.2.1") for i in range(10)])
    engine.catch_up(T0 + timedelta(minutes=10), [BRUTE_FORCE])
    (alert,) = load_alerts(store, Scope.everything(), [BRUTE_FORCE])
    assert alert.count == 10
    # Arrives late: stamped before the checkpoint, but within the look-back.
    checkpoint = Checkpoints(store).get(BRUTE_FORCE)
    assert checkpoint is not None
    late_ts = checkpoint.until - timedelta(minutes=2)
    store.write_events([failure(late_ts, "late", "192.0.2.1")])
    engine.catch_up(T0 + timedelta(minutes=12), [BRUTE_FORCE])
    (alert,) = load_alerts(store, Scope.everything(), [BRUTE_FORCE])
    assert alert.count == 11
    assert len(load_alerts(store, Scope.everything(), [BRUTE_FORCE])) == 1


def test_first_run_starts_at_now_not_at_the_beginning_of_history(store: SqliteStore) -> None:
    store.write_events([failure(T0 - timedelta(days=2, seconds=-i), f"old{i}", "192.0.2.7") for i in range(20)])
    engine = engine_for(store)
    (report,) = engine.run_all(T0, [BRUTE_FORCE])
    assert report.windows_done == 1 and report.error is None
    assert load_alerts(store, Scope.everything(), [BRUTE_FORCE]) == []


def test_broken_rules_are_reported_with_file_and_reason_and_others_run(store: SqliteStore, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(GOOD_RULE)
    (rules / "syntax.yml").write_text("title: broken\ndetection: [unclosed\n")
    (rules / "unknown_field.yml").write_text(
        GOOD_RULE.replace("11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-666666666666").replace(
            "user.name: root", "NoSuchSigmaField: x"
        )
    )
    (rules / "bad_option.yml").write_text(
        GOOD_RULE.replace("555555555555", "555555555999") + "sentinel: {intervall: 1m}\n"
    )
    # runs, but the store refuses its filter: a runtime failure of one rule
    (rules / "runtime.yml").write_text(
        "type: threshold\nid: runtime-broken\ntitle: x\ndatasets: [system.auth]\n"
        "where: [{field: 'bad field!', op: eq, value: 1}]\ncondition: {gte: 1}\n"
    )
    engine = engine_for(store, rules)
    errors = {Path(e.location.path).name: str(e) for e in engine.load_errors if e.location}
    assert set(errors) == {"syntax.yml", "unknown_field.yml", "bad_option.yml"}
    assert re.search(r"syntax\.yml:\d+: invalid YAML", errors["syntax.yml"])
    assert "NoSuchSigmaField" in errors["unknown_field.yml"]
    assert "sentinel.intervall" in errors["bad_option.yml"]
    assert set(engine.rules) == {"11111111-2222-4333-8444-555555555555", "runtime-broken"}

    engine.run_all(T0)
    store.write_events([ev(T0 + timedelta(minutes=1), "root1", event__action="ssh_login", event__outcome="success",
                           user__name="root")])  # fmt: skip
    reports = {r.rule_id: r for r in engine.catch_up(T0 + timedelta(minutes=5))}
    assert reports["runtime-broken"].error and "bad field!" in reports["runtime-broken"].error
    assert reports["11111111-2222-4333-8444-555555555555"].error is None
    assert len(load_alerts(store, Scope.everything(), ["11111111-2222-4333-8444-555555555555"])) == 1

    health = {h.rule_id: h for h in HealthRecorder(store).all()}
    assert health["runtime-broken"].status == "error" and health["runtime-broken"].consecutive_errors >= 1
    assert health["11111111-2222-4333-8444-555555555555"].status == "ok"
    not_loaded = [h for h in health.values() if h.status == "not_loaded"]
    assert {Path(h.path or "").name for h in not_loaded} == {"syntax.yml", "unknown_field.yml", "bad_option.yml"}
    # the failing rule never completed a window, so it has no checkpoint to skip ahead from
    assert Checkpoints(store).get("runtime-broken") is None
    assert Checkpoints(store).get("11111111-2222-4333-8444-555555555555") is not None


def test_a_slow_rule_is_stopped_and_reported(
    store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(GOOD_RULE)
    (rules / "slow.yml").write_text(
        GOOD_RULE.replace("555555555555", "555555555777") + "sentinel: {max_run_seconds: 0.000000001}\n"
    )
    engine = engine_for(store, rules)
    with caplog.at_level(logging.ERROR):
        reports = {r.rule_id: r for r in engine.run_all(T0)}
    assert "run time budget" in (reports["11111111-2222-4333-8444-555555555777"].error or "")
    assert reports["11111111-2222-4333-8444-555555555555"].error is None
    assert "failed; the other rules keep running" in caplog.text


def test_silence_alert_opens_and_resolves(store: SqliteStore) -> None:
    silence_rule = "9edb24f5-ecdd-4501-986d-c1e80f30e685"
    source = ExpectedSource(name="db01 auth", dataset="system.auth", host="db01", silence_minutes=30)
    inventory = Inventory([Institution(id="mof", name="Ministry of Finance", expected_sources=[source])])
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    engine = DetectionEngine(store, pack, DetectSettings(ingest_delay_seconds=0), inventory)
    store.write_events([ev(T0 + timedelta(minutes=m), f"s{m}", host__hostname="db01") for m in range(0, 60, 5)])
    last = T0 + timedelta(minutes=55)

    engine.catch_up(T0 + timedelta(minutes=60), [silence_rule])
    engine.catch_up(last + timedelta(minutes=29), [silence_rule])
    assert load_alerts(store, Scope.everything(), [silence_rule]) == []

    engine.catch_up(last + timedelta(minutes=31), [silence_rule])
    engine.catch_up(last + timedelta(minutes=40), [silence_rule])  # still silent: the same alert
    (alert,) = load_alerts(store, Scope.everything(), [silence_rule])
    assert alert.state == "open" and alert.institution_id == "mof"
    assert alert.group_key == {"source": "db01 auth", "dataset": "system.auth", "host": "db01"}
    assert datetime.fromisoformat(alert.first_seen) == last

    resumed = last + timedelta(minutes=45)
    store.write_events([ev(resumed, "back", host__hostname="db01")])
    engine.catch_up(resumed + timedelta(minutes=2), [silence_rule])
    (alert,) = load_alerts(store, Scope.everything(), [silence_rule])
    assert alert.state == "resolved"
    assert alert.resolved_at is not None and datetime.fromisoformat(alert.resolved_at) == resumed


def test_backtest_stores_nothing(store: SqliteStore) -> None:
    store.write_events([failure(T0 + timedelta(seconds=i), f"b{i}", "192.0.2.99") for i in range(15)])
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    alerts, reports, errors = backtest(
        store, pack, DetectSettings(), INVENTORY, T0 - timedelta(days=7), T0 + timedelta(hours=1), [BRUTE_FORCE]
    )
    assert [a.group_key for a in alerts] == [{"source.ip": "192.0.2.99"}] and alerts[0].count == 15
    assert not errors and not [r.error for r in reports if r.error]
    assert store.count_documents("alerts", Scope.everything()) == 0
    assert store.count_documents("checkpoints", Scope.everything()) == 0


def test_scheduler_runs_the_rules_in_one_job(store: SqliteStore, tmp_path: Path) -> None:
    import time

    from apscheduler.schedulers.background import BackgroundScheduler

    from sentinel.detect.engine.scheduler import JOB_ID, add_detection_jobs, remove_detection_jobs

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(GOOD_RULE.replace("level: high", "level: high\nsentinel: {interval: 2s}"))
    engine = engine_for(store, rules)
    scheduler = BackgroundScheduler(timezone=UTC)
    ids = add_detection_jobs(scheduler, engine)
    assert ids == [JOB_ID]
    job = scheduler.get_job(JOB_ID)
    assert job.max_instances == 1 and job.coalesce and job.trigger.interval == timedelta(seconds=2)
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not HealthRecorder(store).all():
            time.sleep(0.1)
        assert remove_detection_jobs(scheduler) == 1
    finally:
        scheduler.shutdown(wait=True)
    (health,) = HealthRecorder(store).all()
    assert health.status == "ok" and health.runs >= 1


def test_the_job_runs_due_rules_together_and_a_broken_one_alone_fails(store: SqliteStore, tmp_path: Path) -> None:
    from sentinel.detect.engine.scheduler import DetectionJob

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(GOOD_RULE)  # every minute (the default)
    (rules / "slow.yml").write_text(
        GOOD_RULE.replace("555555555555", "555555555777").replace(
            "level: high", "level: high\nsentinel: {interval: 5m}"
        )
    )
    (rules / "runtime.yml").write_text(
        "type: threshold\nid: runtime-broken\ntitle: x\ndatasets: [system.auth]\n"
        "where: [{field: 'bad field!', op: eq, value: 1}]\ncondition: {gte: 1}\n"
    )
    store.write_events([ev(T0 + timedelta(minutes=1), "root1", event__action="ssh_login", event__outcome="success",
                           user__name="root")])  # fmt: skip
    clock = [T0]
    engine = engine_for(store, rules)
    job = DetectionJob(engine, clock=lambda: clock[0])
    assert job.tick == 60
    ran: list[set[str]] = []
    for minute in range(11):
        clock[0] = T0 + timedelta(minutes=minute)
        ran.append({r.rule_id for r in job()})
    every = {"11111111-2222-4333-8444-555555555555", "runtime-broken"}
    slow = "11111111-2222-4333-8444-555555555777"
    assert ran[0] == ran[5] == ran[10] == every | {slow}
    assert all(r == every for n, r in enumerate(ran) if n % 5)
    health = {h.rule_id: h for h in HealthRecorder(store).all()}
    assert health["runtime-broken"].status == "error" and health["runtime-broken"].runs == 11
    assert health["11111111-2222-4333-8444-555555555555"].status == "ok"
    assert health[slow].status == "ok" and health[slow].runs == 3
    assert len(load_alerts(store, Scope.everything(), ["11111111-2222-4333-8444-555555555555"])) == 1
    assert len(load_alerts(store, Scope.everything(), [slow])) == 1
