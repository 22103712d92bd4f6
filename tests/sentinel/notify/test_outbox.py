"""The outbox worker with real parts: atomic enqueue, claims between workers, SMTP outage + SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from sentinel.config import Settings
from sentinel.errors import ConflictError
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.channels.webhook import WebhookChannel
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.notice import COLLECTION, Notice, make_notice_id, notice_writes
from sentinel.notify.outbox import Outbox
from sentinel.store.base import DocumentWrite, Scope
from sentinel.store.sqlite import SqliteStore
from tests.conftest import PROJECT_ROOT, free_port
from tests.sentinel.notify.channels.test_webhook import SECRET, Receiver
from tests.sentinel.notify.conftest import Clock, SmtpServer, open_incident, settings_for
from tests.support.slack_server import SlackServer


def _notices(store: SqliteStore) -> dict[str, Notice]:
    return {
        d.id: Notice.model_validate(d.body) for d in store.find_documents(COLLECTION, Scope.everything(), limit=1000)
    }


def test_notice_ids_are_deterministic() -> None:
    assert make_notice_id("email", "incident_opened", "inc1", "r", "a@b.tz") == make_notice_id(
        "email", "incident_opened", "inc1", "r", "a@b.tz"
    )
    assert make_notice_id("email", "incident_opened", "inc1", "r", "a@b.tz") != make_notice_id(
        "email", "incident_opened", "inc1", "r2", "a@b.tz"
    )


def test_same_step_twice_queues_nothing_new_and_the_change_is_atomic(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner
) -> None:
    settings = settings_for(tmp_path)
    incident = open_incident(store, settings, clock)
    factory = NoticeFactory(settings, inventory, signer, clock=clock)
    first = factory.for_institution(incident, "incident_opened", reason="playbook:bf:notify:alert-moh-1")
    store.write_documents(notice_writes(first))
    again = factory.for_institution(incident, "incident_opened", reason="playbook:bf:notify:alert-moh-1")
    assert [n.id for n in again] == [n.id for n in first]
    change = DocumentWrite("state", "some-change", {"x": 1})
    with pytest.raises(ConflictError):
        store.write_documents([change, *notice_writes(again)])  # the notices LAST: already queued
    assert store.get_document("state", "some-change", Scope.everything()) is None  # nothing of it stayed
    assert len(_notices(store)) == 2


def test_notice_of_an_incident_that_was_never_saved_is_dead_not_sent(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner
) -> None:
    receiver = Receiver()
    try:
        settings = settings_for(tmp_path, notify={"webhooks": {"h": {"url": receiver.url}}, "webhook_secret": SECRET})
        incident = open_incident(store, settings, clock)
        ghost = incident.model_copy(update={"id": "inc-never-written"})
        [notice] = NoticeFactory(settings, inventory, signer, clock=clock).for_soc(ghost, "incident_opened", "webhook")
        store.write_documents(notice_writes([notice]))  # as an Elasticsearch partial write could leave it
        report = Outbox(store, {"webhook": WebhookChannel(settings.notify)}, clock=clock).deliver_due()
        assert report.dead == 1 and receiver.accepted == []
        assert "does not exist" in (_notices(store)[notice.id].last_error or "")
    finally:
        receiver.stop()


def test_two_workers_never_send_the_same_notice(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner
) -> None:
    receiver = Receiver()
    raw: Counter[str] = Counter()
    try:
        settings = settings_for(tmp_path, notify={"webhooks": {"h": {"url": receiver.url}}, "webhook_secret": SECRET})
        incident = open_incident(store, settings, clock)
        factory = NoticeFactory(settings, inventory, signer, clock=clock)
        notices = [
            n for i in range(30) for n in factory.for_soc(incident, "incident_update", "webhook", reason=f"r{i}")
        ]
        store.write_documents(notice_writes(notices))
        reports = []

        def work() -> None:
            outbox = Outbox(store, {"webhook": WebhookChannel(settings.notify)}, clock=clock)
            reports.append(outbox.deliver_due(limit=100))

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        raw.update(n["notice_id"] for n in receiver.accepted)
        assert sum(r.delivered for r in reports) == 30
        assert len(receiver.seen_ids) == 30 and len(receiver.accepted) == 30  # no request twice
        assert all(len(n.attempts) == 1 for n in _notices(store).values())
    finally:
        receiver.stop()


def _start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sentinel.cli", "--config", str(config), "outbox", "deliver", "--max-seconds", "90"],
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )


def _wait(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_smtp_outage_and_sigkill_during_delivery(tmp_path: Path, inventory: Inventory, clock: Clock) -> None:
    """SMTP down for a while; the worker SIGKILLed mid-Slack-post and mid-SMTP-DATA; each notice arrives once."""
    slack = SlackServer().start()
    smtp = SmtpServer(free_port())
    workers: list[subprocess.Popen[bytes]] = []
    data = tmp_path / "data"
    sections = {
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "timeout": 5},
        # By id: reading the channel back (dedupe) needs it, and no post has recorded it yet.
        "slack": {"token": slack.token, "base_url": slack.base_url, "channel": slack.channels["soc"]},
        "notify": {
            "retry": {"base_seconds": 0.2, "max_seconds": 0.5, "max_attempts": 100, "claim_seconds": 1.5},
            "poll_seconds": 0.1,
        },
    }
    config = tmp_path / "sentinel.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(data), **sections}))
    settings = Settings.model_validate({"data_dir": str(data), **sections})
    store = SqliteStore(data / "sentinel.db")
    store.setup()
    log = tmp_path / "workers.log"
    try:
        factory = NoticeFactory(settings, inventory, AckSigner.from_data_dir(data))  # real time: workers use it
        notices = []
        for n, institution in enumerate(("moh", "tra", "moh"), start=1):
            incident = open_incident(store, settings, clock, institution=institution, ip=f"10.9.0.{n}", n=n)
            notices += factory.for_institution(incident, "incident_opened", reason="opened")
            notices += factory.for_soc(incident, "incident_opened", "slack", reason="opened")
        store.write_documents(notice_writes(notices))
        emails = {n.id for n in notices if n.channel == "email"}
        slacks = {n.id for n in notices if n.channel == "slack"}
        assert len(emails) == 5 and len(slacks) == 3

        # 1. SMTP is down; the worker is killed while Slack holds its answer to a post it has stored.
        slack.hold_next_post()
        workers.append(_start_worker(config, log))
        _wait(slack.held.is_set, 30, "the first Slack post")
        workers[-1].send_signal(signal.SIGKILL)
        workers[-1].wait(10)
        slack.hold.set()

        # 2. SMTP comes back; the next worker is killed after sending DATA, before the 250 reply.
        held, release = threading.Event(), threading.Event()

        def hold_first(envelope: object) -> None:
            if not held.is_set():
                held.set()
                release.wait(20)  # the worker dies meanwhile; the server then accepts the message

        smtp.mailbox.on_data = hold_first
        smtp.start()
        workers.append(_start_worker(config, log))
        _wait(held.is_set, 30, "the first email DATA")
        workers[-1].send_signal(signal.SIGKILL)
        workers[-1].wait(10)
        release.set()

        # 3. A worker runs until everything is delivered.
        workers.append(_start_worker(config, log))
        _wait(lambda: all(n.state == "delivered" for n in _notices(store).values()), 60, "every notice delivered")
        workers[-1].send_signal(signal.SIGTERM)
        assert workers[-1].wait(20) == 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(10)
        smtp.stop()
        slack.stop()
        store.close()

    # Slack: every notice exactly once, including the one whose worker died mid-post.
    posted = Counter(m.metadata["event_payload"]["notice_id"] for m in slack.messages if m.metadata)
    assert posted == Counter(dict.fromkeys(slacks, 1)), (posted, log.read_text()[-3000:])
    # Email: every notice arrived; the only repeat is the message whose worker died between DATA and
    # the reply, and it repeats with the same Message-ID, so a deduplicating mailbox shows it once.
    by_message_id = Counter(r.message["Message-ID"] for r in smtp.mailbox.received)
    assert set(by_message_id) == {f"<{i}@sentinel>" for i in emails}
    assert sorted(by_message_id.values()) == [1, 1, 1, 1, 2]
