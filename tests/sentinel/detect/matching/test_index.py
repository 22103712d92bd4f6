"""Sigma semantics of the Python matcher, one behaviour per case, and the rule index."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from sentinel.detect.matching.index import RuleIndex, compile_predicate
from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_text
from sentinel.events import new_event

HEADER = """
title: test rule
id: 11111111-2222-3333-4444-{num:012d}
status: test
level: high
logsource:
    product: sentinel
    service: {dataset}
detection:
"""


def make_rule(detection: str, *, num: int = 1, dataset: str = "test.data", header: str = HEADER) -> SigmaRule:
    text = header.format(num=num, dataset=dataset) + detection
    rules, errors = load_sigma_text(text)
    assert not errors, errors
    (rule,) = rules
    assert isinstance(rule, SigmaRule)
    return rule


def matches(detection: str, doc: dict[str, Any]) -> bool:
    return compile_predicate(make_rule(detection))(doc)


CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    # (name, detection, doc, expected)
    ("equal ignores case", "  sel:\n    user.name: ROOT\n  condition: sel", {"user": {"name": "root"}}, True),
    ("equal is whole value", "  sel:\n    user.name: root\n  condition: sel", {"user": {"name": "rooty"}}, False),
    ("missing field", "  sel:\n    user.name: root\n  condition: sel", {"user": {}}, False),
    (
        "contains",
        "  sel:\n    message|contains: 'Failed pass'\n  condition: sel",
        {"message": "x FAILED PASSWORD"},
        True,
    ),
    ("startswith", "  sel:\n    message|startswith: 'abc'\n  condition: sel", {"message": "ABCdef"}, True),
    ("startswith miss", "  sel:\n    message|startswith: 'abc'\n  condition: sel", {"message": "xabc"}, False),
    (
        "endswith",
        "  sel:\n    process.executable|endswith: '\\bash'\n  condition: sel",
        {"process": {"executable": "C:\\x\\BASH"}},
        True,
    ),
    ("wildcard *", "  sel:\n    message: 'a*c'\n  condition: sel", {"message": "abbbc"}, True),
    ("wildcard ? one char", "  sel:\n    message: 'a?c'\n  condition: sel", {"message": "abc"}, True),
    ("wildcard ? not two", "  sel:\n    message: 'a?c'\n  condition: sel", {"message": "abbc"}, False),
    ("escaped star is literal", "  sel:\n    message: 'a\\*c'\n  condition: sel", {"message": "a*c"}, True),
    ("escaped star not wildcard", "  sel:\n    message: 'a\\*c'\n  condition: sel", {"message": "abc"}, False),
    ("escaped ? literal", "  sel:\n    message: 'what\\?'\n  condition: sel", {"message": "what?"}, True),
    ("backslash kept", "  sel:\n    message: 'C:\\Windows\\x'\n  condition: sel", {"message": "c:\\windows\\X"}, True),
    (
        "list is OR",
        "  sel:\n    user.name:\n      - alice\n      - bob\n  condition: sel",
        {"user": {"name": "Bob"}},
        True,
    ),
    (
        "all is AND",
        "  sel:\n    message|contains|all:\n      - foo\n      - bar\n  condition: sel",
        {"message": "foo only"},
        False,
    ),
    (
        "all is AND (both)",
        "  sel:\n    message|contains|all:\n      - foo\n      - bar\n  condition: sel",
        {"message": "bar and foo"},
        True,
    ),
    (
        "map is AND",
        "  sel:\n    user.name: a\n    source.ip: 1.2.3.4\n  condition: sel",
        {"user": {"name": "a"}},
        False,
    ),
    (
        "int equals string",
        "  sel:\n    winlog.event_id: 4688\n  condition: sel",
        {"winlog": {"event_id": "4688"}},
        True,
    ),
    (
        "string equals int",
        "  sel:\n    winlog.event_id: '4688'\n  condition: sel",
        {"winlog": {"event_id": 4688}},
        True,
    ),
    (
        "int contains",
        "  sel:\n    winlog.event_id|startswith: '46'\n  condition: sel",
        {"winlog": {"event_id": 4688}},
        True,
    ),
    (
        "list field any element",
        "  sel:\n    event.category: authentication\n  condition: sel",
        {"event": {"category": ["network", "authentication"]}},
        True,
    ),
    ("null matches missing", "  sel:\n    user.name: null\n  condition: sel", {"user": {}}, True),
    ("null matches empty", "  sel:\n    user.name: null\n  condition: sel", {"user": {"name": ""}}, True),
    ("null not value", "  sel:\n    user.name: null\n  condition: sel", {"user": {"name": "x"}}, False),
    ("empty string", "  sel:\n    user.name: ''\n  condition: sel", {"user": {"name": ""}}, True),
    ("exists true", "  sel:\n    user.name|exists: true\n  condition: sel", {"user": {"name": ""}}, True),
    ("exists false", "  sel:\n    user.name|exists: false\n  condition: sel", {"user": {"name": "x"}}, False),
    ("re search", "  sel:\n    message|re: 'fo+b'\n  condition: sel", {"message": "xx foob yy"}, True),
    ("re case-sensitive", "  sel:\n    message|re: 'FOO'\n  condition: sel", {"message": "foo"}, False),
    ("re i flag", "  sel:\n    message|re|i: 'FOO'\n  condition: sel", {"message": "foo"}, True),
    ("re m flag", "  sel:\n    message|re|m: '^bar$'\n  condition: sel", {"message": "foo\nbar\nbaz"}, True),
    ("re no m flag", "  sel:\n    message|re: '^bar$'\n  condition: sel", {"message": "foo\nbar\nbaz"}, False),
    ("re s flag", "  sel:\n    message|re|s: 'a.b'\n  condition: sel", {"message": "a\nb"}, True),
    ("cased", "  sel:\n    message|cased: 'Foo'\n  condition: sel", {"message": "foo"}, False),
    ("cased hit", "  sel:\n    message|cased|contains: 'Foo'\n  condition: sel", {"message": "a Foo b"}, True),
    ("cidr v4", "  sel:\n    source.ip|cidr: 10.0.0.0/8\n  condition: sel", {"source": {"ip": "10.2.3.4"}}, True),
    ("cidr v4 miss", "  sel:\n    source.ip|cidr: 10.0.0.0/8\n  condition: sel", {"source": {"ip": "11.2.3.4"}}, False),
    ("cidr v6", "  sel:\n    source.ip|cidr: 'fd00::/8'\n  condition: sel", {"source": {"ip": "fd12::1"}}, True),
    ("cidr not an ip", "  sel:\n    source.ip|cidr: 10.0.0.0/8\n  condition: sel", {"source": {"ip": "host"}}, False),
    (
        "gt",
        "  sel:\n    http.response.status_code|gt: 499\n  condition: sel",
        {"http": {"response": {"status_code": 500}}},
        True,
    ),
    ("gte string number", "  sel:\n    source.port|gte: 1024\n  condition: sel", {"source": {"port": "1024"}}, True),
    ("lt", "  sel:\n    source.port|lt: 1024\n  condition: sel", {"source": {"port": 2000}}, False),
    ("lte not number", "  sel:\n    source.port|lte: 10\n  condition: sel", {"source": {"port": "abc"}}, False),
    (
        "fieldref",
        "  sel:\n    user.name|fieldref: user.target.name\n  condition: sel",
        {"user": {"name": "Admin", "target": {"name": "admin"}}},
        True,
    ),
    (
        "fieldref differs",
        "  sel:\n    user.name|fieldref: user.target.name\n  condition: sel",
        {"user": {"name": "a", "target": {"name": "b"}}},
        False,
    ),
    (
        "base64",
        "  sel:\n    message|base64|contains: 'secret'\n  condition: sel",
        {"message": "x " + base64.b64encode(b"secret").decode()},
        True,
    ),
    (
        "base64offset",
        "  sel:\n    message|base64offset|contains: 'http://'\n  condition: sel",
        {"message": base64.b64encode(b"xxhttp://evil").decode()},
        True,
    ),
    (
        "wide base64offset",
        "  sel:\n    message|wide|base64offset|contains: 'ping'\n  condition: sel",
        {"message": base64.b64encode("a ping".encode("utf-16-le")).decode()},
        True,
    ),
    (
        "windash",
        "  sel:\n    process.command_line|windash|contains: ' -enc '\n  condition: sel",
        {"process": {"command_line": "powershell /enc AAA"}},
        True,
    ),
    (
        "windash en dash",
        "  sel:\n    process.command_line|windash|contains: ' -enc '\n  condition: sel",
        {"process": {"command_line": "powershell \u2013enc AAA"}},
        True,
    ),
    ("not missing field", "  sel:\n    user.name: root\n  condition: not sel", {}, True),
    ("not present", "  sel:\n    user.name: root\n  condition: not sel", {"user": {"name": "root"}}, False),
    (
        "1 of selection_*",
        "  selection_a:\n    user.name: a\n  selection_b:\n    user.name: b\n  condition: 1 of selection_*",
        {"user": {"name": "b"}},
        True,
    ),
    (
        "all of selection_*",
        "  selection_a:\n    user.name: a\n  selection_b:\n    source.ip: 1.1.1.1\n  condition: all of selection_*",
        {"user": {"name": "a"}},
        False,
    ),
    (
        "all of them",
        "  s1:\n    user.name: a\n  s2:\n    source.ip: 1.1.1.1\n  condition: all of them",
        {"user": {"name": "a"}, "source": {"ip": "1.1.1.1"}},
        True,
    ),
    (
        "parentheses and not",
        "  a:\n    user.name: a\n  b:\n    source.ip: 1.1.1.1\n  c:\n    message|contains: ok\n"
        "  condition: a and not (b or c)",
        {"user": {"name": "a"}, "message": "all ok"},
        False,
    ),
    (
        "list of maps is OR",
        "  sel:\n    - user.name: a\n    - source.ip: 2.2.2.2\n  condition: sel",
        {"source": {"ip": "2.2.2.2"}},
        True,
    ),
    (
        "keywords match message",
        "  keywords:\n    - 'segfault at'\n  condition: keywords",
        {"message": "x SEGFAULT AT 0"},
        True,
    ),
    (
        "keywords match event.original",
        "  keywords:\n    - 'segfault'\n  condition: keywords",
        {"event": {"original": "<1>kernel: segfault"}},
        True,
    ),
    ("keywords miss", "  keywords:\n    - 'segfault'\n  condition: keywords", {"message": "fine"}, False),
    (
        "bool value",
        "  sel:\n    file.code_signature.signed: false\n  condition: sel",
        {"file": {"code_signature": {"signed": False}}},
        True,
    ),
    ("star matches any value", "  sel:\n    user.name: '*'\n  condition: sel", {"user": {"name": "x"}}, True),
    ("star needs the field", "  sel:\n    user.name: '*'\n  condition: sel", {}, False),
    ("number field float", "  sel:\n    source.port: 22\n  condition: sel", {"source": {"port": 22.0}}, True),
    ("unicode case", "  sel:\n    user.name: 'ÄRGER'\n  condition: sel", {"user": {"name": "ärger"}}, True),
]


@pytest.mark.parametrize(("detection", "doc", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sigma_semantics(detection: str, doc: dict[str, Any], expected: bool) -> None:
    assert matches(detection, doc) is expected


def _event(dataset: str, fields: dict[str, Any], n: int) -> Any:
    return new_event(event_id=f"e{n}", timestamp=datetime(2025, 1, 1, tzinfo=UTC), dataset=dataset, fields=fields)


def test_index_tries_only_rules_of_the_event_dataset_and_event_id() -> None:
    auth = make_rule("  sel:\n    user.name: root\n  condition: sel", num=1, dataset="system.auth")
    syslog = make_rule("  sel:\n    user.name: root\n  condition: sel", num=2, dataset="system.syslog")
    sysmon_header = HEADER.replace(
        "product: sentinel\n    service: {dataset}", "product: windows\n    category: {dataset}"
    )
    proc = make_rule(
        "  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel",
        num=3,
        dataset="process_creation",
        header=sysmon_header,
    )
    index = RuleIndex([auth, syslog, proc])
    assert index.unsupported == []
    assert index.datasets == ("system.auth", "system.syslog", "windows.sysmon_operational")
    sysmon = {"channel": "Microsoft-Windows-Sysmon/Operational", "event_data": {"Image": "C:\\cmd.exe"}}
    events = [
        _event("system.auth", {"user": {"name": "root"}}, 1),
        _event("system.syslog", {"user": {"name": "root"}}, 2),
        _event("nginx.access", {"user": {"name": "root"}}, 3),
        _event("windows.sysmon_operational", {"winlog": {**sysmon, "event_id": 1}}, 4),
        _event("windows.sysmon_operational", {"winlog": {**sysmon, "event_id": 11}}, 5),  # file event: no
    ]
    got = [(rule.id[-1], event.id) for rule, event in index.match(events)]
    assert got == [("1", "e1"), ("2", "e2"), ("3", "e4")]
    assert index.candidates(events[4]) == []
    assert index.candidates(events[3]) == [proc]


def test_index_reports_rules_it_cannot_compile_and_keeps_the_others() -> None:
    expand = make_rule("  sel:\n    source.ip|expand: '%admin_hosts%'\n  condition: sel", num=1)
    good = make_rule("  sel:\n    user.name: root\n  condition: sel", num=2)
    index = RuleIndex([expand, good])
    assert [(r.id, "placeholder" in reason) for r, reason in index.unsupported] == [(expand.id, True)]
    assert index.rules == [good]
    hits = list(index.match([_event("test.data", {"user": {"name": "root"}}, 1)]))
    assert [(r.id, e.id) for r, e in hits] == [(good.id, "e1")]


def test_index_returns_rules_in_load_order_for_each_event() -> None:
    rules = [make_rule("  sel:\n    user.name: root\n  condition: sel", num=i) for i in (5, 3, 9)]
    index = RuleIndex(rules)
    hits = list(index.match([_event("test.data", {"user": {"name": "root"}}, 1)]))
    assert [r.id for r, _ in hits] == [r.id for r in rules]


def _sysmon_rule(detection: str, num: int) -> SigmaRule:
    header = HEADER.replace("product: sentinel\n    service: {dataset}", "product: windows\n    category: {dataset}")
    return make_rule(detection, num=num, dataset="process_creation", header=header)


def test_keyed_and_gated_rules_match_exactly_what_each_predicate_finds_in_load_order() -> None:
    """Rules found by image-name keys, rules behind literal gates and ungated ones, mixed."""
    detections = [
        "  sel:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: ' /c '\n  condition: sel",
        "  sel:\n    CommandLine|contains: 'whoami'\n  condition: sel",
        "  sel:\n    - Image|endswith: '\\certutil.exe'\n    - OriginalFileName: CertUtil.exe\n  condition: sel",
        "  sel:\n    Image|endswith: 'util.exe'\n  condition: sel",  # suffix without separator: gated
        "  sel:\n    User: SYSTEM\n  condition: not sel",  # no literal, no key: always tried
        "  sel:\n    Image|endswith|cased: '\\CMD.exe'\n  condition: sel",  # cased: keyed caselessly
        "  sel:\n    CommandLine|contains: 'encode'\n  condition: sel",
        "  sel:\n    Image|endswith:\n      - '\\cmd.exe'\n      - '\\powershell.exe'\n  condition: sel",
    ]
    rules = [_sysmon_rule(d, i) for i, d in enumerate(detections)]
    docs = [
        {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami", "User": "alice"},
        {"Image": "C:\\Windows\\System32\\CMD.exe", "CommandLine": "cmd", "User": "SYSTEM"},
        {"Image": "C:\\x\\certutil.exe", "CommandLine": "certutil -encode a b", "User": "SYSTEM"},
        {"Image": "C:\\x\\renamed.exe", "OriginalFileName": "certutil.exe", "CommandLine": "x"},
        {"Image": "C:\\x\\myutil.exe", "CommandLine": "nothing"},
        {"Image": "cmd.exe", "CommandLine": " /c x"},  # no separator: no suffix match
        {"Image": "C:\\p\\PowerShell.EXE", "CommandLine": "-enc"},
        {"CommandLine": "whoami"},
    ]
    events = [
        _event(
            "windows.sysmon_operational",
            {"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "event_data": d}},
            n,
        )
        for n, d in enumerate(docs)
    ]
    got = [(r.id, e.id) for r, e in RuleIndex(rules).match(events)]
    expected = [(rule.id, event.id) for event in events for rule in rules if compile_predicate(rule)(event.doc)]
    assert got == expected
    assert len(got) >= 12


def test_combined_index_matches_like_its_parts_and_keeps_each_rule_once() -> None:
    a = make_rule("  sel:\n    user.name: root\n  condition: sel", num=1)
    b = make_rule("  sel:\n    message|contains: failed\n  condition: sel", num=2)
    first, second = RuleIndex([a]), RuleIndex([b, a])
    combined = RuleIndex.combine([first, second])
    assert combined.rules == [a, b]
    event = _event("test.data", {"user": {"name": "root"}, "message": "Failed password"}, 1)
    assert [r.id for r, _ in combined.match([event])] == [a.id, b.id]


def _security_rule(detection: str, num: int) -> SigmaRule:
    header = HEADER.replace("product: sentinel\n    service: {dataset}", "product: windows\n    service: security")
    return make_rule(detection, num=num, header=header)


def test_rules_naming_event_ids_in_their_condition_are_tried_only_for_those_ids() -> None:
    rules = [
        _security_rule("  sel:\n    EventID: 4625\n  condition: sel", 1),
        _security_rule("  sel:\n    EventID:\n      - 4624\n      - '4625'\n  condition: sel", 2),
        _security_rule("  sel:\n    TargetUserName: admin\n  condition: sel", 3),  # any EventID
        _security_rule("  sel:\n    EventID: 4625\n  condition: not sel", 4),  # no necessary ID
    ]
    index = RuleIndex(rules)
    ids: list[Any] = [4625, "4625", 4624, 4634, None, 4625.0, [4624, 1], "x"]
    winlog: dict[str, Any] = {"channel": "Security", "event_data": {"TargetUserName": "admin"}}
    events = [
        _event("windows.security", {"winlog": winlog if i is None else {**winlog, "event_id": i}}, n)
        for n, i in enumerate(ids)
    ]
    got = [(r.id[-1], e.id) for r, e in index.match(events)]
    expected = [(r.id[-1], e.id) for e in events for r in rules if compile_predicate(r)(e.doc)]
    assert got == expected
    assert ("1", "e5") in got and ("2", "e6") in got  # a float or a list ID is read as the predicate reads it
    assert [r.id[-1] for r in index.candidates(events[3])] == ["3", "4"]  # 4634: neither ID rule
    assert [r.id[-1] for r in index.candidates(events[2])] == ["2", "3", "4"]


def test_index_tries_only_rules_whose_keys_and_literals_the_event_has() -> None:
    from sentinel.detect.matching.field_values import FieldValues

    rules = [
        _sysmon_rule(
            "  sel:\n    Image|endswith: '\\wmic.exe'\n    CommandLine|contains: shadowcopy\n  condition: sel", 0
        ),
        _sysmon_rule(
            "  sel:\n    Image|endswith: '\\wmic.exe'\n    CommandLine|contains: useraccount\n  condition: sel", 1
        ),
        _sysmon_rule("  sel:\n    CommandLine|contains: 'whoami'\n  condition: sel", 2),
        _sysmon_rule("  sel:\n    User: SYSTEM\n  condition: not sel", 3),
    ]
    index = RuleIndex(rules)
    doc = {"Image": "C:\\Windows\\wbem\\WMIC.exe", "CommandLine": "wmic shadowcopy delete", "User": "SYSTEM"}
    winlog = {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "event_data": doc}
    event = _event("windows.sysmon_operational", {"winlog": winlog}, 1)
    values = FieldValues(event.doc)
    lists = index._lists(event, values, index._buckets())
    assert lists is not None
    assert [r.id[-1] for r, _ in lists.tried(values)] == ["0", "3"]  # key and literal; no need
    assert [r.id[-1] for r, _ in index.match([event])] == ["0"]
