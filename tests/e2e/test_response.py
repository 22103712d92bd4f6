"""Issue 4 end to end: real OpenSSH brute-force lines → detection → alert → brute-force playbook →
incident for the owning institution → a Swahili email to its contact (real SMTP server on loopback)
and a Slack message to the SOC (local Slack Web API server); the same lines again change nothing."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from collectors.normalize import Normalizer
from collectors.records import RawRecord
from playbooks.wiring import build_response
from sentinel.config import Settings
from sentinel.detect.alerts import load_alerts
from sentinel.detect.engine.runner import DetectionEngine
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack
from sentinel.inventory import Inventory, parse_inventory
from sentinel.notify.channels import build_channels
from sentinel.notify.outbox import Outbox
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument
from tests.conftest import free_port
from tests.support.slack_server import SlackServer

BRUTE_FORCE = "6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02"
INVENTORY = """\
institutions:
  - id: labsz
    name: Maabara ya LabSZ
    language: sw
    hostnames: [LabSZ]
    contacts:
      - {name: Afisa TEHAMA, email: tehama@labsz.go.tz, role: security}
"""


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer().start()
    yield server
    server.stop()


def _events(lines: list[bytes], inventory: Inventory) -> list[Any]:
    normalizer = Normalizer(inventory)
    received = datetime(2015, 12, 10, 12, 0, tzinfo=UTC).timestamp()
    return [
        normalizer.normalize(
            RawRecord(raw=line, received_at=received, origin=f"file:OpenSSH_2k.log:{i}", transport="file")
        )
        for i, line in enumerate(lines)
    ]


@pytest.mark.shared_data
def test_openssh_brute_force_to_swahili_email_and_slack_once(
    shared_data: Path, tmp_path: Path, smtp: tuple[int, Mailbox], slack: SlackServer
) -> None:
    port, mailbox = smtp
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "smtp": {"host": "127.0.0.1", "port": port, "sender": "sentinel@ega.go.tz"},
            "slack": {"token": slack.token, "channel": "#soc", "base_url": slack.base_url},
            "api": {"public_url": "https://sentinel.ega.go.tz"},
        }
    )
    inventory = parse_inventory(YamlDocument.parse(INVENTORY, "inventory.yaml"))
    lines = (shared_data / "loghub" / "OpenSSH_2k.log").read_bytes().splitlines(keepends=True)
    store = SqliteStore(tmp_path / "sentinel.db")
    store.setup()
    try:
        events = _events(lines, inventory)
        assert store.write_events(events).created == len(lines)
        first, last = min(e.timestamp for e in events), max(e.timestamp for e in events)
        end = last + timedelta(minutes=30)
        engine = DetectionEngine(store, load_rule_pack([builtin_rules_dir()], builtin=True), settings.detect, inventory)
        engine.run_all(first, [BRUTE_FORCE])
        assert not [r.error for r in engine.catch_up(end, [BRUTE_FORCE]) if r.error]
        alerts = load_alerts(store, Scope.everything(), [BRUTE_FORCE], limit=1000)
        sources = {a.group_key["source.ip"] for a in alerts}
        assert len(sources) >= 3 and all(a.institution_id == "labsz" for a in alerts)

        response = build_response(settings, store, inventory, clock=lambda: end)
        report = response.runner.process_new_alerts()
        assert (report.alerts, report.runs, report.failed) == (len(alerts), len(alerts), 0)
        outbox = Outbox(store, build_channels(settings, store))
        delivered = outbox.deliver_due()
        assert delivered.handled >= 2 * len(sources)

        # One incident per attacking address, owned by the institution of host LabSZ.
        incidents = response.incidents.list(Scope.everything(), limit=1000)
        assert sorted(i.key.split("source.ip=")[-1] for i in incidents) == sorted(sources)
        assert {i.institution_id for i in incidents} == {"labsz"}
        assert sorted(a for i in incidents for a in i.alert_ids) == sorted(a.id for a in alerts)
        assert all(any(e.step_key.startswith("tell-institution@") for e in i.timeline) for i in incidents)

        # The institution's contact: one email per incident, in Swahili, text and HTML, with the ack link.
        assert len(mailbox.messages) == len(incidents)
        message = mailbox.messages[0]
        assert message["To"] == "tehama@labsz.go.tz"
        assert "Tukio la usalama katika Maabara ya LabSZ" in str(message["Subject"])
        assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "https://sentinel.ega.go.tz/ack/" in text
        assert any(ip in text for ip in sources)

        # The SOC: one Slack message per incident in #soc, with Block Kit blocks.
        posts = slack.posts()
        assert len(posts) == len(incidents)
        assert {p.args.get("channel") for p in posts} == {"#soc"}
        assert all(p.args.get("blocks") or p.args.get("attachments") for p in posts)

        # The same lines again: duplicates everywhere, no new alert, incident or notice.
        state_before = {d.id: d.version for d in store.find_documents("incidents", Scope.everything(), limit=1000)}
        assert store.write_events(_events(lines, inventory)).created == 0
        again = engine.catch_up(end + timedelta(minutes=1), [BRUTE_FORCE])
        assert sum(r.alerts_created + r.alerts_updated for r in again) == 0
        assert response.runner.process_new_alerts().alerts == 0
        for alert in load_alerts(store, Scope.everything(), [BRUTE_FORCE], limit=1000):
            assert [r.status for r in response.runner.run_for_alert(alert).runs] == ["unchanged"]
        assert outbox.deliver_due().handled == 0
        assert {d.id: d.version for d in store.find_documents("incidents", Scope.everything(), limit=1000)} == (
            state_before
        )
        assert len(mailbox.messages) == len(incidents)
        assert len(slack.posts()) == len(incidents)
        print(
            f"\n{len(alerts)} alert(s), {len(incidents)} incident(s), {len(mailbox.messages)} email(s), "
            f"{len(posts)} Slack message(s) from {len(lines)} lines"
        )
    finally:
        store.close()
