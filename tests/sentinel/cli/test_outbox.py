"""``sentinel outbox status|retry|deliver`` in-process on a real configuration and SQLite store."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import load_settings
from sentinel.notify.notice import COLLECTION, new_notice
from sentinel.store import open_store
from sentinel.store.base import Scope


def _run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"SENTINEL_NOTIFY__RETRY__MAX_ATTEMPTS": "1"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_status_deliver_retry(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["init", str(tmp_path)]).exit_code == 0
    config = tmp_path / "sentinel.yaml"
    store = open_store(load_settings(config))
    notice = new_notice(id="n1", channel="webhook", recipient="govesb", subject="s", text="t")
    store.create_document(COLLECTION, notice.id, notice.body())
    store.close()

    status = orjson.loads(_run(config, "outbox", "status", "--json"))
    assert status["counts"]["pending"] == 1 and status["due_now"] == 1

    # no webhook is configured: the one allowed try fails and the notice is dead, with the reason
    assert "dead 1" in _run(config, "outbox", "deliver", "--once")
    status = orjson.loads(_run(config, "outbox", "status", "--json"))
    assert status["counts"]["dead"] == 1
    assert "not configured" in status["dead"][0]["last_error"]
    assert "n1" in _run(config, "outbox", "status")

    assert "1 notice(s) put back" in _run(config, "outbox", "retry")
    store = open_store(load_settings(config))
    doc = store.get_document(COLLECTION, "n1", Scope.everything())
    store.close()
    assert doc is not None and doc.body["state"] == "pending" and doc.body["tries"] == 0
    assert len(doc.body["attempts"]) == 1  # history kept
