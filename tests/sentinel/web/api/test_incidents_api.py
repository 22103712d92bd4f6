"""The incidents and alerts API on a real app and a real SQLite store, through an in-process client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.config import Settings
from sentinel.incidents import IncidentService
from sentinel.inventory import Institution, Inventory
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import make_alert

INVENTORY = Inventory(
    [
        Institution(id="moh", name="Ministry of Health", networks=["10.10.0.0/16"]),
        Institution(id="tra", name="Revenue Authority", networks=["10.20.0.0/16"]),
    ]
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "sentinel.db")
    s.setup()
    yield s
    s.close()


@pytest.fixture
def client(store: SqliteStore, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path / "data"), store=store, inventory=INVENTORY)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def incidents(store: SqliteStore) -> dict[str, str]:
    """One incident for moh and one for tra, opened by a playbook as in production."""
    service = IncidentService(store, Settings())
    moh, _ = service.open_or_attach(make_alert(store, 1), key="moh|ip", actor="playbook:brute_force")
    tra, _ = service.open_or_attach(make_alert(store, 2, institution="tra"), key="tra|ip", actor="playbook:brute_force")
    make_alert(store, 3)  # an unlinked moh alert
    return {"moh": moh.id, "tra": tra.id}


def _h(store: SqliteStore, role: Role, name: str, institution: str | None = None) -> dict[str, str]:
    token = create_token(store, name=name, role=role, institution_id=institution, inventory=INVENTORY)
    return {"Authorization": f"Bearer {token}"}


def test_needs_a_token(client: TestClient, incidents: dict[str, str]) -> None:
    for method, path in (
        ("get", "/api/v1/incidents"),
        ("get", f"/api/v1/incidents/{incidents['moh']}"),
        ("post", f"/api/v1/incidents/{incidents['moh']}/ack"),
        ("get", "/api/v1/alerts"),
    ):
        assert getattr(client, method)(path).status_code == 401, path


def test_institution_user_sees_and_comments_only_its_own(
    client: TestClient, store: SqliteStore, incidents: dict[str, str]
) -> None:
    tra = _h(store, Role.INSTITUTION, "tra-ict", "tra")
    listed = client.get("/api/v1/incidents", headers=tra).json()["incidents"]
    assert [i["id"] for i in listed] == [incidents["tra"]]
    assert client.get("/api/v1/incidents", params={"institution": "moh"}, headers=tra).json()["incidents"] == []
    other = client.get(f"/api/v1/incidents/{incidents['moh']}", headers=tra)
    assert other.status_code == 404 and "no incident" in other.json()["error"]
    blocked = client.post(f"/api/v1/incidents/{incidents['moh']}/comments", json={"text": "hi"}, headers=tra)
    assert blocked.status_code == 404
    assert client.get(f"/api/v1/incidents/{incidents['moh']}/audit", headers=tra).status_code == 404
    own = client.post(f"/api/v1/incidents/{incidents['tra']}/comments", json={"text": "patched"}, headers=tra)
    assert own.status_code == 200
    assert own.json()["incident"]["comments"][-1] == {
        **own.json()["incident"]["comments"][-1],
        "author": "institution:tra-ict",
        "text": "patched",
    }
    alerts = client.get("/api/v1/alerts", headers=tra).json()["alerts"]
    assert {a["institution_id"] for a in alerts} == {"tra"}


def test_institution_user_may_not_transition_assign_merge_or_attach(
    client: TestClient, store: SqliteStore, incidents: dict[str, str]
) -> None:
    moh = _h(store, Role.INSTITUTION, "moh-ict", "moh")
    base = f"/api/v1/incidents/{incidents['moh']}"
    for path, body in (
        (f"{base}/transition", {"state": "acknowledged"}),
        (f"{base}/assign", {"assignee": "me"}),
        (f"{base}/severity", {"severity": "low"}),
        (f"{base}/merge", {"sources": [incidents["tra"]]}),
        ("/api/v1/alerts/alert-moh-3/attach", {"incident_id": incidents["moh"]}),
    ):
        response = client.post(path, json=body, headers=moh)
        assert response.status_code == 403, path
        assert "only SOC analysts and managers may" in response.json()["error"]
    # acknowledging its own incident is allowed, and recorded as the institution's acknowledgement
    acked = client.post(f"{base}/ack", headers=moh).json()["incident"]
    assert acked["state"] == "acknowledged" and acked["institution_acknowledged_by"] == "institution:moh-ict"


def test_analyst_works_an_incident(client: TestClient, store: SqliteStore, incidents: dict[str, str]) -> None:
    ana = _h(store, Role.SOC_ANALYST, "ana")
    base = f"/api/v1/incidents/{incidents['moh']}"
    assert len(client.get("/api/v1/incidents", headers=ana).json()["incidents"]) == 2
    assert client.post(f"{base}/ack", headers=ana).json()["incident"]["acknowledged_by"] == "analyst:ana"
    assigned = client.post(f"{base}/assign", json={"assignee": "bob"}, headers=ana)
    assert assigned.status_code == 200 and assigned.json()["incident"]["assignee"] == "bob"
    moved = client.post(f"{base}/transition", json={"state": "investigating", "note": "looking"}, headers=ana)
    assert moved.status_code == 200 and moved.json()["incident"]["state"] == "investigating"
    illegal = client.post(f"{base}/transition", json={"state": "closed"}, headers=ana)
    assert illegal.status_code == 400
    assert "allowed from investigating: contained, resolved, false_positive, duplicate" in illegal.json()["error"]
    bad = client.post(f"{base}/transition", json={"state": "done"}, headers=ana)
    assert bad.status_code == 422 and bad.json()["problems"][0]["where"] == "body.state"
    extra = client.post(f"{base}/comments", json={"text": "x", "colour": "red"}, headers=ana)
    assert extra.status_code == 422
    empty = client.post(f"{base}/comments", json={"text": ""}, headers=ana)
    assert empty.status_code == 422
    trail = client.get(f"{base}/audit", headers=ana).json()["entries"]
    assert [(e["field"], e["new"], e["actor"]) for e in trail if e["field"] in ("state", "assignee")] == [
        ("state", "new", "playbook:brute_force"),
        ("state", "acknowledged", "analyst:ana"),
        ("assignee", "bob", "analyst:ana"),
        ("state", "investigating", "analyst:ana"),
    ]
    assert [e["note"] for e in trail if e["field"] == "state"][-1] == "looking"
    assert (
        client.get("/api/v1/incidents", params={"state": "investigating"}, headers=ana).json()["incidents"][0]["id"]
        == incidents["moh"]
    )


def test_stale_version_is_a_409(client: TestClient, store: SqliteStore, incidents: dict[str, str]) -> None:
    ana, bob = _h(store, Role.SOC_ANALYST, "ana"), _h(store, Role.SOC_ANALYST, "bob")
    base = f"/api/v1/incidents/{incidents['moh']}"
    seen = client.get(base, headers=ana).json()["version"]
    assert client.post(f"{base}/transition", json={"state": "acknowledged"}, headers=bob).status_code == 200
    late = client.post(f"{base}/transition", json={"state": "false_positive", "version": seen}, headers=ana)
    assert late.status_code == 409 and "reload" in late.json()["error"]
    assert client.get(base, headers=ana).json()["incident"]["state"] == "acknowledged"


def test_alerts_list_and_attach_and_merge(client: TestClient, store: SqliteStore, incidents: dict[str, str]) -> None:
    ana = _h(store, Role.SOC_ANALYST, "ana")
    listed = client.get("/api/v1/alerts", params={"institution": "moh"}, headers=ana).json()["alerts"]
    assert {(a["id"], a["incident_id"]) for a in listed} == {
        ("alert-moh-1", incidents["moh"]),
        ("alert-moh-3", None),
    }
    queue = client.get("/api/v1/alerts", params={"unlinked": "true"}, headers=ana).json()["alerts"]
    assert [a["id"] for a in queue] == ["alert-moh-3"]
    attached = client.post("/api/v1/alerts/alert-moh-3/attach", json={"incident_id": incidents["moh"]}, headers=ana)
    assert attached.status_code == 200
    assert attached.json()["incident"]["alert_ids"] == ["alert-moh-1", "alert-moh-3"]
    missing = client.post("/api/v1/alerts/nope/attach", json={"incident_id": incidents["moh"]}, headers=ana)
    assert missing.status_code == 404
    cross = client.post(
        f"/api/v1/incidents/{incidents['moh']}/merge", json={"sources": [incidents["tra"]]}, headers=ana
    )
    assert cross.status_code == 400 and "only one institution's incidents" in cross.json()["error"]
    detached = client.delete(f"/api/v1/incidents/{incidents['moh']}/alerts/alert-moh-3", headers=ana)
    assert detached.json()["incident"]["alert_ids"] == ["alert-moh-1"]
    bad_severity = client.get("/api/v1/alerts", params={"severity": "huge"}, headers=ana)
    assert bad_severity.status_code == 400 and "unknown severity" in bad_severity.json()["error"]


def test_merge_through_the_api(client: TestClient, store: SqliteStore) -> None:
    service = IncidentService(store, Settings())
    target, _ = service.open_or_attach(make_alert(store, 1), key="a", actor="playbook:bf")
    source, _ = service.open_or_attach(make_alert(store, 2, ip="198.51.100.7"), key="b", actor="playbook:bf")
    ana = _h(store, Role.SOC_MANAGER, "mia")
    merged = client.post(f"/api/v1/incidents/{target.id}/merge", json={"sources": [source.id]}, headers=ana)
    assert merged.status_code == 200
    target_out, source_out = merged.json()["incidents"]
    assert target_out["alert_ids"] == ["alert-moh-1", "alert-moh-2"] and target_out["merged_from"] == [source.id]
    assert source_out["state"] == "duplicate" and source_out["merged_into"] == target.id
    trail = client.get(f"/api/v1/incidents/{source.id}/audit", headers=ana).json()["entries"]
    assert any(e["field"] == "merged_into" and e["actor"] == "manager:mia" for e in trail)
