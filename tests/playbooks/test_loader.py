"""Loading playbooks: typed objects, and every mistake named with its file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbooks.loader import load_playbook_file, load_playbooks, resolve_rule_ids
from playbooks.steps.notify import Params as NotifyParams
from sentinel.errors import PlaybookError

GOOD = """\
id: demo
title: Demo
when:
  rules: [sentinel_ssh_brute_force]
  tags: ["sentinel.control.*"]
  severity_at_least: medium
  fields:
    - {field: group_key.source.ip, op: cidr, value: 203.0.113.0/24}
steps:
  - action: open_incident
    key: [source.ip]
  - id: tell
    action: notify
    to: institution
"""


def write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_playbook_is_typed(tmp_path: Path) -> None:
    playbook = load_playbook_file(write(tmp_path, GOOD))

    assert playbook.id == "demo"
    assert [s.key for s in playbook.steps] == ["1-open_incident", "tell"]
    assert isinstance(playbook.steps[1].params, NotifyParams)
    assert playbook.steps[1].params.resolved_channel == "email"
    assert playbook.steps[1].line == 12
    assert playbook.path == (tmp_path / "demo.yaml").resolve()


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("  severity_at_least: medium", "  severity_at_least: urgent"), 6, "Input should be"),
        (("  tags:", "  tag:"), 5, "unknown key"),
        (("    key: [source.ip]", "    key: [source.ip]\n    colour: red"), 12, "unknown key"),
        (("  - action: open_incident", "  - action: open_ticket"), 10, "unknown action 'open_ticket'"),
        (("    to: institution", "    to: institution\n    template: hello"), 15, "unknown notice template 'hello'"),
        (("  - id: tell", "  - id: 1-open_incident"), 12, "is used twice"),
        (("value: 203.0.113.0/24", "value: not-a-net"), 8, "not a network"),
        (("title: Demo", "title: Demo\ncolour: red"), 3, "unknown key"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, change: tuple[str, str], line: int, message: str) -> None:
    assert change[0] in GOOD
    path = write(tmp_path, GOOD.replace(change[0], change[1]))

    with pytest.raises(PlaybookError) as caught:
        load_playbook_file(path)

    assert message in str(caught.value)
    assert caught.value.location is not None
    assert caught.value.location.path == str(path)
    assert caught.value.location.line == line, str(caught.value)


def test_step_on_an_incident_needs_open_incident_first(tmp_path: Path) -> None:
    text = "id: x\ntitle: X\nsteps:\n  - action: set_severity\n    severity: high\n  - action: open_incident\n"
    with pytest.raises(PlaybookError, match="put an open_incident step before it") as caught:
        load_playbook_file(write(tmp_path, text))
    assert caught.value.location is not None and caught.value.location.line == 4


def test_escalate_after_needs_exactly_one_action(tmp_path: Path) -> None:
    text = "id: x\ntitle: X\nsteps:\n  - action: open_incident\n  - action: escalate_after\n    after: 1h\n"
    with pytest.raises(PlaybookError, match="exactly one of 'notify' or 'raise_severity'"):
        load_playbook_file(write(tmp_path, text))
    bad_duration = text.replace("after: 1h", "after: soon\n    raise_severity: high")
    with pytest.raises(PlaybookError, match="invalid duration 'soon'"):
        load_playbook_file(write(tmp_path, bad_duration))


def test_folder_collects_every_error_and_refuses_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")  # same id "demo"
    write(tmp_path, "id: [broken\n", "c.yaml")
    write(tmp_path, "id: empty\ntitle: E\nsteps: []\n", "d.yml")

    loaded = load_playbooks([tmp_path])

    assert [p.id for p in loaded.playbooks] == ["demo"]
    messages = sorted(str(e) for e in loaded.errors)
    assert len(messages) == 3
    assert any("b.yaml" in m and "also used by" in m for m in messages)
    assert any("c.yaml:" in m and "invalid YAML" in m for m in messages)
    assert any("d.yml:3" in m and "non-empty list of steps" in m for m in messages)


def test_rule_names_resolve_to_ids(tmp_path: Path) -> None:
    playbook = load_playbook_file(write(tmp_path, GOOD.replace("[sentinel_ssh_brute_force]", "[a_name, raw-id, nope]")))

    ids, unknown = resolve_rule_ids(playbook, {"a_name": "id-1", "other": "raw-id"})

    assert ids == frozenset({"id-1", "raw-id", "nope"})
    assert unknown == ["nope"]
