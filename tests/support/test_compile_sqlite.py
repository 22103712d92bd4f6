"""Rules compiled to SQLite WHERE clauses: exact output, and the same answers as the Python matcher
on a real store (SqliteStore file) holding real events."""

from __future__ import annotations

import base64
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.windows.event_json import events_from_json_text
from sentinel.detect.matching.index import compile_predicate
from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_paths, load_sigma_text
from sentinel.errors import RuleError
from sentinel.events import Event, new_event
from sentinel.store.sqlite import SqliteStore
from tests.support.compile_sqlite import compile_sqlite, field_sql, register_functions

HEADER = """
title: t
id: 00000000-0000-0000-0000-{num:012d}
logsource:
    product: sentinel
    service: test.data
detection:
"""


def make_rule(detection: str, num: int = 1) -> SigmaRule:
    (rule,), errors = load_sigma_text(HEADER.format(num=num) + detection)
    assert not errors and isinstance(rule, SigmaRule)
    return rule


def test_field_expressions() -> None:
    assert field_sql("winlog.event_data.Image") == """json_extract(doc, '$."winlog"."event_data"."Image"')"""
    assert field_sql("event.dataset") == "dataset"
    assert field_sql("organization.id") == "org"
    assert field_sql("message") == "message"
    for bad in ("a'b", "a b", "a..b", 'x"y', "$.x"):
        with pytest.raises(RuleError):
            field_sql(bad)


def test_exact_where_clause_and_parameters() -> None:
    rule = make_rule(
        "  sel:\n    user.name: Root\n    message|contains: 'Failed pass'\n"
        "  filter:\n    source.ip|cidr: 10.0.0.0/8\n  condition: sel and not filter"
    )
    query = compile_sqlite(rule)
    assert query.where == (
        "dataset IN (?) AND ("
        """(lower(json_extract(doc, '$."user"."name"')) = ? AND lower(message) LIKE ? ESCAPE '\\')"""
        """ AND (sentinel_cidr(?, json_extract(doc, '$."source"."ip"'))) IS NOT 1)"""
    )
    assert query.params == ("test.data", "root", "%failed pass%", "10.0.0.0/8")
    assert query.select().removesuffix(query.where) == "SELECT id FROM events WHERE "


def test_like_specials_in_values_are_escaped_and_wildcards_translated() -> None:
    query = compile_sqlite(
        make_rule("  sel:\n    message: '50%_off\\\\x*y?'\n  condition: sel"), restrict_datasets=False
    )
    assert query.where == "lower(message) LIKE ? ESCAPE '\\'"
    assert query.params == ("50\\%\\_off\\\\x%y_",)


def test_keyword_rule_compiles_to_message_and_event_original() -> None:
    query = compile_sqlite(make_rule("  keywords:\n    - 'segfault'\n  condition: keywords"), restrict_datasets=False)
    assert query.where == (
        """(lower(message) LIKE ? ESCAPE '\\' OR lower(json_extract(doc, '$."event"."original"')) LIKE ? ESCAPE '\\')"""
    )
    assert query.params == ("%segfault%", "%segfault%")


def test_windows_rule_carries_channel_and_event_id() -> None:
    text = """
title: t
id: 00000000-0000-0000-0000-000000000009
logsource: {product: windows, category: process_creation}
detection:
    sel:
        Image|endswith: '\\cmd.exe'
    condition: sel
"""
    (rule,), _ = load_sigma_text(text)
    assert isinstance(rule, SigmaRule)
    query = compile_sqlite(rule)
    assert query.where == (
        "dataset IN (?) AND ("
        """(lower(json_extract(doc, '$."winlog"."channel"')) = ? AND lower(json_extract(doc, '$."winlog"."event_id"')) = ?)"""
        """ AND lower(json_extract(doc, '$."winlog"."event_data"."Image"')) LIKE ? ESCAPE '\\')"""
    )
    assert query.params == (
        "windows.sysmon_operational",
        "microsoft-windows-sysmon/operational",
        "1",
        "%\\\\cmd.exe",
    )  # LIKE escape doubles the backslash


