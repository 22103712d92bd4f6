"""Approving a waiting playbook step through the API, on the real app and a real store."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from playbooks.wiring import build_response
from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.inventory import Inventory
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.playbooks.support import Clock, make_settings, raise_alert

PLAYBOOK = """\
id: careful
title: Careful
steps:
  - {id: incident, action: open_incident}
  - {id: confirm, action: require_approval, reason: check first}
  - {id: raise, action: set_severity, severity: critical}
"""


def test_analyst_approves_through_the_api_institution_may_not(
    tmp_path: Path, store: SqliteStore, inventory: Inventory, clock: Clock
) -> None:
    book = tmp_path / "playbooks"
    book.mkdir()
    (book / "careful.yaml").write_text(PLAYBOOK)
    settings = make_settings(tmp_path / "data", playbooks={"dirs": [str(book)], "builtin": False})
    runner = build_response(settings, store, inventory, clock=clock).runner
    waiting = runner.run_for_alert(raise_alert(store, clock)).runs[0]
    assert waiting.status == "waiting" and waiting.incident_id
    analyst = create_token(store, name="ana", role=Role.SOC_ANALYST)
    officer = create_token(store, name="moh-ict", role=Role.INSTITUTION, institution_id="moh", inventory=inventory)

    with TestClient(create_app(settings, store=store, inventory=inventory)) as client:
        path = f"/api/v1/incidents/{waiting.incident_id}/approvals/confirm"
        assert client.post(path).status_code == 401
        refused = client.post(path, headers={"Authorization": f"Bearer {officer}"})
        assert refused.status_code == 403
        unknown = client.post(
            "/api/v1/incidents/nope/approvals/confirm", headers={"Authorization": f"Bearer {analyst}"}
        )
        assert unknown.status_code == 404
        approved = client.post(path, headers={"Authorization": f"Bearer {analyst}"})
        assert approved.status_code == 200, approved.text
        assert [r["status"] for r in approved.json()["runs"]] == ["done"]
        again = client.post(path, headers={"Authorization": f"Bearer {analyst}"})
        assert again.status_code == 404 and "waiting for approval" in again.json()["error"]

    incident = store.get_document("incidents", waiting.incident_id, Scope.everything())
    assert incident is not None and incident.body["severity"] == "critical"
