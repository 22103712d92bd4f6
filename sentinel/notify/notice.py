"""Notices: one message to one recipient on one channel, kept in the store's ``outbox``.

A notice is rendered completely when it is enqueued (subject, text, HTML, Slack blocks, webhook
payload), in the same ``write_documents`` call as the incident change that causes it, so the
delivery worker needs nothing but the notice itself. Its id is deterministic
(``make_notice_id``): enqueueing the same step for the same alert twice gives the same id, and
the second create is a ``ConflictError``, i.e. "already queued" -- idempotent by construction.

States: ``pending`` (not tried yet, or put back by ``outbox retry``), ``failed`` (the last
attempt failed; tried again at ``next_attempt_at``), ``delivered`` (final), ``dead`` (gave up,
or permanently refused; ``last_error`` says why).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from sentinel.events import format_timestamp
from sentinel.store.base import DocumentWrite

COLLECTION = "outbox"

ChannelName = Literal["email", "slack", "webhook"]
Language = Literal["en", "sw"]
NoticeState = Literal["pending", "delivered", "failed", "dead"]
AttemptOutcome = Literal["sending", "interrupted", "delivered", "failed", "dead"]


class Attempt(BaseModel):
    """One delivery attempt. ``sending`` is in progress; a later claim turns a ``sending`` left by a
    worker that died into ``interrupted`` (it may or may not have reached the channel)."""

    model_config = ConfigDict(extra="ignore")

    number: int
    started_at: str
    worker: str
    outcome: AttemptOutcome = "sending"
    finished_at: str | None = None
    error: str | None = None
    remote_id: str | None = None  # Slack ts, SMTP queue reply, HTTP status


class Attachment(BaseModel):
    """A file sent with a notice (email only). The bytes stay in their own document (``collection``/
    ``document_id``, field ``data`` in base64) so the outbox holds references, not megabytes; the
    channel reads it at delivery and checks ``sha256``."""

    model_config = ConfigDict(extra="ignore")

    filename: str
    content_type: str
    collection: str
    document_id: str
    size: int
    sha256: str


class Notice(BaseModel):
    """The stored notice (``outbox`` collection, owned by its institution when it has one)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    channel: ChannelName
    recipient: str  # email address, Slack channel (or "webhook" for an incoming webhook), webhook target name
    language: Language = "en"
    template: str = ""
    audience: Literal["institution", "soc"] = "soc"
    subject: str = ""
    text: str = ""
    html: str | None = None
    slack_blocks: list[dict[str, Any]] | None = None
    slack_color: str | None = None
    webhook_payload: dict[str, Any] | None = None
    incident_id: str | None = None
    institution_id: str | None = None
    thread_key: str | None = None  # follow-ups with the same key thread together (Slack, email References)
    title: str | None = None  # the incident's title as this notice showed it (its language)
    reply_to: str | None = None  # where a reply goes (the SOC contact), for institution emails
    attachments: list[Attachment] = []
    report_id: str | None = None  # a monthly report notice: the report it delivers
    state: NoticeState = "pending"
    attempts: list[Attempt] = []
    tries: int = 0  # attempts since creation or the last ``outbox retry``; bounded by the retry policy
    next_attempt_at: str = ""
    delivered_at: str | None = None
    last_error: str | None = None
    created_at: str = ""

    def uncertain(self) -> bool:
        """True when an earlier attempt may have reached the channel but was never recorded.

        That is an attempt still ``sending`` or ``interrupted``: its worker died (or lost the store)
        between the send and the write that records it.
        """
        return any(a.outcome in ("sending", "interrupted") for a in self.attempts)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def make_notice_id(*parts: Any) -> str:
    """A stable id from what makes a notice unique (template, incident, reason, channel, recipient)."""
    if not parts:
        raise ValueError("make_notice_id needs at least one part")
    canonical = orjson.dumps([p if isinstance(p, str | int | float | bool) or p is None else str(p) for p in parts])
    return hashlib.blake2b(canonical, digest_size=16, person=b"sentinel-nt1").hexdigest()


def new_notice(*, now: datetime | None = None, **fields: Any) -> Notice:
    """A pending notice, due now, with ``created_at`` set."""
    stamp = format_timestamp(now or datetime.now(UTC))
    return Notice.model_validate({"created_at": stamp, "next_attempt_at": stamp, **fields, "state": "pending"})


def notice_writes(notices: Iterable[Notice]) -> list[DocumentWrite]:
    """Creates for ``Store.write_documents``: put them LAST, after the change that causes them."""
    return [
        DocumentWrite(collection=COLLECTION, doc_id=n.id, body=n.body(), institution_id=n.institution_id)
        for n in notices
    ]
