"""SLA: due times per severity, breaches found once, recorded for the monthly report."""

from __future__ import annotations

from datetime import timedelta

from sentinel.config import IncidentSettings, Settings, load_settings
from sentinel.incidents import IncidentService, find_breaches
from sentinel.store.base import DocumentWrite, Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import Clock, make_alert

ALL = Scope.everything()


def test_default_targets_follow_the_reference() -> None:
    sla = IncidentSettings().sla
    assert sla.acknowledge.critical == timedelta(minutes=15)
    assert sla.acknowledge.high == timedelta(hours=1)
    assert sla.acknowledge.medium == timedelta(hours=4)
    assert sla.acknowledge.low == timedelta(hours=24)
    assert sla.resolve.critical < sla.resolve.high < sla.resolve.medium < sla.resolve.low


def test_targets_are_configurable_in_plain_durations(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "sentinel.yaml"
    config.write_text("incidents:\n  sla:\n    acknowledge:\n      high: 30m\n  attach_window: 2h\n")
    settings = load_settings(config, environ={})
    assert settings.incidents.sla.acknowledge.high == timedelta(minutes=30)
    assert settings.incidents.sla.acknowledge.critical == timedelta(minutes=15)  # others keep defaults
    assert settings.incidents.attach_window == timedelta(hours=2)


def test_breach_found_escalated_once_then_not_again(service: IncidentService, store: SqliteStore, clock: Clock) -> None:
    incident, _ = service.open_or_attach(make_alert(store, 1, severity="critical"), key="k", actor="playbook:bf")
    clock.advance(minutes=14)
    assert find_breaches(store, service.settings, clock.now) == []
    clock.advance(minutes=2)
    [breach] = find_breaches(store, service.settings, clock.now)
    assert (breach.incident_id, breach.kind, breach.overdue_seconds) == (incident.id, "acknowledge", 60.0)
    notice = DocumentWrite("outbox", "sla-1", {"incident_id": incident.id})
    updated, recorded = service.record_breach(breach, extra_writes=[notice])
    assert recorded and updated.ack_breached
    assert [(b.kind, b.escalated) for b in updated.sla_breaches] == [("acknowledge", True)]
    assert store.get_document("outbox", "sla-1", ALL) is not None
    # a second worker with the same (stale) breach: nothing recorded, nothing sent
    again, recorded_again = service.record_breach(breach, extra_writes=[DocumentWrite("outbox", "sla-2", {})])
    assert not recorded_again and again.version == updated.version
    assert store.get_document("outbox", "sla-2", ALL) is None
    assert find_breaches(store, service.settings, clock.now) == []
    audit = [e for e in service.audit(incident.id, ALL) if e.action == "sla"]
    assert [(e.field, e.actor, e.note) for e in audit] == [("ack_breached", "system:sla", "escalated")]
    # acknowledging late does not record the acknowledge breach a second time
    acked = service.acknowledge(incident.id, actor="analyst:ana", scope=ALL)
    assert len(acked.sla_breaches) == 1 and acked.tta_seconds == 960.0
    # the resolve target (1 day for critical) is next
    clock.advance(days=1)
    [resolve] = find_breaches(store, service.settings, clock.now)
    assert resolve.kind == "resolve"


def test_breach_no_longer_pending_is_not_recorded(service: IncidentService, store: SqliteStore, clock: Clock) -> None:
    incident, _ = service.open_or_attach(make_alert(store, 1, severity="critical"), key="k", actor="playbook:bf")
    clock.advance(minutes=20)
    [breach] = find_breaches(store, service.settings, clock.now)
    service.acknowledge(incident.id, actor="analyst:ana", scope=ALL)  # acknowledged late, before the job ran
    updated, recorded = service.record_breach(breach)
    assert not recorded
    # the late acknowledgement itself was recorded as a (not escalated) breach for the report
    assert [(b.kind, b.escalated) for b in updated.sla_breaches] == [("acknowledge", False)]


def test_raising_severity_moves_the_due_times(service: IncidentService, store: SqliteStore, clock: Clock) -> None:
    incident, _ = service.open_or_attach(make_alert(store, 1, severity="low"), key="k", actor="playbook:bf")
    clock.advance(minutes=30)
    assert find_breaches(store, service.settings, clock.now) == []
    service.set_severity(incident.id, "critical", actor="analyst:ana", scope=ALL)
    [breach] = find_breaches(store, service.settings, clock.now)
    assert breach.kind == "acknowledge" and breach.overdue_seconds == 15 * 60


def test_find_breaches_most_overdue_first_and_only_open(
    service: IncidentService, store: SqliteStore, clock: Clock
) -> None:
    a, _ = service.open_or_attach(make_alert(store, 1, severity="medium"), key="a", actor="playbook:bf")
    clock.advance(hours=1)
    b, _ = service.open_or_attach(make_alert(store, 2, severity="medium"), key="b", actor="playbook:bf")
    c, _ = service.open_or_attach(make_alert(store, 3, severity="medium"), key="c", actor="playbook:bf")
    service.transition(c.id, "false_positive", actor="analyst:ana", scope=ALL)
    clock.advance(hours=4, minutes=1)  # b is 1 minute past its 4 h target, a 61 minutes
    found = find_breaches(store, Settings(), clock.now)
    assert [(x.incident_id, x.kind) for x in found] == [(a.id, "acknowledge"), (b.id, "acknowledge")]