# Agreement cases: (detection, docs that exercise it). Values are ASCII and scalar, where SQL and
# Python agree by design (see the compile_sqlite module docstring for the two known differences).
AGREEMENT: list[tuple[str, list[dict[str, Any]]]] = [
    ("  sel:\n    user.name: ROOT\n  condition: sel", [{"user": {"name": "root"}}, {"user": {"name": "rooty"}}, {}]),
    ("  sel:\n    message|contains: 'a_b%c'\n  condition: sel", [{"message": "xa_b%cx"}, {"message": "axbyc"}]),
    ("  sel:\n    message: 'a?c*'\n  condition: sel", [{"message": "abc"}, {"message": "abbc"}, {"message": "ABCDEF"}]),
    ("  sel:\n    message: 'a\\*c'\n  condition: sel", [{"message": "a*c"}, {"message": "abc"}]),
    (
        "  sel:\n    winlog.event_id: 4688\n  condition: sel",
        [{"winlog": {"event_id": 4688}}, {"winlog": {"event_id": "4688"}}],
    ),
    (
        "  sel:\n    winlog.event_id|startswith: '46'\n  condition: sel",
        [{"winlog": {"event_id": 4688}}, {"winlog": {"event_id": 5}}],
    ),
    ("  sel:\n    user.name: null\n  condition: sel", [{"user": {}}, {"user": {"name": ""}}, {"user": {"name": "x"}}]),
    ("  sel:\n    user.name|exists: true\n  condition: sel", [{"user": {"name": "x"}}, {}]),
    ("  sel:\n    user.name|exists: false\n  condition: sel", [{"user": {"name": "x"}}, {}]),
    (
        "  sel:\n    message|re: '^fo+b'\n  condition: sel",
        [{"message": "foob"}, {"message": "FOOB"}, {"message": "xfoob"}],
    ),
    ("  sel:\n    message|re|i: 'FO+B'\n  condition: sel", [{"message": "foob"}, {"message": "fb"}]),
    ("  sel:\n    message|cased|contains: 'Foo'\n  condition: sel", [{"message": "a Foo"}, {"message": "a foo"}]),
    ("  sel:\n    message|cased: 'F[o]*'\n  condition: sel", [{"message": "F[o]x"}, {"message": "Fox"}]),
    (
        "  sel:\n    source.ip|cidr: 10.0.0.0/8\n  condition: sel",
        [{"source": {"ip": "10.1.1.1"}}, {"source": {"ip": "x"}}, {}],
    ),
    (
        "  sel:\n    source.port|gte: 1024\n  condition: sel",
        [{"source": {"port": 1024}}, {"source": {"port": "80"}}, {"source": {"port": "abc"}}],
    ),
    ("  sel:\n    source.port|lt: 1024\n  condition: sel", [{"source": {"port": 22}}, {"source": {"port": 2000}}, {}]),
    (
        "  sel:\n    user.name|fieldref: user.target.name\n  condition: sel",
        [{"user": {"name": "A", "target": {"name": "a"}}}, {"user": {"name": "a", "target": {"name": "b"}}}, {}],
    ),
    (
        "  sel:\n    message|base64offset|contains: 'http://'\n  condition: sel",
        [{"message": base64.b64encode(b"xhttp://e").decode()}, {"message": "http://"}],
    ),
    (
        "  sel:\n    process.command_line|windash|contains: ' -enc '\n  condition: sel",
        [{"process": {"command_line": "p /enc a"}}, {"process": {"command_line": "p enc a"}}],
    ),
    ("  sel:\n    user.name: root\n  condition: not sel", [{"user": {"name": "root"}}, {}]),
    (
        "  a:\n    user.name: a\n  b:\n    source.ip: 1.1.1.1\n  c:\n    message|contains: ok\n  condition: a and not (b or c)",
        [
            {"user": {"name": "a"}},
            {"user": {"name": "a"}, "message": "ok"},
            {"user": {"name": "a"}, "source": {"ip": "1.1.1.1"}},
        ],
    ),
    (
        "  selection_a:\n    user.name: a\n  selection_b:\n    user.name|endswith: 'b'\n  condition: 1 of selection_*",
        [{"user": {"name": "a"}}, {"user": {"name": "xb"}}, {"user": {"name": "c"}}],
    ),
    (
        "  keywords:\n    - 'segfault'\n    - 'oops'\n  condition: keywords",
        [{"message": "Oops"}, {"event": {"original": "segfault"}}, {}],
    ),
]


def _store_events(path: Path, events: list[Event]) -> sqlite3.Connection:
    store = SqliteStore(path)
    store.setup()
    result = store.write_events(events)
    assert result.created == len(events)
    store.close()
    conn = sqlite3.connect(path)
    register_functions(conn)
    return conn


def _sql_ids(conn: sqlite3.Connection, rule: SigmaRule) -> set[str]:
    query = compile_sqlite(rule)
    return {row[0] for row in conn.execute(query.select(), query.params)}


def test_sql_agrees_with_the_matcher_on_a_real_store(tmp_path: Path) -> None:
    events: list[Event] = []
    rules: list[SigmaRule] = []
    for i, (detection, docs) in enumerate(AGREEMENT):
        rules.append(make_rule(detection, num=i))
        for j, doc in enumerate(docs):
            doc = {**doc, "organization": {"id": "moh"}}
            events.append(
                new_event(
                    event_id=f"c{i}-{j}", timestamp=datetime(2025, 1, 1, tzinfo=UTC), dataset="test.data", fields=doc
                )
            )
    conn = _store_events(tmp_path / "events.db", events)
    stored = {e.id: Event.from_doc(e.doc) for e in events}
    for rule, (detection, _) in zip(rules, AGREEMENT, strict=True):
        predicate = compile_predicate(rule)
        expected = {eid for eid, e in stored.items() if predicate(e.doc)}
        assert expected, f"no event matches {detection!r}: the case cannot tell SQL from Python"
        assert _sql_ids(conn, rule) == expected, detection


@pytest.mark.shared_data
def test_sql_agrees_with_the_matcher_for_every_regression_rule_over_every_event(
    shared_data: Path, tmp_path: Path
) -> None:
    events: dict[str, Event] = {}
    for path in sorted((shared_data / "sigma-regression").rglob("*.json")):
        for result in events_from_json_text(path.read_text(encoding="utf-8"), source=str(path)):
            assert isinstance(result, Event)
            events[result.id] = result
    rules, _ = load_sigma_paths([shared_data / "sigma-regression-rules"])
    conn = _store_events(tmp_path / "win.db", list(events.values()))
    hits = 0
    for rule in rules:
        assert isinstance(rule, SigmaRule)
        predicate = compile_predicate(rule)
        expected = {eid for eid, e in events.items() if e.dataset in rule.datasets and predicate(e.doc)}
        assert _sql_ids(conn, rule) == expected, rule.path
        hits += len(expected)
    assert hits >= 202
