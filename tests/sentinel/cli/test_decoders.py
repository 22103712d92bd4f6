"""``sentinel decoders list|validate|test`` in-process, on real decoder files."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from sentinel.cli import app

GOOD = """\
id: portal
title: Ministry e-services portal
dataset: portal.auth
programs: [portal]
rules:
  - action: login_failed
    match: 'login failed for %{USERNAME:user.name} from %{IP:source.ip}'
    category: [authentication, web]
    type: [start]
    outcome: failure
samples:
  - line: 'Jan 12 10:00:00 web portal[1]: login failed for juma from 203.0.113.9'
    fields: {source.ip: 203.0.113.9, user.name: juma, event.category: authentication}
  - line: 'Jan 12 10:00:01 web portal[1]: logged out juma'
    decodes: false
"""


def run(*args: str, config: Path | None = None) -> object:
    prefix = ["--config", str(config)] if config is not None else []
    return CliRunner().invoke(app, [*prefix, "decoders", *args])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "decoders"
    folder.mkdir()
    (folder / "portal.yaml").write_text(GOOD)
    (tmp_path / "sentinel.yaml").write_text("decoders:\n  dirs: [decoders]\n")
    return tmp_path


def test_list_shows_shipped_and_site_decoders(site: Path) -> None:
    result = run("list", "--json", config=site / "sentinel.yaml")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    listed = orjson.loads(result.output)  # type: ignore[attr-defined]
    by_id = {d["id"]: d for d in listed["decoders"]}
    assert by_id["portal"]["source"].endswith("portal.yaml") and by_id["postfix"]["source"] == "shipped"
    assert by_id["postfix"]["programs"] == ["postfix*"] and listed["errors"] == []
    table = run("list", config=site / "sentinel.yaml")
    assert "portal" in table.output and "decoder(s), in dispatch order" in table.output  # type: ignore[attr-defined]


def test_validate_names_file_and_line_and_fails(site: Path) -> None:
    assert run("validate", str(site / "decoders")).exit_code == 0  # type: ignore[attr-defined]
    (site / "decoders" / "bad.yaml").write_text(
        GOOD.replace("id: portal", "id: bad").replace("[authentication, web]", "[login]")
    )
    result = run("validate", str(site / "decoders"))
    assert result.exit_code != 0  # type: ignore[attr-defined]
    assert f"{site / 'decoders' / 'bad.yaml'}:8 (rules[0].category): event.category 'login'" in result.output  # type: ignore[attr-defined]
    assert "1 decoder(s) valid, 1 error(s)" in result.output  # type: ignore[attr-defined]


def test_test_runs_the_samples(site: Path) -> None:
    result = run("test", str(site / "decoders" / "portal.yaml"))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "ok   portal (2/2)" in result.output and "0 failure(s)" in result.output  # type: ignore[attr-defined]
    wrong = GOOD.replace("user.name: juma", "user.name: asha")
    (site / "decoders" / "portal.yaml").write_text(wrong)
    failed = run("test", str(site / "decoders"))
    assert failed.exit_code != 0  # type: ignore[attr-defined]
    assert "FAIL portal (1/2)" in failed.output and "user.name is 'juma', expected 'asha'" in failed.output  # type: ignore[attr-defined]


def test_test_without_a_path_runs_the_configured_set(site: Path) -> None:
    result = run("test", config=site / "sentinel.yaml")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "ok   portal (2/2)" in result.output and "ok   postfix" in result.output  # type: ignore[attr-defined]
