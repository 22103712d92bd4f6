"""Keyword rules on Windows events search the event data values (and a rendered message): they can fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.windows.event_json import event_from_json
from sentinel.config import DetectSettings
from sentinel.detect.engine.runner import backtest
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.pack import RulePack, load_rule_text
from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_text
from sentinel.events import Event
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore

# SigmaHQ's rules/windows/builtin/system/netlogon/win_system_possible_zerologon_exploitation_using_wellknown_tools.yml
ZEROLOGON = """
title: Zerologon Exploitation Using Well-known Tools
id: 18f37338-b9bd-4117-a039-280c81f7a596
status: stable
logsource:
    service: system
    product: windows
detection:
    selection:
        EventID:
            - 5805
            - 5723
    keywords:
        - kali
        - mimikatz
    condition: selection and keywords
level: critical
"""
T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def netlogon(record: int, event_id: int, data: list[str], when: datetime = T0) -> Event:
    """A System-channel NETLOGON record as evtx-rs writes it: unnamed Data values, no rendered message."""
    record_json: dict[str, Any] = {
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "NETLOGON"}},
                "EventID": event_id,
                "Channel": "System",
                "Computer": "dc01.example.go.tz",
                "EventRecordID": record,
                "TimeCreated": {"#attributes": {"SystemTime": when.isoformat().replace("+00:00", "Z")}},
            },
            "EventData": {"Data": data},
        }
    }
    return event_from_json(record_json, source="test")


def test_a_windows_keyword_rule_searches_the_event_data_values() -> None:
    rules, errors = load_sigma_text(ZEROLOGON)
    assert errors == []
    rule = rules[0]
    assert isinstance(rule, SigmaRule) and rule.is_keyword_rule
    assert "winlog.event_data.*" in rule.fields  # the keywords read every event data value
    index = RuleIndex([rule])
    assert index.unsupported == []
    hit = netlogon(1, 5805, ["KALI", "Administrator", "%%5"])  # caseless, inside a list of unnamed values
    elsewhere = netlogon(2, 5805, ["WS01", "Administrator", "%%5"])
    wrong_id = netlogon(3, 7036, ["mimikatz service", "running"])
    assert [e.id for _, e in index.match([hit, elsewhere, wrong_id])] == [hit.id]


def test_the_rendered_message_is_searched_too() -> None:
    rule = load_sigma_text(ZEROLOGON)[0][0]
    forwarded = netlogon(4, 5723, [])
    forwarded.doc["message"] = "The session setup from computer kali failed to authenticate."
    assert [e.id for _, e in RuleIndex([rule]).match([forwarded])] == [forwarded.id]  # type: ignore[list-item]


def test_a_system_event_with_the_keyword_raises_an_alert_through_the_engine(tmp_path: Path) -> None:
    rules, errors = load_rule_text(ZEROLOGON, tmp_path / "zerologon.yml")
    assert errors == []
    store = SqliteStore(tmp_path / "k.db")
    store.setup()
    store.write_events([netlogon(10, 5805, ["kali", "Administrator"]), netlogon(11, 5805, ["WS01", "x"])])
    alerts, reports, load_errors = backtest(
        store,
        RulePack(rules=rules),
        DetectSettings(),
        Inventory([]),
        T0 - timedelta(hours=1),
        T0 + timedelta(hours=1),
    )
    store.close()
    assert load_errors == [] and not any(r.error for r in reports)
    assert len(alerts) == 1 and alerts[0].count == 1 and alerts[0].severity == "critical"
