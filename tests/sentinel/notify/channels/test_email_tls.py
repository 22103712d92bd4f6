"""Email over STARTTLS and implicit TLS: real aiosmtpd servers on loopback with certificates made
here (trustme), trusted through the ``smtp.ca_file`` setting, and a raw SMTP socket that records
every line a client sends when it must refuse to go on in plain text."""

from __future__ import annotations

import socketserver
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.channels.email import EmailChannel
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.notice import COLLECTION, Notice, notice_writes
from sentinel.notify.outbox import DeliveryReport, Outbox
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.conftest import free_port
from tests.sentinel.notify.conftest import Clock, Mailbox, open_incident, settings_for

LOGIN, PASSWORD = "sentinel@ega.go.tz", "c0rrect:horse battery%staple"
Mode = str  # "starttls" | "ssl", the value of smtp.security


# Certificates -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(tmp_path: Path, ca: trustme.CA) -> Path:
    path = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1", "localhost"))).configure_cert(ctx)
    return ctx


# Servers ----------------------------------------------------------------------------------


class TlsMailbox(Mailbox):
    """Also records the TLS version each accepted message travelled under and whether its session logged in."""

    def __init__(self) -> None:
        super().__init__()
        self.tls: list[str | None] = []
        self.authenticated: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        tls = server.transport.get_extra_info("ssl_object")
        with self.lock:
            self.tls.append(tls.version() if tls is not None else None)
            self.authenticated.append(bool(session.authenticated))
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Authenticator:
    """aiosmtpd ``authenticator=``: one account; records every attempt and whether it came over TLS."""

    attempts: list[tuple[str, bytes, bytes, bool]] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        over_tls = server.transport.get_extra_info("ssl_object") is not None
        self.attempts.append((mechanism, auth_data.login, auth_data.password, over_tls))
        ok = (auth_data.login, auth_data.password) == (LOGIN.encode(), PASSWORD.encode())
        return AuthResult(success=ok, handled=False)


@dataclass
class TlsSmtpServer:
    mode: Mode
    context: ssl.SSLContext
    port: int = field(default_factory=free_port)
    mailbox: TlsMailbox = field(default_factory=TlsMailbox)
    authenticator: Authenticator = field(default_factory=Authenticator)
    controller: Controller | None = None

    def start(self, **smtp_options: Any) -> TlsSmtpServer:
        if self.mode == "ssl":
            # TLS from the first byte (SMTPS). aiosmtpd offers AUTH over TLS only after STARTTLS, so
            # it is told TLS is not required; the authenticator records that the login came over TLS.
            tls: dict[str, Any] = {"ssl_context": self.context, "auth_require_tls": False}
        else:  # MAIL before STARTTLS is refused, so a delivery proves the upgrade happened
            tls = {"tls_context": self.context, "require_starttls": True}
        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.authenticator,
            **tls,
            **smtp_options,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def servers() -> Iterator[list[TlsSmtpServer]]:
    started: list[TlsSmtpServer] = []
    yield started
    for server in started:
        server.stop()


def serve(
    servers: list[TlsSmtpServer], mode: Mode, context: ssl.SSLContext, port: int | None = None, **options: Any
) -> TlsSmtpServer:
    server = TlsSmtpServer(mode, context, port or free_port()).start(**options)
    servers.append(server)
    return server


