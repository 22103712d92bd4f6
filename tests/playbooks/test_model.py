"""When a playbook applies: rules, tag globs, severity, institution and alert field conditions."""

from __future__ import annotations

from typing import Any

import pytest

from playbooks.loader import parse_playbook
from playbooks.model import FieldCondition, Playbook
from sentinel.yamlfile import YamlDocument

ALERT: dict[str, Any] = {
    "rule_id": "r-1",
    "severity": "high",
    "tags": ["attack.credential_access", "attack.t1110.001", "sentinel.control.auth-02"],
    "institution_id": "moh",
    "group_key": {"source.ip": "203.0.113.9", "user.name": "root"},
    "details": {"ports": [22, 2222]},
    "count": 40,
}


def playbook(when: str) -> Playbook:
    text = f"id: p\ntitle: P\nwhen:\n{when}\nsteps:\n  - action: open_incident\n"
    return parse_playbook(YamlDocument.parse(text, "p.yaml"))


@pytest.mark.parametrize(
    ("when", "matches"),
    [
        ("  rules: [r-1, r-2]", True),
        ("  rules: [r-2]", False),
        ('  tags: ["sentinel.control.*"]', True),
        ('  tags: ["ATTACK.T1110*"]', True),
        ("  tags: [attack.persistence]", False),
        ("  severity_at_least: high", True),
        ("  severity_at_least: critical", False),
        ("  institutions: [moh]", True),
        ("  institutions: [tra]", False),
        ("  rules: [r-1]\n  severity_at_least: critical", False),  # every criterion must hold
        ("  fields: [{field: group_key.source.ip, op: cidr, value: 203.0.113.0/24}]", True),
        ("  fields: [{field: group_key.source.ip, op: cidr, value: 10.0.0.0/8}]", False),
        ("  fields: [{field: group_key.user.name, value: root}]", True),
        ("  fields: [{field: count, op: gte, value: 100}]", False),
        ("  fields: [{field: count, op: gte, value: 40}]", True),
        ("  fields: [{field: details.ports, value: 2222}]", True),  # any value of a list
        ("  fields: [{field: details.ports, op: neq, value: 2222}]", False),
        ("  fields: [{field: group_key.host.name, op: missing}]", True),
        ("  fields: [{field: group_key.host.name, op: exists}]", False),
        ("  fields: [{field: rule_id, op: in, value: [a, r-1]}]", True),
        ("  fields: [{field: rule_id, op: glob, value: 'R-*'}]", True),
    ],
)
def test_when(when: str, matches: bool) -> None:
    p = playbook(when)
    assert p.matches(ALERT, frozenset(p.when.rules)) is matches


def test_empty_when_matches_everything() -> None:
    p = parse_playbook(YamlDocument.parse("id: p\ntitle: P\nsteps:\n  - action: open_incident\n", "p.yaml"))
    assert p.matches({}, frozenset())


@pytest.mark.parametrize(
    "condition",
    [{"field": "x", "op": "in", "value": "a"}, {"field": "x", "op": "gt"}, {"field": "x", "op": "cidr", "value": "x"}],
)
def test_condition_values_are_checked(condition: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FieldCondition.model_validate(condition)
