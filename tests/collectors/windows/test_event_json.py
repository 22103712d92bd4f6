"""evtx-rs JSON records → ECS events (shape of the sigma-regression cases)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collectors.windows.event_json import (
    event_from_json,
    events_from_json_text,
    iter_json_documents,
    looks_like_windows_json,
)
from sentinel.errors import ParseError
from sentinel.events import Event
from sentinel.inventory import Institution, Inventory


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _record(event_id: Any = 1, channel: str = "Microsoft-Windows-Sysmon/Operational", **data: Any) -> dict[str, Any]:
    return {
        "Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F"}},
                "EventID": event_id,
                "TimeCreated": {"#attributes": {"SystemTime": "2025-12-11T06:17:19.772545Z"}},
                "EventRecordID": 21475,
                "Execution": {"#attributes": {"ProcessID": 3208, "ThreadID": 1724}},
                "Channel": channel,
                "Computer": "ws01.moh.go.tz",
                "Security": {"#attributes": {"UserID": "S-1-5-18"}},
            },
            "EventData": data,
        }
    }


def test_sysmon_process_creation_becomes_ecs() -> None:
    event = event_from_json(
        _record(
            Image="C:\\Windows\\System32\\curl.exe",
            CommandLine="curl -H x",
            ProcessId=6400,
            ParentImage="C:\\Windows\\System32\\cmd.exe",
            ParentProcessId=3476,
            User="WS01\\alice",
        )
    )
    doc = event.doc
    assert event.dataset == "windows.sysmon_operational"
    assert doc["@timestamp"] == "2025-12-11T06:17:19.772Z"
    assert doc["winlog"]["channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert doc["winlog"]["event_id"] == 1
    assert doc["winlog"]["provider_name"] == "Microsoft-Windows-Sysmon"
    assert doc["winlog"]["computer_name"] == "ws01.moh.go.tz"
    assert doc["winlog"]["record_id"] == 21475
    assert doc["winlog"]["event_data"]["Image"] == "C:\\Windows\\System32\\curl.exe"
    assert doc["event"]["code"] == "1"
    assert doc["host"]["name"] == "ws01.moh.go.tz"
    assert doc["process"] == {
        "executable": "C:\\Windows\\System32\\curl.exe",
        "command_line": "curl -H x",
        "pid": 6400,
        "parent": {"executable": "C:\\Windows\\System32\\cmd.exe", "pid": 3476},
    }
    assert doc["user"] == {"name": "alice", "domain": "WS01"}
    assert doc["tags"] == ["unattributed"]


def test_event_id_with_qualifiers_and_spaced_names() -> None:
    record = _record(
        event_id={"#attributes": {"Qualifiers": 16384}, "#text": 7045},
        channel="System",
        **{"Service Name": "evil", "Image Path": {"#text": "C:\\evil.exe"}},
    )
    event = event_from_json(record)
    assert event.dataset == "windows.system"
    assert event.doc["winlog"]["event_id"] == 7045
    assert event.doc["winlog"]["event_data"] == {"ServiceName": "evil", "ImagePath": "C:\\evil.exe"}


def test_user_data_fields_are_reachable_as_event_data() -> None:
    record = _record(channel="Microsoft-Windows-WMI-Activity/Operational")
    del record["Event"]["EventData"]
    record["Event"]["UserData"] = {"Operation_ClientFailure": {"#attributes": {"xmlns": "x"}, "Operation": "Start"}}
    event = event_from_json(record)
    assert event.dataset == "windows.wmi"
    assert event.doc["winlog"]["user_data"] == {"Operation": "Start"}
    assert event.doc["winlog"]["event_data"] == {"Operation": "Start"}


def test_same_record_gets_same_id_whatever_file_it_came_from() -> None:
    assert event_from_json(_record(Image="x")).id == event_from_json(json.loads(json.dumps(_record(Image="x")))).id
    other = _record(Image="x")
    other["Event"]["System"]["EventRecordID"] = 21476
    assert event_from_json(other).id != event_from_json(_record(Image="x")).id


def test_same_host_channel_and_record_id_with_other_content_is_another_event() -> None:
    # Two EVTX files of one host reuse record numbers: record 21475 is a process creation in one and
    # a process access in the other. The id used to be computer:channel:record id, so the second was
    # dropped as a "duplicate".
    creation = event_from_json(_record(event_id=1, Image="C:\\Windows\\System32\\rundll32.exe"))
    access = event_from_json(_record(event_id=10, SourceImage="C:\\Windows\\System32\\rundll32.exe"))
    assert creation.doc["winlog"]["record_id"] == access.doc["winlog"]["record_id"] == 21475
    assert creation.id != access.id
    # Any field of the record counts, even one Sentinel does not map (here the thread id).
    thread = _record(event_id=1, Image="C:\\Windows\\System32\\rundll32.exe")
    thread["Event"]["System"]["Execution"]["#attributes"]["ThreadID"] = 1725
    assert event_from_json(thread).id != creation.id


def test_same_record_of_two_institutions_is_two_events() -> None:
    moh = Institution(id="moh", name="Ministry of Health", hostnames=["ws01.moh.go.tz"])
    tra = Institution(id="tra", name="Revenue Authority")
    inventory = Inventory([moh, tra])
    own = event_from_json(_record(), inventory=inventory)
    # Sent by TRA's token: TRA's event (id and name), not MoH's, and not a "duplicate" of MoH's.
    sent_by_tra = event_from_json(_record(), inventory=inventory, source="http:fw", sender=tra)
    assert own.doc["organization"] == {"id": "moh", "name": "Ministry of Health"}
    assert sent_by_tra.doc["organization"] == {"id": "tra", "name": "Revenue Authority"}
    assert sent_by_tra.doc["tags"] == ["sentinel.attributed_by_token"]
    assert own.id != sent_by_tra.id
    # Unattributed, the authenticated source owns the id: two sources, two events.
    assert event_from_json(_record(), source="http:a").id != event_from_json(_record(), source="http:b").id


def test_institution_attributed_by_computer_name() -> None:
    inventory = Inventory([Institution(id="moh", name="Ministry of Health", hostnames=["ws01.moh.go.tz"])])
    event = event_from_json(_record(), inventory=inventory)
    assert event.doc["organization"] == {"id": "moh", "name": "Ministry of Health"}
    assert "tags" not in event.doc


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"foo": 1}, "not a Windows event record"),
        ([1, 2], "not a Windows event record"),
        ({"Event": {"System": {"EventID": 1}}}, "no System.Channel"),
        (_record(event_id="abc"), "non-numeric EventID"),
        (_record(Deep=_nested(300)), "cannot be kept as JSON"),
        ({"Event": {"System": {"Channel": "Security", "EventID": 1}}}, "no System.TimeCreated"),
    ],
)
def test_bad_records_raise_parse_error(record: Any, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        event_from_json(record)


def test_concatenated_documents_and_arrays() -> None:
    one, two = json.dumps(_record()), json.dumps(_record(event_id=3))
    assert len(list(iter_json_documents(one + "\n" + two))) == 2
    assert len(list(iter_json_documents("[" + one + "," + two + "]"))) == 2
    assert looks_like_windows_json(one) and not looks_like_windows_json('{"message": "x"}')


def test_bad_record_is_reported_and_others_kept() -> None:
    text = json.dumps(_record()) + "\n" + json.dumps({"nope": 1}) + "\n" + json.dumps(_record(event_id=3)) + "\n{broken"
    results = list(events_from_json_text(text))
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["Event", "ParseError", "Event", "ParseError"]
    assert isinstance(results[1], ParseError) and "record 2" in results[1].message
    assert isinstance(results[3], ParseError) and "invalid JSON" in results[3].message


def test_every_sigma_regression_json_converts(shared_data: Path) -> None:
    files = sorted((shared_data / "sigma-regression").rglob("*.json"))
    assert len(files) >= 190
    events: list[Event] = []
    for path in files:
        for result in events_from_json_text(path.read_text(encoding="utf-8")):
            assert isinstance(result, Event), f"{path}: {result}"
            events.append(result)
    assert len(events) >= 230
    assert {e.dataset for e in events} >= {"windows.sysmon_operational", "windows.security"}
    assert all(e.doc["winlog"]["event_data"] or e.doc["winlog"].get("user_data") is not None for e in events)
