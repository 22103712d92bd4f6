"""IncidentService on a real SQLite store: transitions, audit trail, comments, alerts, severity."""

from __future__ import annotations

import pytest

from sentinel.errors import ConflictError, NotFoundError, SentinelError
from sentinel.incidents import Incident, IncidentService, IncidentState, Severity
from sentinel.store.base import DocumentWrite, Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import Clock, make_alert

ALL = Scope.everything()
KEY = "moh|source.ip=203.0.113.9"


def _open(service: IncidentService, store: SqliteStore, n: int = 1, **kw: object) -> Incident:
    incident, created = service.open_or_attach(make_alert(store, n, **kw), key=KEY, actor="playbook:brute_force")  # type: ignore[arg-type]
    assert created
    return incident


def test_full_lifecycle_records_times_and_every_change(
    service: IncidentService, store: SqliteStore, clock: Clock
) -> None:
    incident = _open(service, store)
    assert incident.state is IncidentState.NEW and incident.severity is Severity.HIGH
    assert incident.ack_due_at == "2024-05-01T13:00:00.000Z"  # high: 1 h from opening
    clock.advance(minutes=20)
    incident = service.transition(incident.id, "acknowledged", actor="analyst:ana", scope=ALL)
    assert incident.tta_seconds == 1200.0 and incident.acknowledged_by == "analyst:ana"
    clock.advance(hours=1)
    for state in ("investigating", "contained", "resolved"):
        incident = service.transition(incident.id, state, actor="analyst:ana", scope=ALL, note=f"now {state}")
    assert incident.ttr_seconds == 4800.0 and incident.resolved_at is not None
    incident = service.transition(incident.id, "closed", actor="analyst:bob", scope=ALL)
    assert incident.closed_at is not None
    assert incident.sla_breaches == []  # acknowledged within 1 h, resolved within 3 days

    trail = service.audit(incident.id, ALL)
    states = [(e.old, e.new, e.actor) for e in trail if e.field == "state"]
    assert states == [
        (None, "new", "playbook:brute_force"),
        ("new", "acknowledged", "analyst:ana"),
        ("acknowledged", "investigating", "analyst:ana"),
        ("investigating", "contained", "analyst:ana"),
        ("contained", "resolved", "analyst:ana"),
        ("resolved", "closed", "analyst:bob"),
    ]
    assert [e.note for e in trail if e.field == "state"][2] == "now investigating"
    assert all(e.at for e in trail)
    assert trail[-1].at == "2024-05-01T13:20:00.000Z"


def test_illegal_transition_names_the_allowed_ones(service: IncidentService, store: SqliteStore) -> None:
    incident = _open(service, store)
    with pytest.raises(
        SentinelError, match="cannot go from new to resolved; allowed from new: acknowledged, false_positive, duplicate"
    ):
        service.transition(incident.id, "resolved", actor="analyst:ana", scope=ALL)
    with pytest.raises(SentinelError, match="unknown state 'done'"):
        service.transition(incident.id, "done", actor="analyst:ana", scope=ALL)
    closed = service.transition(incident.id, "false_positive", actor="analyst:ana", scope=ALL)
    assert closed.ttr_seconds is not None and closed.tta_seconds is not None  # triage stops both clocks
    with pytest.raises(SentinelError, match="allowed from false_positive: none: it is final"):
        service.transition(incident.id, "investigating", actor="analyst:ana", scope=ALL)
    # refused changes wrote nothing
    assert [e.new for e in service.audit(incident.id, ALL) if e.field == "state"] == ["new", "false_positive"]


def test_reopen_resolved_incident(service: IncidentService, store: SqliteStore) -> None:
    incident = _open(service, store)
    for state in ("acknowledged", "resolved", "investigating"):
        incident = service.transition(incident.id, state, actor="analyst:ana", scope=ALL)
    assert incident.state is IncidentState.INVESTIGATING and incident.resolved_at is None
    assert incident.ttr_seconds is not None  # the first resolution stays until it is resolved again


