"""Untrusted text on the terminal: Rich markup and escape sequences from the store come out inert."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.cli.context import CliState
from sentinel.cli.output import json_text, plain
from sentinel.incidents.service import IncidentService
from tests.sentinel.incidents.factory import make_alert

MARKUP = "[link=https://evil.example]click[/link]"
OSC8 = "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07"  # a terminal hyperlink, as raw escape codes
CLEAR = "\x1b[2J"  # clears the screen


def test_plain_shows_control_characters_as_escapes() -> None:
    assert plain(OSC8) == "\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07"
    assert plain("ok\rFAKE\nline\u202eevil\x9b") == "ok\\rFAKE\\nline\\u202eevil\\x9b"
    assert plain("two\nlines\tkept", newlines=True) == "two\nlines\tkept"
    assert plain(MARKUP) == MARKUP and plain(None) == "-" and plain(42) == "42"


def test_json_keeps_the_value_and_escapes_what_a_terminal_would_act_on() -> None:
    value = {"message": OSC8 + "\x9b\u202e"}
    text = json_text(value)
    assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
    assert orjson.loads(text) == value


@pytest.fixture
def config(tmp_path: Path) -> Path:
    result = CliRunner().invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    log = tmp_path / "evil.log"
    log.write_text(
        f"Jun 15 14:59:01 web1 app: {MARKUP}\n"
        f"Jun 15 14:59:02 web1 app: {OSC8} {CLEAR}\n"
        f"Jun 15 14:59:03 {MARKUP} sshd[1]: Failed password for {MARKUP} from 203.0.113.9 port 1 ssh2\n"
    )
    ingest = run(tmp_path / "sentinel.yaml", "ingest", "--json", str(log))
    assert ingest.exit_code == 0 and orjson.loads(ingest.stdout.splitlines()[-1])["stored"] == 3, ingest.output
    return tmp_path / "sentinel.yaml"


def run(config: Path, *args: str):  # type: ignore[no-untyped-def]
    # A wide, colour terminal: Rich renders what markup it finds (a link becomes OSC 8 codes).
    env = {"COLUMNS": "400", "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    return CliRunner(env=env).invoke(app, ["--config", str(config), *args], catch_exceptions=False)


def assert_inert(output: str) -> None:
    assert "\x1b]8;" not in output  # no hyperlink reaches the terminal
    assert "\x1b[2J" not in output and "\x07" not in output


def test_search_table_prints_log_messages_inert(config: Path) -> None:
    result = run(config, "search", "", "--since", "3650d")
    assert result.exit_code == 0, result.output
    assert MARKUP in result.output  # the markup, as text (it used to become a hyperlink)
    assert "\\x1b]8;;https://evil.example\\x07click" in result.output
    assert_inert(result.output)


def test_incident_comments_and_json_are_inert(config: Path) -> None:
    state = CliState(config_path=config)  # the store the CLI uses, with a real incident in it
    try:
        alert = make_alert(state.store, 1, user=MARKUP)
        incident, _ = IncidentService(state.store, state.settings).open_or_attach(alert, key="k", actor="playbook:t")
    finally:
        state.close()
    assert run(config, "incidents", "comment", incident.id, f"see {OSC8}", "--as", MARKUP).exit_code == 0
    shown = run(config, "incidents", "show", incident.id)
    assert shown.exit_code == 0, shown.output
    assert "see \\x1b]8;;https://evil.example" in shown.output and MARKUP in shown.output
    assert_inert(shown.output)
    as_json = run(config, "incidents", "show", incident.id, "--json")
    assert_inert(as_json.output)
    assert orjson.loads(as_json.stdout)["comments"][0]["text"] == f"see {OSC8}"
    listed = run(config, "alerts", "list")
    assert listed.exit_code == 0 and "\x1b]8;" not in listed.output
