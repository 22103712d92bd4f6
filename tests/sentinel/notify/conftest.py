"""Real parts for the notice tests: a SQLite store, incidents opened by the real service, an
aiosmtpd SMTP server and the local Slack server on loopback, and a hand-moved clock."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from sentinel.config import Settings
from sentinel.detect.alerts import Alert
from sentinel.events import format_timestamp, make_event_id, new_event
from sentinel.incidents.model import Incident
from sentinel.incidents.service import IncidentService
from sentinel.inventory import Inventory, parse_inventory
from sentinel.notify.ack import AckSigner
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument
from tests.conftest import free_port
from tests.support.slack_server import SlackServer

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
NASTY_USER = "{{ 7*7 }}<script>alert('x')</script><!channel>"

INVENTORY = """
institutions:
  - id: moh
    name: Ministry of Health
    language: en
    networks: [10.10.0.0/16]
    hostnames: [web01.moh.go.tz]
    contacts:
      - {name: ICT Officer, email: ict@moh.go.tz, role: ict_officer}
      - {name: Security Desk, email: security@moh.go.tz, role: security}
      - {name: Permanent Secretary, email: ps@moh.go.tz, role: manager}
  - id: tra
    name: Mamlaka ya Mapato Tanzania
    language: sw
    networks: [10.20.0.0/16]
    contacts:
      - {email: tehama@tra.go.tz, role: security}
"""


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "data" / "sentinel.db")
    s.setup()
    yield s
    s.close()


@pytest.fixture
def inventory() -> Inventory:
    return parse_inventory(YamlDocument.parse(INVENTORY, "inventory.yaml"))


@pytest.fixture
def signer(tmp_path: Path, clock: Clock) -> AckSigner:
    return AckSigner.from_data_dir(tmp_path / "data", clock=clock)


def open_incident(
    store: SqliteStore,
    settings: Settings,
    clock: Clock,
    *,
    institution: str = "moh",
    user: str = "root",
    ip: str = "203.0.113.9",
    n: int = 1,
) -> Incident:
    """A real incident: an event and an alert in the store, opened by the incident service."""
    stamp = format_timestamp(clock())
    event_id = make_event_id("notify-test", f"{institution}-{n}-{ip}-{user}")
    store.write_events(
        [
            new_event(
                event_id=event_id,
                timestamp=clock(),
                dataset="system.auth",
                fields={
                    "message": f"Failed password for {user} from {ip}",
                    "organization": {"id": institution},
                    "source": {"ip": ip},
                    "user": {"name": user},
                    "host": {"name": "web01.moh.go.tz"},
                },
            )
        ]
    )
    alert = Alert(
        id=f"alert-{institution}-{n}",
        rule_id="ssh_brute_force",
        rule_title="SSH brute force",
        rule_kind="sigma",
        severity="high",
        tags=["attack.credential_access"],
        institution_id=institution,
        group_key={"source.ip": ip},
        window_start=stamp,
        window_end=stamp,
        first_seen=stamp,
        last_seen=stamp,
        count=12,
        sample_event_ids=[event_id],
        created_at=stamp,
        updated_at=stamp,
    )
    store.create_document("alerts", alert.id, alert.model_dump(mode="json"), institution_id=institution)
    service = IncidentService(store, settings, clock=clock)
    incident, created = service.open_or_attach(
        alert,
        key=f"{institution}|source.ip={ip}|{n}",
        title=f"SSH brute force against {user} from {ip}",
        actor="playbook:test",
    )
    assert created
    return incident


# SMTP ------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.on_data: Any = None  # optional hook(envelope) called before accepting

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.on_data is not None:
            answer = self.on_data(envelope)
            if answer:
                return str(answer)
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer().start()
    yield server
    server.stop()


def settings_for(tmp_path: Path, **sections: Any) -> Settings:
    """Settings with the data dir in ``tmp_path`` and the given sections (plain dicts)."""
    data = {"data_dir": str(tmp_path / "data"), "api": {"public_url": "https://sentinel.example.go.tz"}, **sections}
    return Settings.model_validate(data)
