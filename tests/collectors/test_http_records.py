"""Fuzz of ``POST /api/v1/ingest`` on the real app and a real SQLite store (Hypothesis, bounded).

Bodies of every shape (a JSON array, newline-delimited JSON, one record, bytes that are not JSON)
hold Windows events, log lines, any JSON value and records nested past what a document may hold.
Whatever comes in: no 5xx, and every record of an accepted body is stored as an event (under the
id ``sentinel.events.event_id`` gives it) or kept as a dead letter with its bytes.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.http_records import json_bytes
from collectors.records import RawRecord, record_event_id
from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.config import Settings
from sentinel.events import canonical_json, event_id
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import EventQuery, FieldFilter, Scope
from sentinel.store.sqlite import SqliteStore
from tests.support.syslog_lines import TEXT, rfc3164

EXAMPLES = 200
TIME_BUDGET = 60.0  # seconds; inputs past it are not tried (the count printed says how many were)

INVENTORY = Inventory(
    [
        Institution(id="inst-a", name="Institution A", networks=["10.1.0.0/16"], hostnames=["web01.a"]),
        Institution(id="inst-b", name="Institution B", networks=["10.2.0.0/16"], hostnames=["db01.b"]),
    ]
)


class Target:
    """The app as the service builds it, a real store, and one token per kind of sender."""

    def __init__(self, tmp: Path) -> None:
        self.store = SqliteStore(tmp / "sentinel.db")
        self.store.setup()
        self.app = create_app(Settings(), store=self.store, inventory=INVENTORY)  # the one place the app is built
        self.tokens = {
            "http:fuzz-a": create_token(
                self.store, name="fuzz-a", role=Role.INSTITUTION, institution_id="inst-a", inventory=INVENTORY
            ),
            "http:fuzz-soc": create_token(self.store, name="fuzz-soc", role=Role.SOC_ANALYST),
        }


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, TestClient]]:
    built = Target(tmp_path_factory.mktemp("ingest-fuzz"))
    with TestClient(built.app) as client:
        yield built, client
    built.store.close()


_HOSTS = st.sampled_from(["web01.a", "db01.b", "10.1.2.3", "10.2.6.6", "nobody.example", "", "-"])
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
_SYSLOG = rfc3164(_HOSTS)
_MESSAGE = st.fixed_dictionaries({"message": _SYSLOG | TEXT}, optional={"host": _HOSTS | _JSON})


@st.composite
def _windows(draw: st.DrawFn) -> dict[str, Any]:
    system: dict[str, Any] = {
        "Provider": {"#attributes": {"Name": draw(st.sampled_from(["Microsoft-Windows-Sysmon", "x"]))}},
        "EventID": draw(st.integers(-1, 70000) | st.text(max_size=5) | _JSON),
        "EventRecordID": draw(st.integers(0, 2**63 - 1) | _JSON),
        "Channel": draw(st.sampled_from(["Security", "Microsoft-Windows-Sysmon/Operational", ""]) | _JSON),
        "Computer": draw(_HOSTS | _JSON),
        "TimeCreated": {
            "#attributes": {
                "SystemTime": draw(st.sampled_from(["2025-11-27T07:40:10.165324Z", "9999-12-31T23:59:59Z"]) | TEXT)
            }
        },
    }
    for key in draw(st.lists(st.sampled_from(list(system)), max_size=2, unique=True)):
        system.pop(key)
    return {"Event": {"System": system, "EventData": draw(st.dictionaries(st.text(max_size=10), _JSON, max_size=4))}}


def _deep(depth: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return {"message": "<13>Nov 20 10:00:01 gw app: deep", "junk": value}


_RECORD = st.one_of(_MESSAGE, _windows(), st.integers(250, 400).map(_deep), st.dictionaries(st.text(max_size=6), _JSON))
_ANY = _RECORD | _JSON


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[str, list[Any], bytes]:
    """(shape, the records the server will see, body bytes)."""
    shape = draw(st.sampled_from(["array", "ndjson", "single", "bytes"]))
    if shape == "bytes":
        return shape, [], draw(st.binary(max_size=300))
    if shape == "array":
        records = draw(st.lists(_ANY, max_size=5))
        return shape, records, b"[" + b",".join(json_bytes(r) for r in records) + b"]"
    if shape == "single":
        record = draw(_RECORD)
        return shape, [record], json_bytes(record)
    records = draw(st.lists(_RECORD, min_size=2, max_size=5))
    return shape, records, b"\n".join(json_bytes(r) for r in records)


def _kept(store: SqliteStore, source: str, record: Any, raw: bytes) -> bool:
    """Stored as an event of any owner, or a dead letter with exactly these bytes."""
    try:
        content = canonical_json(record)
    except TypeError:
        content = None
    owners = ["inst-a"] if source == "http:fuzz-a" else [None, "inst-a", "inst-b"]
    for owner in owners:
        if content is not None:
            query = EventQuery(filters=(FieldFilter("event.id", "eq", event_id(owner, source, content)),))
            if store.count_events(query, Scope.everything()) == 1:
                return True
        letter = store.get_document(
            "dead_letters", record_event_id(RawRecord(raw, 0.0, source, "http"), owner), Scope.everything()
        )
        if letter is not None:
            return base64.b64decode(letter.body["raw_b64"]) == raw
    return False


def test_ingest_fuzz_no_5xx_and_every_record_kept(
    target: tuple[Target, TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    built, client = target
    tried: dict[str, int] = {"inputs": 0, "records": 0, "refused bodies": 0}
    started = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=_bodies(), source=st.sampled_from(sorted(built.tokens)))
    def post(body: tuple[str, list[Any], bytes], source: str) -> None:
        if time.monotonic() - started > TIME_BUDGET:
            return
        shape, records, data = body
        tried["inputs"] += 1
        answer = client.post(
            "/api/v1/ingest",
            content=data,
            headers={
                "Authorization": f"Bearer {built.tokens[source]}",
                "Content-Type": "application/x-ndjson" if shape == "ndjson" else "application/json",
            },
        )
        assert answer.status_code < 500, answer.text
        if answer.status_code != 200:
            assert answer.status_code in (400, 413) and answer.json()["error"], answer.text
            tried["refused bodies"] += 1
            return
        if shape == "bytes":
            return  # bytes that happened to be JSON: what the server saw is not known here
        result = answer.json()
        assert result["received"] == len(records)
        assert result["stored"] + result["duplicates"] + result["dead_letters"] <= len(records)
        for record in records:
            raw = json_bytes(record)
            assert _kept(built.store, source, record, raw), (shape, record, result)
            tried["records"] += 1

    post()
    with capsys.disabled():
        print(
            f"\ningest fuzz: {tried['inputs']} bodies tried, {tried['records']} records checked, "
            f"{tried['refused bodies']} bodies refused with a 4xx"
        )
    assert tried["inputs"] >= 20
