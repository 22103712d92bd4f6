"""Loading Sigma YAML into typed rules; broken rules reported one by one with file and reason."""

from __future__ import annotations

from pathlib import Path

from sentinel.detect.rulebook.sigma import SigmaCorrelation, SigmaRule, load_sigma_paths, load_sigma_text
from sentinel.errors import RuleError

SSH_RULE = """
title: SSH login as root
id: 0f6a3c3e-2d55-4c55-9b7e-1a0e5a6d9a01
name: ssh_root_login
status: test
description: Someone logged in as root over SSH.
references:
    - https://example.org/ssh
tags:
    - attack.initial-access
    - attack.t1078
    - sentinel.control.auth-02
logsource:
    product: linux
    service: sshd
detection:
    selection:
        user.name: root
        event.action: ssh_login
    condition: selection
falsepositives:
    - Break-glass access
level: high
"""

SYSMON_RULE = """
title: cmd from Word
id: 7c3b1d38-9c7f-4d8b-9bb7-5b2f2c1f0a11
status: test
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        ParentImage|endswith: '\\winword.exe'
        Image|endswith: '\\cmd.exe'
    condition: selection
level: medium
"""

CORRELATION = """
title: many root logins
id: 5b0c8c1a-3a4f-4e84-8f1b-2b3c4d5e6f70
status: test
correlation:
    type: event_count
    rules:
        - ssh_root_login
    group-by:
        - source.ip
    timespan: 10m
    condition:
        gte: 5
level: critical
"""


def test_detection_rule_becomes_typed_rule() -> None:
    rules, errors = load_sigma_text(SSH_RULE, Path("ssh.yml"))
    assert errors == []
    (rule,) = rules
    assert isinstance(rule, SigmaRule)
    assert rule.id == "0f6a3c3e-2d55-4c55-9b7e-1a0e5a6d9a01"
    assert rule.title == "SSH login as root"
    assert rule.description == "Someone logged in as root over SSH."
    assert rule.level == "high"
    assert rule.tags == ("attack.initial-access", "attack.t1078", "sentinel.control.auth-02")
    assert rule.datasets == ("system.auth",)
    assert rule.fields == ("user.name", "event.action")
    assert rule.falsepositives == ("Break-glass access",)
    assert rule.references == ("https://example.org/ssh",)
    assert rule.name == "ssh_root_login"
    assert rule.path == Path("ssh.yml")
    assert rule.event_ids == ()
    assert rule.logsource.service == "sshd"


def test_windows_rule_reads_event_data_and_knows_its_channel_and_event_id() -> None:
    (rule,), errors = load_sigma_text(SYSMON_RULE)
    assert errors == []
    assert isinstance(rule, SigmaRule)
    assert rule.datasets == ("windows.sysmon_operational",)
    assert rule.event_ids == (1,)
    assert set(rule.fields) == {
        "winlog.event_data.ParentImage",
        "winlog.event_data.Image",
        "winlog.channel",
        "winlog.event_id",
    }


def test_correlation_maps_group_by_and_resolves_nothing_it_cannot_see() -> None:
    rules, errors = load_sigma_text(SSH_RULE + "\n---\n" + CORRELATION)
    assert errors == []
    _base, corr = rules
    assert isinstance(corr, SigmaCorrelation)
    assert corr.type == "event_count"
    assert corr.rules == ("ssh_root_login",)
    assert corr.group_by == ("source.ip",)
    assert corr.timespan_seconds == 600
    assert corr.condition == {"gte": 5}
    assert corr.level == "critical"


def test_value_count_correlation_maps_sigma_field_names_through_the_base_rule() -> None:
    corr_text = """
title: one source, many users
id: 9e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b
correlation:
    type: value_count
    rules:
        - 7c3b1d38-9c7f-4d8b-9bb7-5b2f2c1f0a11
    group-by:
        - ComputerName
    timespan: 1h
    condition:
        gte: 3
        field: User
"""
    rules, errors = load_sigma_text(SYSMON_RULE + "\n---\n" + corr_text)
    assert errors == []
    corr = rules[1]
    assert isinstance(corr, SigmaCorrelation)
    assert corr.group_by == ("winlog.computer_name",)
    assert corr.condition == {"gte": 3, "field": "winlog.event_data.User"}
    assert corr.timespan_seconds == 3600


def test_yaml_syntax_error_names_file_and_line() -> None:
    rules, errors = load_sigma_text("title: x\ndetection: [unclosed\n", Path("bad.yml"))
    assert rules == []
    (error,) = errors
    assert isinstance(error, RuleError)
    assert error.location is not None and error.location.path == "bad.yml"
    assert error.location.line == 3
    assert "invalid YAML" in error.message


def test_broken_rules_are_reported_one_by_one_and_the_others_load(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(SSH_RULE)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "win.yml").write_text(SYSMON_RULE)
    (tmp_path / "no_condition.yml").write_text(
        SSH_RULE.replace("    condition: selection\n", "").replace("0f6a", "1f6a")
    )
    (tmp_path / "cisco.yml").write_text(SSH_RULE.replace("product: linux", "product: cisco").replace("0f6a", "2f6a"))
    (tmp_path / "unknown_field.yml").write_text(
        SSH_RULE.replace("user.name: root", "TargetUserNam: root").replace("0f6a", "3f6a")
    )
    (tmp_path / "not_yaml.yml").write_text("title: [\n")
    (tmp_path / "readme.txt").write_text("not a rule")
    rules, errors = load_sigma_paths([tmp_path])
    assert sorted(r.title for r in rules) == ["SSH login as root", "cmd from Word"]
    by_file = {Path(e.location.path).name: e.message for e in errors if e.location is not None}
    assert set(by_file) == {"no_condition.yml", "cisco.yml", "unknown_field.yml", "not_yaml.yml"}
    assert "condition" in by_file["no_condition.yml"].lower()
    assert "product=cisco" in by_file["cisco.yml"] and "not one Sentinel collects" in by_file["cisco.yml"]
    assert "TargetUserNam" in by_file["unknown_field.yml"] and "no ECS mapping" in by_file["unknown_field.yml"]
    assert "invalid YAML" in by_file["not_yaml.yml"]


def test_error_in_one_document_keeps_other_documents_of_the_same_file() -> None:
    broken = SSH_RULE.replace("level: high", "level: enormous").replace("0f6a", "4f6a")
    rules, errors = load_sigma_text(SSH_RULE + "\n---\n" + broken, Path("multi.yml"))
    assert [r.id for r in rules] == ["0f6a3c3e-2d55-4c55-9b7e-1a0e5a6d9a01"]
    (error,) = errors
    assert "level" in error.message.lower()
    assert error.location is not None and error.location.key == "4f6a3c3e-2d55-4c55-9b7e-1a0e5a6d9a01"


def test_rule_without_id_is_refused() -> None:
    text = SSH_RULE.replace("id: 0f6a3c3e-2d55-4c55-9b7e-1a0e5a6d9a01\n", "")
    rules, errors = load_sigma_text(text)
    assert rules == []
    assert ["no 'id'" in e.message for e in errors] == [True]


def test_non_mapping_document_is_refused() -> None:
    rules, errors = load_sigma_text("- just\n- a list\n")
    assert rules == [] and len(errors) == 1