def test_institution_scope_hides_other_institutions(service: IncidentService, store: SqliteStore) -> None:
    incident = _open(service, store)
    tra = Scope.institution("tra")
    with pytest.raises(NotFoundError, match="no incident"):
        service.get(incident.id, tra)
    with pytest.raises(NotFoundError):
        service.comment(incident.id, "hello", actor="institution:tra-ict", scope=tra)
    with pytest.raises(NotFoundError):
        service.audit(incident.id, tra)
    assert service.list(tra) == []
    assert service.list(tra, institution="moh") == []  # asking for another institution never widens
    mine = service.comment(incident.id, "we are on it", actor="institution:moh-ict", scope=Scope.institution("moh"))
    assert mine.comments[-1].text == "we are on it"
    assert [i.id for i in service.list(Scope.institution("moh"))] == [incident.id]


def test_list_filters(service: IncidentService, store: SqliteStore, clock: Clock) -> None:
    first = _open(service, store, 1)
    clock.advance(minutes=1)
    second, _ = service.open_or_attach(
        make_alert(store, 2, ip="198.51.100.7", severity="low"), key="moh|source.ip=198.51.100.7", actor="system:test"
    )
    service.transition(first.id, "acknowledged", actor="analyst:ana", scope=ALL)
    assert [i.id for i in service.list(ALL)] == [second.id, first.id]  # newest first
    assert [i.id for i in service.list(ALL, state="acknowledged")] == [first.id]
    assert [i.id for i in service.list(ALL, state=["new", "acknowledged"], severity="low")] == [second.id]
    assert len(service.list(ALL, limit=1)) == 1
    with pytest.raises(SentinelError, match="unknown severity"):
        service.list(ALL, severity="huge")


def test_acknowledge_is_idempotent_and_records_the_institution_contact(
    service: IncidentService, store: SqliteStore
) -> None:
    incident = _open(service, store)
    incident = service.acknowledge(incident.id, actor="contact:ict@moh.go.tz", scope=ALL)
    assert incident.state is IncidentState.ACKNOWLEDGED
    assert incident.institution_acknowledged_by == "contact:ict@moh.go.tz"
    assert incident.acknowledged_by == "contact:ict@moh.go.tz"
    again = service.acknowledge(incident.id, actor="contact:ict@moh.go.tz", scope=ALL)
    assert again.version == incident.version  # nothing written
    analyst = service.acknowledge(incident.id, actor="analyst:ana", scope=ALL)
    assert analyst.version == incident.version
    entries = [e for e in service.audit(incident.id, ALL) if e.action == "acknowledge"]
    assert {e.field for e in entries} >= {"institution_acknowledged_by", "acknowledged_at", "tta_seconds"}
    assert all(e.actor == "contact:ict@moh.go.tz" for e in entries)


def test_assign_comment_and_severity(service: IncidentService, store: SqliteStore) -> None:
    incident = _open(service, store)
    incident = service.assign(incident.id, "ana", actor="analyst:lead", scope=ALL)
    assert incident.assignee == "ana"
    incident = service.assign(incident.id, None, actor="analyst:lead", scope=ALL)
    assert incident.assignee is None
    with pytest.raises(SentinelError, match="printable name"):
        service.assign(incident.id, " ", actor="analyst:lead", scope=ALL)
    with pytest.raises(SentinelError, match="needs some text"):
        service.comment(incident.id, "  ", actor="analyst:ana", scope=ALL)
    incident = service.comment(incident.id, "<script>alert(1)</script>", actor="analyst:ana", scope=ALL)
    assert incident.comments[-1].text == "<script>alert(1)</script>"  # stored as text; pages escape it
    incident = service.set_severity(incident.id, "critical", actor="analyst:ana", scope=ALL)
    assert incident.severity is Severity.CRITICAL
    assert incident.ack_due_at == "2024-05-01T12:15:00.000Z"  # critical: 15 min from opening
    assert incident.resolve_due_at == "2024-05-02T12:00:00.000Z"
    trail = service.audit(incident.id, ALL)
    assert [(e.old, e.new) for e in trail if e.field == "assignee"] == [(None, "ana"), ("ana", None)]
    assert [(e.old, e.new) for e in trail if e.field == "severity"][-1] == ("high", "critical")
    with pytest.raises(SentinelError, match="invalid actor"):
        service.comment(incident.id, "x", actor="ana", scope=ALL)


