"""The SLA job: a missed target is recorded and escalated to the SOC exactly once."""

from __future__ import annotations

from playbooks.breaches import escalate_breaches
from playbooks.wiring import Response
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.playbooks.support import Clock, outbox, raise_alert


def test_missed_acknowledgement_is_escalated_once(response: Response, store: SqliteStore, clock: Clock) -> None:
    incident_id = response.runner.run_for_alert(raise_alert(store, clock)).runs[0].incident_id or ""
    before = {n["id"] for n in outbox(store)}
    clock.advance(minutes=59)  # high: acknowledge within 1 h
    assert escalate_breaches(response.incidents, response.notices, clock=clock).found == 0

    clock.advance(minutes=2)
    report = escalate_breaches(response.incidents, response.notices, clock=clock)
    again = escalate_breaches(response.incidents, response.notices, clock=clock)

    assert (report.found, report.escalated, report.failed) == (1, 1, 0)
    assert (again.found, again.escalated) == (0, 0)
    new = [n for n in outbox(store) if n["id"] not in before]
    assert sorted((n["channel"], n["recipient"], n["template"]) for n in new) == [
        ("email", "soc-manager@ega.go.tz", "sla_breach"),
        ("slack", "#soc", "sla_breach"),
    ]
    incident = response.incidents.get(incident_id, Scope.everything())
    assert incident.ack_breached and [b.kind for b in incident.sla_breaches] == ["acknowledge"]
