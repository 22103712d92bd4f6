"""``sentinel incidents`` and ``sentinel alerts`` in-process (typer's runner) on a real store."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import load_settings
from sentinel.errors import SentinelError
from sentinel.incidents import IncidentService
from sentinel.store import open_store
from tests.sentinel.incidents.factory import make_alert


@pytest.fixture
def config(tmp_path: Path) -> Path:
    result = CliRunner().invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return tmp_path / "sentinel.yaml"


@pytest.fixture
def incident_ids(config: Path) -> list[str]:
    settings = load_settings(config, environ={})
    settings.resolved_data_dir().mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    try:
        service = IncidentService(store, settings)
        first, _ = service.open_or_attach(make_alert(store, 1), key="moh|a", actor="playbook:brute_force")
        second, _ = service.open_or_attach(
            make_alert(store, 2, ip="198.51.100.7", severity="medium"), key="moh|b", actor="playbook:brute_force"
        )
        make_alert(store, 3, ip="192.0.2.44")  # in no incident yet
        return [first.id, second.id]
    finally:
        store.close()


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_work_an_incident_from_the_cli(config: Path, incident_ids: list[str]) -> None:
    first, second = incident_ids
    listed = [orjson.loads(line) for line in run(config, "incidents", "list", "--json").splitlines()]
    assert {i["id"] for i in listed} == {first, second}
    assert "2 incident(s)" in run(config, "incidents", "list")
    assert "acknowledged" in run(config, "incidents", "ack", first, "--as", "ana")
    assert "assignee=bob" in run(config, "incidents", "assign", first, "bob", "--as", "ana")
    run(config, "incidents", "comment", first, "blocked at the firewall", "--as", "ana")
    moved = orjson.loads(
        run(config, "incidents", "transition", first, "investigating", "--note", "on it", "--as", "carol", "--json")
    )
    assert moved["state"] == "investigating"
    shown = orjson.loads(run(config, "incidents", "show", first, "--json"))
    assert shown["comments"][0]["text"] == "blocked at the firewall"
    assert [(e["field"], e["new"], e["actor"]) for e in shown["audit"] if e["field"] in ("state", "assignee")][1:] == [
        ("state", "acknowledged", "analyst:ana"),
        ("assignee", "bob", "analyst:ana"),
        ("state", "investigating", "analyst:carol"),
    ]
    table = run(config, "incidents", "show", first)
    assert "audit trail" in table and "blocked at the firewall" in table
    only = [orjson.loads(x) for x in run(config, "incidents", "list", "--state", "new", "--json").splitlines()]
    assert [i["id"] for i in only] == [second]


def test_illegal_transition_and_unknown_incident_are_clear(config: Path, incident_ids: list[str]) -> None:
    with pytest.raises(SentinelError, match="cannot go from new to closed; allowed from new: acknowledged"):
        run(config, "incidents", "transition", incident_ids[0], "closed", "--as", "ana")
    with pytest.raises(SentinelError, match="no incident 'inc-nope'"):
        run(config, "incidents", "show", "inc-nope")


def test_alerts_list_attach_and_merge(config: Path, incident_ids: list[str]) -> None:
    first, second = incident_ids
    queue = [orjson.loads(x) for x in run(config, "alerts", "list", "--unlinked", "--json").splitlines()]
    assert [(a["id"], a["incident_id"]) for a in queue] == [("alert-moh-3", None)]
    assert "alerts=2" in run(config, "alerts", "attach", "alert-moh-3", first, "--as", "ana")
    again = run(config, "alerts", "attach", "alert-moh-3", first, "--as", "ana")  # idempotent
    assert "alerts=2" in again
    assert run(config, "alerts", "list", "--unlinked", "--json").strip() == ""
    assert "3 alert(s)" in run(config, "alerts", "list")
    merged = run(config, "incidents", "merge", first, second, "--as", "ana")
    assert f"{second} is now duplicate, merged into {first}" in merged
    target = orjson.loads(run(config, "incidents", "show", first, "--json"))
    assert sorted(target["alert_ids"]) == ["alert-moh-1", "alert-moh-2", "alert-moh-3"]
