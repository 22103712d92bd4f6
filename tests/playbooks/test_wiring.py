"""The jobs ``sentinel serve`` runs, on a real (not started) APScheduler and a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from playbooks.wiring import add_response_jobs, load_configured_playbooks, playbook_dirs
from sentinel.config import load_settings
from sentinel.detect.rulebook.pack import RulePack
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore
from tests.conftest import free_port
from tests.playbooks.support import Clock, make_settings, outbox, raise_alert
from tests.support.slack_server import SlackServer


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer().start()
    yield server
    server.stop()


def test_jobs_are_added_and_each_runs(
    tmp_path: Path, store: SqliteStore, inventory: Inventory, clock: Clock, slack: SlackServer
) -> None:
    # Loopback only: Slack is the local Slack API server; nothing listens on the SMTP port.
    settings = make_settings(
        tmp_path / "data",
        slack={"token": slack.token, "base_url": slack.base_url},
        smtp={"host": "127.0.0.1", "port": free_port(), "timeout": 2},
    )
    scheduler = BackgroundScheduler()
    ids = add_response_jobs(scheduler, settings, store, inventory, pack=RulePack())

    assert ids == ["response:playbooks", "response:escalations", "response:sla", "response:outbox"]
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert jobs["response:playbooks"].trigger.interval.total_seconds() == settings.playbooks.interval_seconds
    assert jobs["response:outbox"].trigger.interval.total_seconds() == settings.notify.poll_seconds
    raise_alert(store, clock)
    for job_id in ids:  # run each once, as the scheduler would; none raises
        jobs[job_id].func()
    notices = {n["channel"]: n for n in outbox(store)}  # the playbook job queued the brute-force notices
    assert notices["slack"]["state"] == "delivered"  # the outbox job ran after it
    assert notices["email"]["state"] == "failed"  # SMTP is down: retried later
    assert len(slack.posts()) == 1


def test_configured_folders_follow_the_library(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "extra.yaml").write_text("id: extra\ntitle: Extra\nsteps:\n  - action: open_incident\n")
    config = tmp_path / "sentinel.yaml"
    config.write_text("playbooks: {dirs: [mine], disabled: [default_high]}\n")
    settings = load_settings(config, environ={})
    dirs = playbook_dirs(settings)
    assert dirs[-1] == tmp_path / "mine"
    loaded = load_configured_playbooks(settings)
    assert "extra" in {p.id for p in loaded.playbooks}
    assert "default_high" not in {p.id for p in loaded.enabled(settings.playbooks.disabled)}
