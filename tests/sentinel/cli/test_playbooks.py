"""``sentinel playbooks`` in-process on a real config and SQLite store; exit status from the real binary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import load_settings
from sentinel.store import open_store
from sentinel.store.base import Scope
from tests.playbooks.support import INVENTORY, Clock, raise_alert

MALWARE = "e92216d3-03cc-48e2-a9a3-aaf44ee4cc6f"  # systemd service persistence: the playbook waits for approval


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    path = tmp_path / "sentinel.yaml"
    path.write_text(
        "data_dir: ./data\ninventory: inventory.yaml\n"
        "slack: {token: xoxb-test, channel: '#soc'}\n"
        "playbooks: {dirs: [./playbooks]}\n"
    )
    (tmp_path / "playbooks").mkdir()
    return path


def run(config: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["--config", str(config), *args], catch_exceptions=False)


def test_list_and_validate(config: Path) -> None:
    result = run(config, "playbooks", "list", "--json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    listed = orjson.loads(result.stdout)  # type: ignore[attr-defined]
    assert len(listed["playbooks"]) == 6 and listed["errors"] == []
    assert "6 playbook(s) valid, 0 error(s)" in run(config, "playbooks", "validate").output  # type: ignore[attr-defined]


def test_validate_names_the_file_and_line_and_fails(config: Path) -> None:
    bad = config.parent / "playbooks" / "bad.yaml"
    bad.write_text("id: bad\ntitle: Bad\nsteps:\n  - action: open_incident\n  - action: notify\n    to: everyone\n")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sentinel"), "--config", str(config), "playbooks", "validate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"error: {bad}:6 (steps[1].to): Input should be 'soc' or 'institution'" in result.stderr
    assert "6 playbook(s) valid, 1 error(s)" in result.stdout


def test_run_dry_run_then_for_real_then_approve(config: Path) -> None:
    store = open_store(load_settings(config))
    store.setup()
    clock = Clock()
    alert = raise_alert(
        store,
        clock,
        rule_id=MALWARE,
        title="New systemd service",
        severity="medium",
        tags=("attack.persistence",),
        group_key={"host.hostname": "labsz", "user.name": "bob"},
    )
    store.close()

    dry = run(config, "playbooks", "run", "--alert", alert.id, "--dry-run")
    assert "dry run: malware_persistence: waiting" in dry.output  # type: ignore[attr-defined]
    assert "tell-institution [notify] done: would notify ict@moh.go.tz (sw)" in dry.output  # type: ignore[attr-defined]

    real = run(config, "playbooks", "run", "--alert", alert.id, "--json")
    out = orjson.loads(real.stdout)  # type: ignore[attr-defined]
    (only,) = out["runs"]
    assert only["status"] == "waiting"
    assert [s["key"] for s in only["steps"]] == ["incident", "raise", "context", "tell-soc", "confirm"]
    incident = only["incident_id"]

    approved = run(config, "playbooks", "approve", incident, "confirm", "--as", "ana")
    assert "malware_persistence: done" in approved.output  # type: ignore[attr-defined]
    assert "tell-institution [notify] done: 1 notice(s) queued for ict@moh.go.tz (sw)" in approved.output  # type: ignore[attr-defined]
    store = open_store(load_settings(config))
    try:
        queued = store.find_documents("outbox", Scope.everything())
        assert sorted(d.body["channel"] for d in queued) == ["email", "slack"]
    finally:
        store.close()
