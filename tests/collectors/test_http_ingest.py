"""JSON over HTTP on the real app and a real store: stored before the answer, scoped, refusals kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.config import Settings
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import EventQuery, FieldFilter, Scope
from sentinel.store.sqlite import SqliteStore

INVENTORY = Inventory(
    [
        Institution(id="moh", name="MoH", hostnames=["web01.moh.go.tz"]),
        Institution(id="tra", name="TRA", hostnames=["db01.tra.go.tz"]),
    ]
)
WINDOWS = {
    "Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 4625,
            "EventRecordID": 77,
            "Channel": "Security",
            "Computer": "web01.moh.go.tz",
            "TimeCreated": {"#attributes": {"SystemTime": "2026-11-20T07:40:10.165324Z"}},
        },
        "EventData": {"TargetUserName": "administrator", "IpAddress": "203.0.113.5", "LogonType": 10},
    }
}
SSHD = "<38>Nov 20 10:00:01 web01.moh.go.tz sshd[101]: Failed password for root from 203.0.113.9 port 4242 ssh2"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, SqliteStore]]:
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    with TestClient(create_app(Settings(), store=store, inventory=INVENTORY)) as client:
        yield client, store
    store.close()


def post(client: TestClient, token: str, body: bytes) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/ingest", content=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_windows_events_and_log_lines_are_stored_once(env: tuple[TestClient, SqliteStore]) -> None:
    client, store = env
    token = create_token(store, name="forwarder", role=Role.ADMIN)
    body = orjson.dumps([WINDOWS, {"message": SSHD}, {"nothing": "useful"}])
    first = post(client, token, body)
    assert (first["received"], first["stored"], first["dead_letters"]) == (3, 2, 1)
    assert first["errors"] == ['record 3: expected a Windows event {"Event": ...} or a log line {"message": "..."}']
    again = post(client, token, body)
    assert (again["stored"], again["duplicates"], again["dead_letters"]) == (0, 2, 0)
    logon = store.search_events(EventQuery(filters=(FieldFilter("winlog.event_id", "eq", 4625),)), Scope.everything())
    assert logon.total == 1 and logon.events[0].organization_id == "moh"
    ssh = store.search_events(EventQuery(filters=(FieldFilter("source.ip", "eq", "203.0.113.9"),)), Scope.everything())
    assert ssh.total == 1 and ssh.events[0].doc["user"]["name"] == "root"


def test_ndjson_and_bad_bodies(env: tuple[TestClient, SqliteStore]) -> None:
    client, store = env
    token = create_token(store, name="fw", role=Role.SOC_ANALYST)
    ndjson = b"\n".join(orjson.dumps({"message": SSHD.replace("101", str(i))}) for i in range(5))
    assert post(client, token, ndjson)["stored"] == 5
    bad = client.post(
        "/api/v1/ingest",
        content=b'{"message": "x"}\n{oops',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    assert bad.status_code == 400 and "line 2 is not JSON" in bad.json()["error"]
    assert client.post("/api/v1/ingest", content=b"[]").status_code == 401
    huge = b"[" + b",".join([b'{"message": "x"}'] * 10_001) + b"]"
    too_many = client.post(
        "/api/v1/ingest", content=huge, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    assert too_many.status_code == 413


def test_institution_token_cannot_write_for_another_institution(env: tuple[TestClient, SqliteStore]) -> None:
    client, store = env
    token = create_token(store, name="tra-fw", role=Role.INSTITUTION, institution_id="tra", inventory=INVENTORY)
    # The line names a MoH host; sent with TRA's token it is TRA's data, never MoH's.
    result = post(client, token, orjson.dumps({"message": SSHD}))
    assert result["stored"] == 1
    assert store.count_events(EventQuery(), Scope.institution("moh")) == 0
    stored = store.search_events(EventQuery(), Scope.institution("tra")).events
    assert len(stored) == 1 and "sentinel.attributed_by_token" in stored[0].doc["tags"]
