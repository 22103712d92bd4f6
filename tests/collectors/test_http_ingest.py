"""JSON over HTTP on the real app and a real store: stored before the answer, scoped, refusals kept."""

from __future__ import annotations

import base64
import json
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


def _serve(tmp_path: Path, inventory: Inventory) -> Iterator[tuple[TestClient, SqliteStore]]:
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    with TestClient(create_app(Settings(), store=store, inventory=inventory)) as client:
        yield client, store
    store.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, SqliteStore]]:
    yield from _serve(tmp_path, INVENTORY)


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
    # One damaged line is a dead letter of its own; the others are stored.
    damaged = post(client, token, b'{"message": "<13>Nov 20 10:00:01 gw app: fine"}\n{oops')
    assert (damaged["stored"], damaged["dead_letters"]) == (1, 1)
    assert damaged["errors"][0].startswith("record 2: line 2 is not JSON")
    letter = store.find_documents("dead_letters", Scope.everything())[0]
    assert base64.b64decode(letter.body["raw_b64"]) == b"{oops"
    bad = client.post(
        "/api/v1/ingest",
        content=b"not json\nat all",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    assert bad.status_code == 400 and "the body is not JSON" in bad.json()["error"]
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


TWO = Inventory(
    [
        Institution(id="inst-a", name="Institution A", networks=["10.1.0.0/16"], hostnames=["web01.a"]),
        Institution(id="inst-b", name="Institution B", networks=["10.2.0.0/16"], hostnames=["web01.b"]),
    ]
)


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[TestClient, SqliteStore]]:
    yield from _serve(tmp_path, TWO)


def _windows_of_b(record_id: int, user: str) -> dict:  # type: ignore[type-arg]
    event = orjson.loads(orjson.dumps(WINDOWS))
    event["Event"]["System"]["Computer"] = "web01.b"
    event["Event"]["System"]["EventRecordID"] = record_id
    event["Event"]["EventData"]["TargetUserName"] = user
    return event  # type: ignore[no-any-return]


def test_one_institution_cannot_suppress_or_probe_another_s_events(two: tuple[TestClient, SqliteStore]) -> None:
    client, store = two
    a = create_token(store, name="forwarder", role=Role.INSTITUTION, institution_id="inst-a", inventory=TWO)
    b = create_token(store, name="forwarder", role=Role.INSTITUTION, institution_id="inst-b", inventory=TWO)
    # A posts first, with B's computer name and a record id B has not sent yet...
    assert post(client, a, orjson.dumps(_windows_of_b(8352, "mallory")))["stored"] == 1
    # ...B's real event with that record id is stored all the same (it was a "duplicate", never stored).
    assert post(client, b, orjson.dumps(_windows_of_b(8352, "administrator")))["stored"] == 1
    # And A re-posting B's exact record learns nothing: it is A's own new event, not a "duplicate".
    probe = post(client, a, orjson.dumps(_windows_of_b(8352, "administrator")))
    assert (probe["stored"], probe["duplicates"]) == (1, 0)
    own = store.search_events(EventQuery(), Scope.institution("inst-b")).events
    assert [e.doc["user"]["name"] for e in own] == ["administrator"]
    assert own[0].doc["organization"] == {"id": "inst-b", "name": "Institution B"}
    for event in store.search_events(EventQuery(), Scope.institution("inst-a")).events:
        # Re-tagged to A: A's id and A's name (it kept B's name), marked as attributed by the token.
        assert event.doc["organization"] == {"id": "inst-a", "name": "Institution A"}
        assert "sentinel.attributed_by_token" in event.doc["tags"] and "unattributed" not in event.doc["tags"]


def test_same_line_from_two_institutions_tokens_of_one_name_is_two_events(two: tuple[TestClient, SqliteStore]) -> None:
    client, store = two
    a = create_token(store, name="rsyslog", role=Role.INSTITUTION, institution_id="inst-a", inventory=TWO)
    b = create_token(store, name="rsyslog", role=Role.INSTITUTION, institution_id="inst-b", inventory=TWO)
    line = orjson.dumps({"message": "<38>Nov 20 10:00:01 gw sshd[7]: Failed password for root from 203.0.113.9"})
    assert post(client, a, line)["stored"] == 1
    assert post(client, b, line)["stored"] == 1  # was "duplicates: 1": ids came from the token *name*
    assert post(client, b, line)["duplicates"] == 1  # a re-send is still a no-op
    assert store.count_events(EventQuery(), Scope.institution("inst-a")) == 1
    assert store.count_events(EventQuery(), Scope.institution("inst-b")) == 1
    # The whole record is the identity: the same message for another host is another record.
    other = orjson.dumps(
        {"message": "<38>Nov 20 10:00:01 gw sshd[7]: Failed password for root from 203.0.113.9", "host": "x"}
    )
    assert post(client, b, other)["stored"] == 1


def test_a_record_nested_too_deep_is_a_dead_letter_and_the_rest_is_stored(two: tuple[TestClient, SqliteStore]) -> None:
    client, store = two
    token = create_token(store, name="fw", role=Role.SOC_ANALYST)
    deep: object = "x"
    for _ in range(300):
        deep = [deep]
    records = [{"message": SSHD}, {"message": "hello", "junk": deep}, _windows_of_b(9, "x")]
    body = b"[" + orjson.dumps(records[0]) + b"," + _deep_json(records[1]) + b"," + orjson.dumps(records[2]) + b"]"
    result = post(client, token, body)
    assert (result["received"], result["stored"], result["dead_letters"]) == (3, 2, 1)
    assert result["errors"][0].startswith("record 2: the record cannot be stored as JSON")
    letter = store.find_documents("dead_letters", Scope.everything())[0]
    kept = base64.b64decode(letter.body["raw_b64"])
    assert kept.count(b"[") == 300 and json.loads(kept.decode()) == records[1]
    # Posted alone the exact bytes are kept, and a re-post is the same dead letter.
    alone = _deep_json({"message": "other", "junk": deep})
    assert post(client, token, alone)["dead_letters"] == 1
    assert post(client, token, alone)["dead_letters"] == 0
    kept_alone = [d for d in store.find_documents("dead_letters", Scope.everything()) if d.id != letter.id]
    assert base64.b64decode(kept_alone[0].body["raw_b64"]) == alone


def _deep_json(value: object) -> bytes:
    # The standard library's encoder nests as deep as Python's recursion limit allows.
    return json.dumps(value, separators=(",", ":")).encode()
