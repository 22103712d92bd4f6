"""require_approval: the following steps wait until an analyst approves, then run once."""

from __future__ import annotations

import pytest

from playbooks.loader import PlaybookSet, parse_playbook
from playbooks.runs import RunBook
from playbooks.wiring import build_response
from sentinel.config import Settings
from sentinel.detect.rulebook.pack import RulePack
from sentinel.errors import NotFoundError
from sentinel.incidents import Severity
from sentinel.inventory import Inventory
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument
from tests.playbooks.support import Clock, raise_alert

PLAYBOOK = """\
id: careful
title: Careful
steps:
  - {id: incident, action: open_incident}
  - {id: confirm, action: require_approval, reason: check first}
  - {id: raise, action: set_severity, severity: critical}
"""


def test_steps_after_approval_wait_then_run_once(
    settings: Settings, store: SqliteStore, inventory: Inventory, clock: Clock
) -> None:
    playbooks = PlaybookSet([parse_playbook(YamlDocument.parse(PLAYBOOK, "careful.yaml"))])
    response = build_response(settings, store, inventory, pack=RulePack(), playbooks=playbooks, clock=clock)
    runner = response.runner
    alert = raise_alert(store, clock)

    first = runner.run_for_alert(alert).runs[0]
    assert first.status == "waiting"
    assert first.steps[-1].detail.startswith(
        f"waiting for approval (check first): sentinel playbooks approve {first.incident_id} confirm"
    )
    incident_id = first.incident_id or ""
    assert response.incidents.get(incident_id, Scope.everything()).severity is Severity.HIGH

    # Re-running (the alert updated, or the resume job) does not get past the gate.
    assert runner.run_for_alert(alert).runs[0].status == "waiting"
    assert runner.resume_pending() == 0
    assert response.incidents.get(incident_id, Scope.everything()).severity is Severity.HIGH
    with pytest.raises(NotFoundError, match="waiting for approval of step 'raise'"):
        runner.approve(incident_id, "raise", actor="analyst:ana")

    clock.advance(minutes=3)
    approved = runner.approve(incident_id, "confirm", actor="analyst:ana")

    assert [r.status for r in approved] == ["done"]
    assert [(s.key, s.status) for s in approved[0].steps] == [("confirm", "done"), ("raise", "done")]
    incident = response.incidents.get(incident_id, Scope.everything())
    assert incident.severity is Severity.CRITICAL
    confirm = next(e for e in incident.timeline if e.step_key.startswith("confirm@"))
    assert confirm.outcome == "done: approved by analyst:ana at 2024-05-01T12:03:00.000Z"
    record = RunBook(store).get("careful", alert.id)
    assert record is not None and record.status == "done" and record.approvals["confirm"].by == "analyst:ana"
    # Approving again finds nothing waiting; running again changes nothing.
    with pytest.raises(NotFoundError):
        runner.approve(incident_id, "confirm", actor="analyst:ana")
    assert runner.run_for_alert(alert).runs[0].status == "unchanged"
    audit = response.incidents.audit(incident_id, Scope.everything())
    assert [(a.old, a.new) for a in audit if a.action == "severity" and a.field == "severity"] == [("high", "critical")]