class RecordingSmtp(socketserver.ThreadingTCPServer):
    """A plain-text SMTP peer that would accept anything, even a login: it records each line it is sent.

    ``starttls``: None (not offered) or the reply to a STARTTLS command (offered, then refused).
    """

    daemon_threads = True

    def __init__(self, starttls: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.starttls = starttls
        self.lines: list[bytes] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def verbs(self) -> list[str]:
        return [line.split(b" ", 1)[0].strip().upper().decode() for line in self.lines]


class _RecordingHandler(socketserver.StreamRequestHandler):
    server: RecordingSmtp

    def handle(self) -> None:
        offers = b"250-STARTTLS\r\n" if self.server.starttls else b""
        self.wfile.write(b"220 plain.test ESMTP\r\n")
        while line := self.rfile.readline():
            self.server.lines.append(line)  # before replying: the client waits for the reply
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-plain.test\r\n" + offers + b"250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
            elif verb == b"STARTTLS":
                self.wfile.write(f"{self.server.starttls}\r\n".encode())
            elif verb == b"AUTH":
                self.wfile.write(b"235 2.7.0 accepted\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                while (body := self.rfile.readline()) not in (b".\r\n", b""):
                    self.server.lines.append(body)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def recording_smtp(request: pytest.FixtureRequest) -> Iterator[RecordingSmtp]:
    server = RecordingSmtp(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


# Notices ----------------------------------------------------------------------------------


def tls_settings(tmp_path: Path, mode: Mode, port: int, ca_file: Path, **smtp: Any) -> Settings:
    values = {"host": "127.0.0.1", "port": port, "security": mode, "ca_file": str(ca_file), "timeout": 5, **smtp}
    return settings_for(tmp_path, smtp={"sender": "soc@ega.go.tz", **values})


def enqueue_one(
    store: SqliteStore, settings: Settings, clock: Clock, inventory: Inventory, signer: AckSigner
) -> Notice:
    """One real notice in the outbox: the Swahili institution has a single contact."""
    incident = open_incident(store, settings, clock, institution="tra", ip="10.20.0.5")
    [notice] = NoticeFactory(settings, inventory, signer, clock=clock).for_institution(
        incident, "incident_opened", reason="tls-test"
    )
    store.write_documents(notice_writes([notice]))
    return notice


def deliver(store: SqliteStore, settings: Settings, clock: Clock) -> DeliveryReport:
    return Outbox(store, {"email": EmailChannel(settings.smtp)}, clock=clock).deliver_due()


def stored(store: SqliteStore, notice_id: str) -> Notice:
    [doc] = [d for d in store.find_documents(COLLECTION, Scope.everything()) if d.body["id"] == notice_id]
    return Notice.model_validate(doc.body)


MODES = pytest.mark.parametrize("mode", ["starttls", "ssl"])


# Tests ------------------------------------------------------------------------------------


@MODES
def test_delivery_over_tls_arrives_intact(
    tmp_path: Path,
    mode: Mode,
    ca: trustme.CA,
    ca_file: Path,
    servers: list[TlsSmtpServer],
    store: SqliteStore,
    clock: Clock,
    inventory: Inventory,
    signer: AckSigner,
) -> None:
    server = serve(servers, mode, server_context(ca))
    settings = tls_settings(tmp_path, mode, server.port, ca_file)
    notice = enqueue_one(store, settings, clock, inventory, signer)

    report = deliver(store, settings, clock)
    assert (report.delivered, report.retrying, report.dead) == (1, 0, 0)
    assert stored(store, notice.id).state == "delivered"
    [received] = server.mailbox.received
    assert server.mailbox.tls[0] in ("TLSv1.2", "TLSv1.3")
    assert received.mail_from == "soc@ega.go.tz" and received.rcpt_tos == ["tehama@tra.go.tz"]
    mail = received.message
    assert mail["Message-ID"] == f"<{notice.id}@sentinel>" and mail["Subject"] == notice.subject
    assert mail["Content-Language"] == "sw"
    # Exactly what was rendered (Swahili text, HTML) once the transfer encoding is undone; SMTP
    # carries lines ending in CRLF.
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.replace("\r\n", "\n") == notice.text and html.replace("\r\n", "\n") == notice.html


@MODES
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_login_over_tls_is_accepted(
    tmp_path: Path,
    mode: Mode,
    mechanism: str,
    ca: trustme.CA,
    ca_file: Path,
    servers: list[TlsSmtpServer],
    store: SqliteStore,
    clock: Clock,
    inventory: Inventory,
    signer: AckSigner,
) -> None:
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    server = serve(servers, mode, server_context(ca), auth_exclude_mechanism=[other])
    settings = tls_settings(tmp_path, mode, server.port, ca_file, username=LOGIN, password=PASSWORD)
    enqueue_one(store, settings, clock, inventory, signer)

    assert deliver(store, settings, clock).delivered == 1
    assert server.authenticator.attempts == [(mechanism, LOGIN.encode(), PASSWORD.encode(), True)]
    assert len(server.mailbox.received) == 1 and server.mailbox.authenticated == [True]


@MODES
def test_wrong_password_is_kept_for_retry(
    tmp_path: Path,
    mode: Mode,
    ca: trustme.CA,
    ca_file: Path,
    servers: list[TlsSmtpServer],
    store: SqliteStore,
    clock: Clock,
    inventory: Inventory,
    signer: AckSigner,
) -> None:
    server = serve(servers, mode, server_context(ca))
    settings = tls_settings(tmp_path, mode, server.port, ca_file, username=LOGIN, password="wrong")
    notice = enqueue_one(store, settings, clock, inventory, signer)

    assert deliver(store, settings, clock).retrying == 1
    after = stored(store, notice.id)
    assert after.state == "failed" and "SMTP login refused (535)" in (after.last_error or "")
    assert server.mailbox.received == []


@MODES
@pytest.mark.parametrize("wrong", ["another CA", "another name"])
def test_untrusted_certificate_is_refused_and_the_notice_kept(
    tmp_path: Path,
    mode: Mode,
    wrong: str,
    ca: trustme.CA,
    ca_file: Path,
    servers: list[TlsSmtpServer],
    store: SqliteStore,
    clock: Clock,
    inventory: Inventory,
    signer: AckSigner,
) -> None:
    other_ca = trustme.CA()
    if wrong == "another CA":  # right name, but signed by a CA the deployment does not trust
        context = server_context(other_ca)
    else:  # signed by the trusted CA, for a name that is not smtp.host
        context = server_context(ca, "mail.example.org")
    server = serve(servers, mode, context)
    settings = tls_settings(tmp_path, mode, server.port, ca_file, username=LOGIN, password=PASSWORD)
    notice = enqueue_one(store, settings, clock, inventory, signer)

    report = deliver(store, settings, clock)
    assert (report.retrying, report.dead, report.delivered) == (1, 0, 0)
    after = stored(store, notice.id)
    error = after.last_error or ""
    assert after.state == "failed" and after.next_attempt_at is not None
    assert f"SMTP 127.0.0.1:{server.port}: TLS certificate not trusted" in error and "smtp.ca_file" in error
    reason = (
        "unable to get local issuer certificate" if wrong == "another CA" else "mismatch, certificate is not valid for"
    )
    assert reason in error
    # Refused before anything was said to the server: no login, no message.
    assert server.authenticator.attempts == [] and server.mailbox.received == []

    # Fixed on either side (the deployment trusts the CA that really signed it; the server gets a
    # certificate for its name): the waiting notice goes out on its next try.
    if wrong == "another CA":
        other_ca.cert_pem.write_to_path(str(ca_file))
    else:
        server.stop()
        server = serve(servers, mode, server_context(ca), port=server.port)
    clock.advance(hours=1)
    assert deliver(store, settings, clock).delivered == 1
    assert [r.rcpt_tos for r in server.mailbox.received] == [["tehama@tra.go.tz"]]


@pytest.mark.parametrize(
    "recording_smtp",
    [None, "454 4.7.0 TLS not available due to temporary reason", "502 5.5.1 not implemented"],
    indirect=True,
    ids=["not-offered", "refused-4xx", "refused-5xx"],
)
def test_starttls_never_falls_back_to_plain_text(
    tmp_path: Path,
    recording_smtp: RecordingSmtp,
    ca_file: Path,
    store: SqliteStore,
    clock: Clock,
    inventory: Inventory,
    signer: AckSigner,
) -> None:
    settings = tls_settings(tmp_path, "starttls", recording_smtp.port, ca_file, username=LOGIN, password=PASSWORD)
    notice = enqueue_one(store, settings, clock, inventory, signer)

    report = deliver(store, settings, clock)
    assert (report.retrying, report.dead, report.delivered) == (1, 0, 0)  # even after a 5xx: our set-up
    after = stored(store, notice.id)
    expected = "does not offer STARTTLS" if recording_smtp.starttls is None else "refused STARTTLS"
    assert after.state == "failed" and expected in (after.last_error or "")
    # Everything the server was told: a greeting, perhaps the STARTTLS request. No login, no mail.
    assert recording_smtp.verbs() == (["EHLO"] if recording_smtp.starttls is None else ["EHLO", "STARTTLS"])
    assert not any(b"AUTH" in line or PASSWORD.encode() in line for line in recording_smtp.lines)
