"""Signed webhooks to a real HTTP receiver on loopback that verifies them as the docs say."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.channels.webhook import WebhookChannel, sign, verify_signature
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.notice import COLLECTION, notice_writes
from sentinel.notify.outbox import Outbox
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.notify.conftest import NASTY_USER, Clock, open_incident, settings_for

SECRET = "a-shared-secret-of-32-characters!"


class Receiver:
    """Another government system: verifies the signature first, dedupes by notice id."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.seen_ids: set[str] = set()
        self.rejected = 0
        self.statuses: dict[str, deque[int]] = {}  # scripted answers per path
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                queue = receiver.statuses.get(self.path)
                status = queue.popleft() if queue else None
                if status is None:
                    if not verify_signature(SECRET, self.headers.get("X-Sentinel-Signature", ""), body):
                        receiver.rejected += 1
                        status = 401
                    else:
                        notice_id = self.headers["X-Sentinel-Notice-Id"]
                        if notice_id not in receiver.seen_ids:
                            receiver.seen_ids.add(notice_id)
                            receiver.accepted.append(json.loads(body))
                        status = 202
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "30")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return self.at("/sentinel-hook")

    def at(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def test_signature_verification() -> None:
    body = b'{"a": 1}'
    header = sign(SECRET, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify_signature(SECRET, header, body, now=1_700_000_100)
    assert not verify_signature(SECRET, header, body + b" ", now=1_700_000_100)  # body changed
    assert not verify_signature("another-secret-of-enough-length", header, body, now=1_700_000_100)
    assert not verify_signature(SECRET, header, body, now=1_700_000_000 + 301)  # too old: replay
    assert not verify_signature(SECRET, "v1=abc", body)
    assert not verify_signature(SECRET, "t=x,v1=abc", body)


def test_signed_delivery_retries_and_permanent_refusal(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner, receiver: Receiver
) -> None:
    settings = settings_for(
        tmp_path,
        notify={
            "webhooks": {
                "govesb": {"url": receiver.at("/govesb"), "secret": SECRET},
                "legacy": {"url": receiver.at("/legacy"), "secret": "not-the-receivers-secret!"},
            }
        },
    )
    incident = open_incident(store, settings, clock, user=NASTY_USER)
    notices = NoticeFactory(settings, inventory, signer, clock=clock).for_soc(incident, "incident_opened", "webhook")
    assert sorted(n.recipient for n in notices) == ["govesb", "legacy"]
    store.write_documents(notice_writes(notices))
    outbox = Outbox(store, {"webhook": WebhookChannel(settings.notify)}, clock=clock)

    receiver.statuses["/govesb"] = deque([503])  # an outage at first
    first = outbox.deliver_due()
    assert (first.retrying, first.dead) == (1, 1), first
    assert receiver.rejected == 1  # the wrong secret: 401 -> dead
    clock.advance(hours=1)
    assert outbox.deliver_due().delivered == 1
    states = {d.body["recipient"]: d.body["state"] for d in store.find_documents(COLLECTION, Scope.everything())}
    assert states == {"govesb": "delivered", "legacy": "dead"}

    [payload] = receiver.accepted
    assert payload["type"] == "sentinel.incident_opened"
    assert payload["incident"]["id"] == incident.id and payload["incident"]["severity"] == "high"
    assert {"kind": "user", "value": NASTY_USER} in payload["incident"]["observables"]  # JSON keeps it as data


def test_receiver_dedupes_a_resend(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner, receiver: Receiver
) -> None:
    settings = settings_for(tmp_path, notify={"webhooks": {"govesb": {"url": receiver.url}}, "webhook_secret": SECRET})
    incident = open_incident(store, settings, clock)
    [notice] = NoticeFactory(settings, inventory, signer, clock=clock).for_soc(incident, "incident_opened", "webhook")
    channel = WebhookChannel(settings.notify)
    channel.send(notice, uncertain=False)
    channel.send(notice, uncertain=True)  # what a restart after a crash would send
    assert len(receiver.accepted) == 1


def test_unsigned_webhook_is_refused_by_the_settings(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="need a secret"):
        settings_for(tmp_path, notify={"webhooks": {"x": {"url": "http://127.0.0.1:1/"}}})