def test_attach_and_detach_alerts_with_observables(service: IncidentService, store: SqliteStore) -> None:
    incident = _open(service, store, 1)
    other = make_alert(store, 2, ip="198.51.100.7", user="admin", severity="critical")
    incident = service.attach_alert(incident.id, other.id, actor="analyst:ana", scope=ALL)
    assert incident.alert_ids == ["alert-moh-1", "alert-moh-2"]
    assert incident.severity is Severity.CRITICAL  # a more severe alert raises the incident
    values = {(o.kind, o.value) for o in incident.observables}
    assert {("ip", "198.51.100.7"), ("user", "admin"), ("ip", "203.0.113.9"), ("host", "web01.moh.go.tz")} <= values
    same = service.attach_alert(incident.id, other.id, actor="analyst:ana", scope=ALL)
    assert same.version == incident.version  # attaching twice changes nothing
    incident = service.detach_alert(incident.id, other.id, actor="analyst:ana", scope=ALL)
    assert incident.alert_ids == ["alert-moh-1"]
    values = {(o.kind, o.value) for o in incident.observables}
    assert ("ip", "198.51.100.7") not in values and ("ip", "203.0.113.9") in values
    assert ("host", "web01.moh.go.tz") in values  # shown by the remaining alert too
    with pytest.raises(NotFoundError, match="no alert"):
        service.attach_alert(incident.id, "alert-missing", actor="analyst:ana", scope=ALL)
    foreign = make_alert(store, 3, institution="tra")
    with pytest.raises(SentinelError, match=r"belongs to tra, incident .* to moh"):
        service.attach_alert(incident.id, foreign.id, actor="analyst:ana", scope=ALL)


def test_an_alert_belongs_to_one_incident(service: IncidentService, store: SqliteStore) -> None:
    first = _open(service, store, 1)
    second, _ = service.open_or_attach(make_alert(store, 2, ip="198.51.100.7"), key="other", actor="system:test")
    with pytest.raises(SentinelError, match=f"linked to incident {first.id}; detach it there first"):
        service.attach_alert(second.id, "alert-moh-1", actor="analyst:ana", scope=ALL)


def test_playbook_steps_are_recorded_once(service: IncidentService, store: SqliteStore) -> None:
    incident = _open(service, store)
    incident = service.record_playbook_step(incident.id, "brute_force", "notify-soc", "sent", actor="playbook:bf")
    again = service.record_playbook_step(incident.id, "brute_force", "notify-soc", "sent", actor="playbook:bf")
    assert again.version == incident.version and len(again.timeline) == 1
    updated = service.record_playbook_step(incident.id, "brute_force", "notify-soc", "retried", actor="playbook:bf")
    assert [(t.step_key, t.outcome) for t in updated.timeline] == [("notify-soc", "retried")]


def test_extra_writes_commit_with_the_change_or_not_at_all(service: IncidentService, store: SqliteStore) -> None:
    incident = _open(service, store)
    notice = DocumentWrite("outbox", "notice-1", {"incident_id": incident.id}, institution_id="moh")
    incident = service.comment(incident.id, "notify", actor="analyst:ana", scope=ALL, extra_writes=[notice])
    assert store.get_document("outbox", "notice-1", ALL) is not None
    # The same notice id again: already queued. The whole change is refused and nothing is half-written.
    with pytest.raises(ConflictError, match="already exists"):
        service.comment(incident.id, "again", actor="analyst:ana", scope=ALL, extra_writes=[notice])
    after = service.get(incident.id, ALL)
    assert [c.text for c in after.comments] == ["notify"] and after.version == incident.version
    assert len([e for e in service.audit(incident.id, ALL) if e.action == "comment"]) == 1
    # A no-op writes no extra writes either.
    service.acknowledge(incident.id, actor="analyst:ana", scope=ALL)
    extra = DocumentWrite("outbox", "notice-2", {"incident_id": incident.id})
    service.acknowledge(incident.id, actor="analyst:ana", scope=ALL, extra_writes=[extra])
    assert store.get_document("outbox", "notice-2", ALL) is None


def test_expected_version_catches_a_change_made_after_reading(service: IncidentService, store: SqliteStore) -> None:
    incident = _open(service, store)
    seen = incident.version
    assert seen is not None
    service.comment(incident.id, "meanwhile", actor="analyst:bob", scope=ALL)
    with pytest.raises(ConflictError, match="changed by someone else meanwhile; reload it and try again"):
        service.transition(incident.id, "acknowledged", actor="analyst:ana", scope=ALL, expected_version=seen)
    assert service.get(incident.id, ALL).state is IncidentState.NEW
