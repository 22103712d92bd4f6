"""Email over SMTP (smtplib): plain, STARTTLS or implicit TLS, optional login; multipart text + HTML.

Each message carries ``Message-ID: <notice-id@sentinel>``, so a resend after a crash is the *same*
message to every mail system that deduplicates by Message-ID (mailbox servers such as Gmail and
Exchange do; plain MTAs do not). Follow-ups on one incident share ``References`` so mail clients
thread them. A 5xx reply is permanent; a 4xx reply, a refused connection or a timeout is retried.

``starttls`` and ``ssl`` verify the server's certificate and host name (``smtp.ca_file`` or the system's
CAs) before anything else is sent, and never fall back to plain text: a server that does not offer
STARTTLS gets no login and no message. A certificate we do not trust, a missing STARTTLS or a refused
login is retried, not dropped: it is the deployment's configuration (or a server being changed), not
something wrong with the notice, so once it is fixed the notices waiting in the outbox go out. Until
then each attempt fails with the cause in ``last_error``, and after ``notify.retry.max_attempts`` the
notice is ``dead`` and ``sentinel outbox retry`` sends it again.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from sentinel.config import SmtpSettings
from sentinel.notify.channels.base import DeliveryError, Sent
from sentinel.notify.notice import Attachment, Notice
from sentinel.store.base import Scope, Store

log = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "sentinel"


def message_id(notice_id: str) -> str:
    return f"<{notice_id}@{MESSAGE_ID_DOMAIN}>"


def thread_id(thread_key: str) -> str:
    return f"<incident-{thread_key}@{MESSAGE_ID_DOMAIN}>"


class EmailChannel:
    name = "email"

    def __init__(self, smtp: SmtpSettings, store: Store | None = None) -> None:
        self.smtp = smtp
        self.store = store  # where attachments are read from (e.g. a monthly report's PDF)

    def build_message(self, notice: Notice) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.smtp.sender
        msg["To"] = notice.recipient
        msg["Subject"] = notice.subject
        if notice.reply_to:
            msg["Reply-To"] = notice.reply_to
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = message_id(notice.id)
        if notice.thread_key:
            msg["References"] = thread_id(notice.thread_key)
            msg["In-Reply-To"] = thread_id(notice.thread_key)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the SOC
        msg["X-Sentinel-Notice"] = notice.id
        if notice.incident_id:
            msg["X-Sentinel-Incident"] = notice.incident_id
        msg.set_content(notice.text)
        if notice.html:
            msg.add_alternative(notice.html, subtype="html")
        for attachment in notice.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            msg.add_attachment(
                self._attachment_bytes(notice, attachment),
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        # After the body: set_content() clears every Content-* header, this one included.
        msg["Content-Language"] = notice.language
        return msg

    def _attachment_bytes(self, notice: Notice, attachment: Attachment) -> bytes:
        """The file's bytes from its document, checked against the hash the notice was queued with."""
        if self.store is None:
            raise DeliveryError("this email channel has no store to read attachments from", retryable=True)
        scope = Scope.institution(notice.institution_id) if notice.institution_id else Scope.everything()
        doc = self.store.get_document(attachment.collection, attachment.document_id, scope)
        if doc is None:
            raise DeliveryError(
                f"attachment {attachment.filename}: {attachment.collection}/{attachment.document_id} is missing",
                retryable=False,
            )
        try:
            data = base64.b64decode(str(doc.body.get("data", "")), validate=True)
        except ValueError as exc:
            raise DeliveryError(f"attachment {attachment.filename} is not valid base64", retryable=False) from exc
        if hashlib.sha256(data).hexdigest() != attachment.sha256:
            raise DeliveryError(f"attachment {attachment.filename} changed since it was queued", retryable=False)
        return data

    def _connect(self) -> smtplib.SMTP:
        s = self.smtp
        client: smtplib.SMTP
        if s.security == "ssl":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=tls_context(s))
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            client.ehlo()
            if s.security == "starttls":
                self._starttls(client)
            if s.username:
                client.login(s.username, s.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _starttls(self, client: smtplib.SMTP) -> None:
        where = f"SMTP {self.smtp.host}:{self.smtp.port}"
        # Checked here, not left to smtplib, so the refusal says what to fix; either way nothing
        # (login, message) is sent on a connection that STARTTLS did not secure.
        if not client.has_extn("starttls"):
            raise DeliveryError(
                f"{where} does not offer STARTTLS (security: starttls); nothing was sent in plain text",
                retryable=True,
            )
        try:
            client.starttls(context=tls_context(self.smtp))
        except smtplib.SMTPResponseException as exc:
            # Even a 5xx here is the server's set-up, not this notice: do not let it go dead.
            raise DeliveryError(
                f"{where} refused STARTTLS: {exc.smtp_code} {_text(exc.smtp_error)}", retryable=True
            ) from exc
        client.ehlo()  # RFC 3207: forget what the server said before TLS, ask again

    def send(self, notice: Notice, *, uncertain: bool) -> Sent:
        # SMTP cannot ask "did you already get this?": an uncertain resend relies on the Message-ID.
        if uncertain:
            log.info("resending email notice %s after an unrecorded attempt (same Message-ID)", notice.id)
        msg = self.build_message(notice)  # outside the try: a missing attachment is not an SMTP error
        try:
            with self._connect() as client:
                client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {_describe(exc.recipients)}", retryable=any(c < 500 for c in codes)
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            # The SOC's configuration, not this notice: keep it until the login is fixed.
            raise DeliveryError(f"SMTP login refused ({exc.smtp_code})", retryable=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP server replied {exc.smtp_code} {_text(exc.smtp_error)}", retryable=exc.smtp_code < 500
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"SMTP {self.smtp.host}:{self.smtp.port}: TLS certificate not trusted ({exc.verify_message}); "
                "set smtp.ca_file to the CA bundle that signed it, and smtp.host to a name the certificate holds",
                retryable=True,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, other TLS failure
            raise DeliveryError(
                f"SMTP {self.smtp.host}:{self.smtp.port}: {exc or type(exc).__name__}", retryable=True
            ) from exc
        return Sent(remote_id=message_id(notice.id))

    def close(self) -> None:
        return None


def tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    """Verifying TLS client context: ``smtp.ca_file`` replaces the system's CAs when set.

    Built for each connection, so a CA bundle replaced on disk is used without a restart.
    """
    return ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _describe(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {_text(text)}" for addr, (code, text) in recipients.items())


__all__ = ["EmailChannel", "message_id", "thread_id", "tls_context"]
