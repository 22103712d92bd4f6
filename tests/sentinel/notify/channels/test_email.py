"""Email through a real aiosmtpd server on loopback, and the acknowledgement link end to end."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.incidents.service import IncidentService
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.channels.email import EmailChannel
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.notice import COLLECTION, Notice, notice_writes
from sentinel.notify.outbox import Outbox
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.notify.conftest import NASTY_USER, Clock, SmtpServer, open_incident, settings_for

ACK_LINK = re.compile(r"https://sentinel\.example\.go\.tz/ack/(\S+)")


def _smtp_settings(tmp_path: Path, smtp: SmtpServer):  # type: ignore[no-untyped-def]
    return settings_for(tmp_path, smtp={"host": "127.0.0.1", "port": smtp.port, "sender": "soc@ega.go.tz"})


def test_institution_email_and_ack_link_end_to_end(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, smtp: SmtpServer
) -> None:
    settings = _smtp_settings(tmp_path, smtp)
    incident = open_incident(store, settings, clock, user=NASTY_USER)
    # Real time for the links: the web app checks them against the real clock.
    factory = NoticeFactory(settings, inventory, AckSigner.from_data_dir(settings.resolved_data_dir()), clock=clock)
    notices = factory.for_institution(incident, "incident_opened", reason="test:opened")
    assert sorted(n.recipient for n in notices) == ["ict@moh.go.tz", "security@moh.go.tz"]  # not the manager
    store.write_documents(notice_writes(notices))

    report = Outbox(store, {"email": EmailChannel(settings.smtp)}, clock=clock).deliver_due()
    assert (report.delivered, report.retrying, report.dead) == (2, 0, 0)
    received = {r.rcpt_tos[0]: r for r in smtp.mailbox.received}
    assert set(received) == {"ict@moh.go.tz", "security@moh.go.tz"}

    by_recipient = {n.recipient: n for n in notices}
    mail = received["ict@moh.go.tz"].message
    assert mail["Message-ID"] == f"<{by_recipient['ict@moh.go.tz'].id}@sentinel>"
    assert mail["From"] == "soc@ega.go.tz" and mail["To"] == "ict@moh.go.tz"
    assert mail["Content-Language"] == "en"
    assert mail["References"] == f"<incident-{incident.id}@sentinel>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Subject"].startswith("[High] Security incident at Ministry of Health: SSH brute force against")
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # the attacker-chosen user name: literal in text, escaped in HTML
    assert NASTY_USER in text and "49<script>" not in text
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;!channel&gt;" in html
    assert "What to do now" in text and "203.0.113.9" in text

    # The link in the text part works through the real web app.
    token = ACK_LINK.search(text).group(1)  # type: ignore[union-attr]
    assert f'href="https://sentinel.example.go.tz/ack/{token}"' in html
    app = create_app(settings, store=store, inventory=inventory)
    service = IncidentService(store, settings, clock=clock)
    with TestClient(app) as client:
        page = client.get(f"/ack/{token}")
        assert page.status_code == 200
        assert '<form method="post">' in page.text and "ict@moh.go.tz" in page.text
        assert "&lt;script&gt;" in page.text and "<script>" not in page.text
        assert service.get(incident.id, Scope.everything()).state.value == "new"  # GET changed nothing

        done = client.post(f"/ack/{token}")
        assert done.status_code == 200 and "Incident acknowledged" in done.text
    after = service.get(incident.id, Scope.everything())
    assert after.state.value == "acknowledged"
    assert after.institution_acknowledged_by == "contact:ict@moh.go.tz"
    assert any(
        e.actor == "contact:ict@moh.go.tz" and e.field == "state"
        for e in service.audit(incident.id, Scope.everything())
    )

    # delivered once: nothing is due any more
    assert Outbox(store, {"email": EmailChannel(settings.smtp)}, clock=clock).deliver_due().handled == 0
    stored = [Notice.model_validate(d.body) for d in store.find_documents(COLLECTION, Scope.everything())]
    assert {n.state for n in stored} == {"delivered"} and all(len(n.attempts) == 1 for n in stored)


def test_swahili_institution_gets_swahili_email(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, smtp: SmtpServer, signer: AckSigner
) -> None:
    settings = _smtp_settings(tmp_path, smtp)
    incident = open_incident(store, settings, clock, institution="tra", ip="10.20.0.5")
    notices = NoticeFactory(settings, inventory, signer, clock=clock).for_institution(
        incident, "incident_opened", reason="r"
    )
    store.write_documents(notice_writes(notices))
    Outbox(store, {"email": EmailChannel(settings.smtp)}, clock=clock).deliver_due()
    [received] = smtp.mailbox.received
    mail = received.message
    assert received.rcpt_tos == ["tehama@tra.go.tz"]
    assert mail["Content-Language"] == "sw"
    assert mail["Subject"].startswith("[Juu] Tukio la usalama katika Mamlaka ya Mapato Tanzania")
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hatua za kuchukua sasa" in text and "Thibitisha kupokea" in text
    assert '<html lang="sw">' in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_smtp_temporary_and_permanent_refusals(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, smtp: SmtpServer, signer: AckSigner
) -> None:
    settings = _smtp_settings(tmp_path, smtp)
    incident = open_incident(store, settings, clock)
    notices = NoticeFactory(settings, inventory, signer, clock=clock).for_institution(
        incident, "incident_opened", reason="r"
    )
    store.write_documents(notice_writes(notices))
    outbox = Outbox(store, {"email": EmailChannel(settings.smtp)}, clock=clock)

    answers = {"ict@moh.go.tz": "451 4.3.0 try again later", "security@moh.go.tz": "554 5.7.1 rejected by policy"}
    smtp.mailbox.on_data = lambda envelope: answers.get(envelope.rcpt_tos[0])
    report = outbox.deliver_due()
    assert (report.retrying, report.dead, report.delivered) == (1, 1, 0)
    states = {d.body["recipient"]: d.body for d in store.find_documents(COLLECTION, Scope.everything())}
    assert states["security@moh.go.tz"]["state"] == "dead" and "554" in states["security@moh.go.tz"]["last_error"]
    assert states["ict@moh.go.tz"]["state"] == "failed" and "451" in states["ict@moh.go.tz"]["last_error"]

    smtp.mailbox.on_data = None
    assert outbox.deliver_due().handled == 0  # not due yet: backoff
    clock.advance(hours=1)
    assert outbox.deliver_due().delivered == 1
    assert [r.rcpt_tos for r in smtp.mailbox.received] == [["ict@moh.go.tz"]]


def test_smtp_down_is_retried_not_lost(
    tmp_path: Path, store: SqliteStore, clock: Clock, inventory: Inventory, signer: AckSigner
) -> None:
    server = SmtpServer()  # not started: connection refused
    settings = _smtp_settings(tmp_path, server)
    incident = open_incident(store, settings, clock)
    store.write_documents(
        notice_writes(
            NoticeFactory(settings, inventory, signer, clock=clock).for_institution(
                incident, "incident_opened", reason="r"
            )
        )
    )
    outbox = Outbox(store, {"email": EmailChannel(settings.smtp)}, clock=clock)
    assert outbox.deliver_due().retrying == 2
    server.start()
    try:
        clock.advance(hours=1)
        assert outbox.deliver_due().delivered == 2
        assert len(server.mailbox.received) == 2
    finally:
        server.stop()
