"""escalate_after: a timer per incident that fires once, unless the incident got far enough in time."""

from __future__ import annotations

from playbooks.escalations import Escalations
from playbooks.loader import PlaybookSet, parse_playbook
from playbooks.wiring import Response, build_response
from sentinel.config import Settings
from sentinel.detect.rulebook.pack import RulePack
from sentinel.incidents import Severity
from sentinel.inventory import Inventory
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument
from tests.playbooks.support import Clock, outbox, raise_alert

PLAYBOOK = """\
id: chase
title: Chase
steps:
  - {id: incident, action: open_incident}
  - {id: raise, action: escalate_after, after: 1h, unless: acknowledged, raise_severity: critical}
  - id: mail
    action: escalate_after
    after: 2h
    unless: investigating
    notify: {to: soc, channel: email, template: incident_escalated}
"""


def _response(settings: Settings, store: SqliteStore, inventory: Inventory, clock: Clock) -> Response:
    playbooks = PlaybookSet([parse_playbook(YamlDocument.parse(PLAYBOOK, "chase.yaml"))])
    return build_response(settings, store, inventory, pack=RulePack(), playbooks=playbooks, clock=clock)


def test_fires_once_when_nobody_acts(
    settings: Settings, store: SqliteStore, inventory: Inventory, clock: Clock
) -> None:
    response = _response(settings, store, inventory, clock)
    alert = raise_alert(store, clock)
    run = response.runner.run_for_alert(alert).runs[0]
    incident_id = run.incident_id or ""
    # a second alert from the same source joins the incident and sets no second timer
    other = raise_alert(store, clock, window_minutes=60)
    again = response.runner.run_for_alert(other).runs[0]
    assert again.incident_id == incident_id
    assert [s.status for s in again.steps] == ["done", "skipped", "skipped"]
    assert len(response.escalations.pending(Scope.everything())) == 2

    clock.advance(minutes=59)
    assert response.escalations.run_due().fired == 0
    clock.advance(minutes=2)
    first = response.escalations.run_due()
    assert (first.fired, first.cancelled) == (1, 0)
    assert response.incidents.get(incident_id, Scope.everything()).severity is Severity.CRITICAL

    clock.advance(hours=1)
    # two workers at the same moment: the email goes out once
    second_worker = Escalations(store, response.incidents, response.notices, clock=clock)
    assert response.escalations.run_due().fired == 1
    assert second_worker.run_due().fired == 0
    mails = outbox(store)
    assert [(n["channel"], n["recipient"], n["template"]) for n in mails] == [
        ("email", "soc-manager@ega.go.tz", "incident_escalated")
    ]
    assert response.escalations.pending(Scope.everything()) == []
    timeline = {e.step_key: e.outcome for e in response.incidents.get(incident_id, Scope.everything()).timeline}
    assert timeline["raise@escalation"].startswith("fired: not acknowledged within 1h (state new): severity raised")
    assert timeline["mail@escalation"].startswith("fired: not investigating within 2h")


def test_cancelled_when_the_incident_got_far_enough(
    settings: Settings, store: SqliteStore, inventory: Inventory, clock: Clock
) -> None:
    response = _response(settings, store, inventory, clock)
    incident_id = response.runner.run_for_alert(raise_alert(store, clock)).runs[0].incident_id or ""
    clock.advance(minutes=10)
    response.incidents.acknowledge(incident_id, actor="analyst:ana", scope=Scope.everything())

    clock.advance(hours=3)
    report = response.escalations.run_due()

    # acknowledged in time: no severity change; not investigating by 2h: the email still goes
    assert (report.fired, report.cancelled) == (1, 1)
    assert response.incidents.get(incident_id, Scope.everything()).severity is Severity.HIGH
    assert len(outbox(store)) == 1
    assert response.escalations.run_due() == type(report)(0, 0, 0)
