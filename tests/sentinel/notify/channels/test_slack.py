"""Slack through slack-sdk pointed at the local Slack Web API server: Block Kit, threads, retries, dedupe."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sentinel.config import Settings
from sentinel.events import format_timestamp, parse_timestamp
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.channels.slack import SlackChannel
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.notice import COLLECTION, Attempt, Notice, notice_writes
from sentinel.notify.outbox import Outbox
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.notify.conftest import NASTY_USER, Clock, open_incident, settings_for
from tests.support.slack_server import SlackServer


def _settings(tmp_path: Path, slack: SlackServer) -> Settings:
    return settings_for(tmp_path, slack={"token": slack.token, "base_url": slack.base_url, "channel": "#soc"})


def _setup(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner, slack: SlackServer
):  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path, slack)
    incident = open_incident(store, settings, clock, user=NASTY_USER)
    factory = NoticeFactory(settings, inventory, signer, clock=clock)
    outbox = Outbox(store, {"slack": SlackChannel(settings.slack, store)}, clock=clock)
    return settings, incident, factory, outbox


def _notice(store: SqliteStore, notice_id: str) -> Notice:
    doc = store.get_document(COLLECTION, notice_id, Scope.everything())
    assert doc is not None
    return Notice.model_validate(doc.body)


def test_block_kit_payload_and_threading(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner, slack: SlackServer
) -> None:
    _, incident, factory, outbox = _setup(tmp_path, store, clock, inventory, signer, slack)
    [opened] = factory.for_soc(incident, "incident_opened", "slack", reason="open")
    store.write_documents(notice_writes([opened]))
    assert outbox.deliver_due().delivered == 1
    clock.advance(minutes=5)
    [escalated] = factory.for_soc(
        incident, "incident_escalated", "slack", reason="esc", extra={"previous_severity": "medium"}
    )
    store.write_documents(notice_writes([escalated]))
    assert outbox.deliver_due().delivered == 1

    first, second = slack.posts()
    assert first.headers["authorization"] == f"Bearer {slack.token}"
    args = first.args
    assert args["channel"] == "#soc" and args["unfurl_links"] is False
    assert args["metadata"] == {
        "event_type": "sentinel_notice",
        "event_payload": {"notice_id": opened.id, "incident_id": incident.id},
    }
    [attachment] = args["attachments"]
    assert attachment["color"] == "#e8590c"  # high
    blocks = attachment["blocks"]
    assert blocks[0]["type"] == "section" and blocks[0]["text"]["type"] == "mrkdwn"
    assert blocks[0]["text"]["text"].startswith("*New incident*\nSSH brute force against {{ 7*7 }}&lt;script&gt;")
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[:3] == ["*Institution*\nMinistry of Health", "*Severity*\nHigh", "*Status*\nNew"]
    button = blocks[-1]["elements"][0]
    assert button["url"] == f"https://sentinel.example.go.tz/incidents/{incident.id}"
    # the attacker's <!channel> never reaches Slack unescaped, anywhere in the request
    assert "<!channel>" not in repr(args) and "&lt;!channel&gt;" in repr(args)

    # the follow-up is a reply in the first message's thread
    root = slack.messages[0]
    assert "thread_ts" not in first.args or first.args["thread_ts"] is None
    assert second.args["thread_ts"] == root.ts
    assert slack.messages[1].thread_ts == root.ts
    assert _notice(store, escalated.id).attempts[0].remote_id == slack.messages[1].ts


def test_ratelimited_and_server_errors_are_retried(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner, slack: SlackServer
) -> None:
    _, incident, factory, outbox = _setup(tmp_path, store, clock, inventory, signer, slack)
    [notice] = factory.for_soc(incident, "incident_opened", "slack")
    store.write_documents(notice_writes([notice]))

    slack.fail_next("chat.postMessage", 429, "ratelimited", retry_after=120)
    report = outbox.deliver_due()
    assert report.retrying == 1 and "ratelimited" in report.errors[0][1]
    waiting = _notice(store, notice.id)
    assert waiting.state == "failed"
    assert parse_timestamp(waiting.next_attempt_at) - clock() >= timedelta(seconds=120)  # Retry-After honoured

    clock.advance(seconds=60)
    assert outbox.deliver_due().handled == 0  # still waiting
    clock.advance(seconds=61)
    slack.fail_next("chat.postMessage", 500, "internal_error")
    slack.fail_next("chat.postMessage", 503, "service unavailable", json_body=False)
    assert outbox.deliver_due().retrying == 1
    clock.advance(hours=1)
    assert outbox.deliver_due().retrying == 1
    clock.advance(hours=1)
    assert outbox.deliver_due().delivered == 1

    done = _notice(store, notice.id)
    assert [a.outcome for a in done.attempts] == ["failed", "failed", "failed", "delivered"]
    assert [r.status for r in slack.posts()] == [429, 500, 503, 200]
    assert len(slack.messages) == 1


def test_permanent_error_and_max_attempts_make_it_dead(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner, slack: SlackServer
) -> None:
    settings, incident, factory, _ = _setup(tmp_path, store, clock, inventory, signer, slack)
    retry = settings.notify.retry.model_copy(update={"max_attempts": 2})
    outbox = Outbox(store, {"slack": SlackChannel(settings.slack, store)}, clock=clock, retry=retry)

    bad_channel = settings.model_copy(update={"slack": settings.slack.model_copy(update={"channel": "#nowhere"})})
    [lost] = NoticeFactory(bad_channel, inventory, signer, clock=clock).for_soc(incident, "incident_opened", "slack")
    store.write_documents(notice_writes([lost]))
    assert outbox.deliver_due().dead == 1  # channel_not_found: no retry can help
    assert _notice(store, lost.id).state == "dead" and "channel_not_found" in (_notice(store, lost.id).last_error or "")

    [flaky] = factory.for_soc(incident, "incident_update", "slack")
    store.write_documents(notice_writes([flaky]))
    slack.fail_next("chat.postMessage", 500, "internal_error")
    slack.fail_next("chat.postMessage", 500, "internal_error")
    assert outbox.deliver_due().retrying == 1
    clock.advance(hours=2)
    assert outbox.deliver_due().dead == 1  # second of at most 2 tries
    assert _notice(store, flaky.id).tries == 2
    status = outbox.status()
    assert status.counts["dead"] == 2 and {d["id"] for d in status.dead} == {lost.id, flaky.id}

    # an operator fixes things and retries: the notice goes out, history kept
    assert outbox.retry(flaky.id) == 1
    assert outbox.deliver_due().delivered == 1
    assert [a.outcome for a in _notice(store, flaky.id).attempts] == ["failed", "dead", "delivered"]


def test_uncertain_notice_is_not_posted_twice(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner, slack: SlackServer
) -> None:
    """A worker posted, then died before recording it: the next attempt finds the message instead."""
    settings, incident, factory, outbox = _setup(tmp_path, store, clock, inventory, signer, slack)
    [posted, never_sent] = [
        factory.for_soc(incident, "incident_opened", "slack", reason=r)[0]
        for r in ("crash-after-send", "crash-before-send")
    ]
    channel = SlackChannel(settings.slack, store)
    channel.send(posted, uncertain=False)  # it reached Slack ...
    dead_worker = Attempt(number=1, started_at=format_timestamp(clock()), worker="host:1:dead")  # ... never recorded
    for notice in (posted, never_sent):
        store.create_document(
            COLLECTION, notice.id, notice.model_copy(update={"attempts": [dead_worker], "tries": 1}).body()
        )
    clock.advance(minutes=10)  # the dead worker's claim has ended

    report = outbox.deliver_due()
    assert (report.already_delivered, report.delivered) == (1, 1)
    ids = [m.metadata["event_payload"]["notice_id"] for m in slack.messages if m.metadata]
    assert sorted(ids) == sorted([posted.id, never_sent.id])  # each exactly once
    assert [a.outcome for a in _notice(store, posted.id).attempts] == ["interrupted", "delivered"]
    reads = [r.api for r in slack.requests if r.api.startswith("conversations.")]
    assert reads  # it looked before posting


def test_incoming_webhook(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner, slack: SlackServer
) -> None:
    settings = settings_for(tmp_path, slack={"webhook_url": slack.webhook_url})
    incident = open_incident(store, settings, clock, user=NASTY_USER)
    [notice] = NoticeFactory(settings, inventory, signer, clock=clock).for_soc(incident, "incident_opened", "slack")
    store.write_documents(notice_writes([notice]))
    outbox = Outbox(store, {"slack": SlackChannel(settings.slack, store)}, clock=clock)
    slack.fail_next("webhook", 429, "rate limited", retry_after=5)
    assert outbox.deliver_due().retrying == 1
    clock.advance(minutes=5)
    assert outbox.deliver_due().delivered == 1
    [post] = slack.webhook_posts
    assert post["attachments"][0]["color"] == "#e8590c"
    assert "<!channel>" not in repr(post) and "&lt;!channel&gt;" in repr(post)
