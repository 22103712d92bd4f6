"""The outbox worker: deliver due notices with retries, backoff and a claim, and record every attempt.

How one notice is delivered:

1. **Claim** it with compare-and-swap: the worker appends an attempt (``sending``) and moves
   ``next_attempt_at`` one claim period ahead, at the version it read. Another worker reading the
   same version gets a ``ConflictError`` and skips it, so two workers never send the same notice
   at the same time. A worker that dies holds the notice until the claim period ends.
2. **Send** it on its channel.
3. **Record** the outcome: ``delivered`` (once: a late second outcome never undoes it), or
   ``failed`` with the next attempt after an exponential backoff with jitter (at least the
   channel's ``Retry-After``), or ``dead`` after ``max_attempts`` tries or a permanent refusal.

What "exactly once" means, honestly, per channel. The store and the channel cannot share a
transaction, so a worker killed after the channel accepted a notice and before step 3 leaves an
attempt that may or may not have got through (``interrupted``). The next attempt knows this
(``Notice.uncertain``) and:

- **Slack (Web API)**: reads the channel (or the incident's thread) for a message whose
  ``metadata`` carries the notice id and posts only if there is none: exactly once, as long as
  the channel can be read (its id is known) and the message is among the last 200.
- **Email**: SMTP has no way to ask "did you get this?", so it sends again with the *same*
  ``Message-ID: <notice-id@sentinel>``: exactly once in a mailbox that deduplicates by
  Message-ID; otherwise the recipient can see the same message twice, only after such a crash.
- **Webhook**: sends again with the same ``X-Sentinel-Notice-Id``/``Idempotency-Key``: exactly
  once for a receiver that ignores ids it has processed (the documented contract).
- **Slack incoming webhook**: cannot be read back: at least once.

Every other failure (channel down, refused connection, 429, 5xx, timeouts) is recorded as a
failed attempt *before* anything reaches the recipient and is simply retried: no duplicates.

On Elasticsearch the notices of a change are written after it and stop at its first failure
(``Store.write_documents``), so a notice whose incident does not exist was never meant to be
sent: the worker marks it ``dead`` with that reason instead of delivering it.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel.config import NotifySettings
from sentinel.errors import ConflictError, NotFoundError, SentinelError
from sentinel.events import format_timestamp
from sentinel.notify.channels.base import Channel, DeliveryError, Sent
from sentinel.notify.notice import COLLECTION, Attempt, Notice, NoticeState
from sentinel.store.base import Document, FieldFilter, Scope, Store

log = logging.getLogger(__name__)

INCIDENTS = "incidents"
_FINISH_RETRIES = 10
_MAX_RETRY_AFTER = 24 * 3600.0
_MAX_ERROR = 500


@dataclass
class DeliveryReport:
    delivered: int = 0
    already_delivered: int = 0  # an interrupted earlier attempt had got through (found by dedupe)
    retrying: int = 0
    dead: int = 0
    skipped: int = 0  # claimed by another worker first
    errors: list[tuple[str, str]] = field(default_factory=list)  # (notice id, error) of this run

    @property
    def handled(self) -> int:
        return self.delivered + self.already_delivered + self.retrying + self.dead


@dataclass
class OutboxStatus:
    counts: dict[str, int]
    due_now: int
    in_flight: int  # claimed by a worker right now
    oldest_waiting: str | None  # created_at of the oldest notice not yet delivered or dead
    dead: list[dict[str, Any]]  # the most recent dead notices: id, channel, recipient, last_error


class Outbox:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        retry: NotifySettings.Retry | None = None,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        worker: str | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.policy = retry or NotifySettings.Retry()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()  # jitter, not security
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    # queueing -----------------------------------------------------------------------------
    def enqueue(self, notices: Iterable[Notice]) -> list[Notice]:
        """Queue notices on their own (not tied to a change); already queued ids are skipped.

        Notices caused by an incident change go in that change's ``write_documents`` call instead
        (``notice_writes``), so they exist exactly when the change does.
        """
        queued = []
        for notice in notices:
            try:
                self.store.create_document(COLLECTION, notice.id, notice.body(), institution_id=notice.institution_id)
            except ConflictError:
                log.debug("notice %s is already queued", notice.id)
                continue
            queued.append(notice)
        return queued

    # delivery -----------------------------------------------------------------------------
    def due(self, limit: int) -> list[Document]:
        now = format_timestamp(self._clock())
        filters = [FieldFilter("state", "in", ["pending", "failed"]), FieldFilter("next_attempt_at", "lte", now)]
        return self.store.find_documents(COLLECTION, Scope.everything(), filters, sort="next_attempt_at", limit=limit)

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        """Deliver up to ``limit`` due notices, oldest due first. Never raises for one bad notice."""
        report = DeliveryReport()
        for doc in self.due(limit):
            try:
                self._deliver(doc, report)
            except SentinelError as exc:  # the store failed mid-way: the claim expires, a later run retries
                log.error("outbox: notice %s not finished: %s", doc.id, exc)
                report.errors.append((doc.id, str(exc)))
        if report.handled or report.errors:
            log.info(
                "outbox: %d delivered, %d already delivered, %d to retry, %d dead, %d skipped",
                report.delivered,
                report.already_delivered,
                report.retrying,
                report.dead,
                report.skipped,
            )
        return report

    def run(self, stop: threading.Event, *, poll_seconds: float = 5.0, batch_size: int = 100) -> None:
        """Deliver until ``stop`` is set: a full batch goes straight on, otherwise wait ``poll_seconds``."""
        while not stop.is_set():
            report = self.deliver_due(batch_size)
            if report.handled + report.skipped < batch_size:
                stop.wait(poll_seconds)

    def _deliver(self, doc: Document, report: DeliveryReport) -> None:
        notice = Notice.model_validate(doc.body)
        uncertain = notice.uncertain()
        claimed = self._claim(doc, notice)
        if claimed is None:
            report.skipped += 1
            return
        number = claimed
        if notice.incident_id and self.store.get_document(INCIDENTS, notice.incident_id, Scope.everything()) is None:
            reason = f"incident {notice.incident_id} does not exist (its change was not saved): not sent"
            self._finish(notice.id, number, "dead", error=reason)
            report.dead += 1
            return
        channel = self.channels.get(notice.channel)
        try:
            if channel is None:
                raise DeliveryError(f"channel {notice.channel} is not configured", retryable=True)
            sent = channel.send(notice, uncertain=uncertain)
        except DeliveryError as exc:
            self._failed(notice, number, exc, report)
            return
        except Exception as exc:  # a bug in a channel must not stop the worker; retried like an outage
            log.exception("outbox: channel %s failed on notice %s", notice.channel, notice.id)
            self._failed(notice, number, DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True), report)
            return
        self._finish(notice.id, number, "delivered", sent=sent)
        if sent.already_delivered:
            report.already_delivered += 1
        else:
            report.delivered += 1

    def _claim(self, doc: Document, notice: Notice) -> int | None:
        now = self._clock()
        attempts = [
            a.model_copy(update={"outcome": "interrupted"}) if a.outcome == "sending" else a for a in notice.attempts
        ]
        number = len(attempts) + 1
        attempts.append(Attempt(number=number, started_at=format_timestamp(now), worker=self.worker))
        claimed = notice.model_copy(
            update={
                "attempts": attempts,
                "tries": notice.tries + 1,
                "next_attempt_at": format_timestamp(now + timedelta(seconds=self.policy.claim_seconds)),
            }
        )
        try:
            self.store.replace_document(
                COLLECTION,
                notice.id,
                claimed.body(),
                expected_version=doc.version,
                institution_id=notice.institution_id,
            )
        except (ConflictError, NotFoundError):
            return None  # another worker claimed it first (or it was retried/removed meanwhile)
        return number

    def _failed(self, notice: Notice, number: int, exc: DeliveryError, report: DeliveryReport) -> None:
        tries = notice.tries + 1
        final = not exc.retryable or tries >= self.policy.max_attempts
        error = str(exc)[:_MAX_ERROR]
        report.errors.append((notice.id, error))
        if final:
            why = "permanent error" if not exc.retryable else f"gave up after {tries} tries"
            log.warning(
                "outbox: notice %s (%s to %s) is dead, %s: %s", notice.id, notice.channel, notice.recipient, why, error
            )
            self._finish(notice.id, number, "dead", error=error)
            report.dead += 1
            return
        delay = self.backoff(tries, exc.retry_after)
        log.info("outbox: notice %s failed (try %d), next in %.1fs: %s", notice.id, tries, delay, error)
        self._finish(notice.id, number, "failed", error=error, delay=delay)
        report.retrying += 1

    def backoff(self, tries: int, retry_after: float | None = None) -> float:
        """Seconds before the next try: base·2^(tries-1) capped, minus up to ``jitter`` of it at random,
        and never less than what the channel asked for."""
        p = self.policy
        delay = min(p.max_seconds, p.base_seconds * (2 ** max(0, tries - 1)))
        delay *= 1.0 - p.jitter * self._rng.random()
        if retry_after is not None:
            delay = max(delay, min(retry_after, _MAX_RETRY_AFTER))
        return delay

    def _finish(
        self,
        notice_id: str,
        number: int,
        outcome: NoticeState,
        *,
        sent: Sent | None = None,
        error: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Record the attempt's outcome with CAS; on a conflict re-read and re-apply (bounded)."""
        for _ in range(_FINISH_RETRIES):
            current = self.store.get_document(COLLECTION, notice_id, Scope.everything())
            if current is None:
                log.warning("outbox: notice %s vanished before its outcome was recorded", notice_id)
                return
            updated = self._apply(Notice.model_validate(current.body), number, outcome, sent, error, delay)
            try:
                self.store.replace_document(
                    COLLECTION,
                    notice_id,
                    updated.body(),
                    expected_version=current.version,
                    institution_id=updated.institution_id,
                )
                return
            except ConflictError:
                continue  # someone else wrote (an overlapping worker, outbox retry): apply again
        raise ConflictError(f"outbox: notice {notice_id} kept changing; outcome {outcome} not recorded")

    def _apply(
        self, notice: Notice, number: int, outcome: NoticeState, sent: Sent | None, error: str | None, delay: float
    ) -> Notice:
        now = self._clock()
        stamp = format_timestamp(now)
        attempts = []
        for a in notice.attempts:
            if a.number == number and a.worker == self.worker:
                a = a.model_copy(
                    update={
                        "outcome": outcome,
                        "finished_at": stamp,
                        "error": error,
                        "remote_id": sent.remote_id if sent else None,
                    }
                )
            attempts.append(a)
        update: dict[str, Any] = {"attempts": attempts}
        if notice.state == "delivered":
            pass  # delivered is final: a late failure of an overlapping attempt only records itself
        elif outcome == "delivered":
            update |= {"state": "delivered", "delivered_at": stamp, "last_error": None}
        elif outcome == "dead":
            update |= {"state": "dead", "last_error": error}
        else:
            update |= {
                "state": "failed",
                "last_error": error,
                "next_attempt_at": format_timestamp(now + timedelta(seconds=delay)),
            }
        return notice.model_copy(update=update)

    # operations ---------------------------------------------------------------------------
    def status(self, scope: Scope | None = None) -> OutboxStatus:
        scope = scope or Scope.everything()
        counts = {
            state: self.store.count_documents(COLLECTION, scope, [FieldFilter("state", "eq", state)])
            for state in ("pending", "failed", "delivered", "dead")
        }
        now = format_timestamp(self._clock())
        waiting = [FieldFilter("state", "in", ["pending", "failed"])]
        due_now = self.store.count_documents(COLLECTION, scope, [*waiting, FieldFilter("next_attempt_at", "lte", now)])
        in_flight = 0
        for doc in self.store.find_documents(
            COLLECTION, scope, [*waiting, FieldFilter("next_attempt_at", "gt", now)], limit=1000
        ):
            in_flight += (
                Notice.model_validate(doc.body).attempts[-1:] != []
                and doc.body["attempts"][-1].get("outcome") == "sending"
            )
        oldest = self.store.find_documents(COLLECTION, scope, waiting, sort="created_at", limit=1)
        dead = self.store.find_documents(
            COLLECTION, scope, [FieldFilter("state", "eq", "dead")], sort="created_at", descending=True, limit=20
        )
        return OutboxStatus(
            counts=counts,
            due_now=due_now,
            in_flight=in_flight,
            oldest_waiting=oldest[0].body.get("created_at") if oldest else None,
            dead=[
                {
                    "id": d.id,
                    "channel": d.body.get("channel"),
                    "recipient": d.body.get("recipient"),
                    "incident_id": d.body.get("incident_id"),
                    "tries": d.body.get("tries"),
                    "last_error": d.body.get("last_error"),
                }
                for d in dead
            ],
        )

    def retry(self, notice_id: str | None = None) -> int:
        """Put a dead or failed notice (or all of them) back to ``pending``, due now, with a fresh
        try budget. The attempt history is kept. Returns how many were put back."""
        if notice_id is not None:
            doc = self.store.get_document(COLLECTION, notice_id, Scope.everything())
            if doc is None:
                raise NotFoundError(f"no notice {notice_id} in the outbox")
            if doc.body.get("state") not in ("dead", "failed"):
                raise SentinelError(
                    f"notice {notice_id} is {doc.body.get('state')}: only dead or failed notices can be retried"
                )
            docs = [doc]
        else:
            docs = self.store.find_documents(
                COLLECTION, Scope.everything(), [FieldFilter("state", "in", ["dead", "failed"])], limit=100_000
            )
        count = 0
        stamp = format_timestamp(self._clock())
        for doc in docs:
            notice = Notice.model_validate(doc.body)
            if _sending(notice):
                continue  # being sent right now
            again = notice.model_copy(update={"state": "pending", "tries": 0, "next_attempt_at": stamp})
            try:
                self.store.replace_document(
                    COLLECTION,
                    notice.id,
                    again.body(),
                    expected_version=doc.version,
                    institution_id=notice.institution_id,
                )
            except ConflictError:
                continue  # changed meanwhile (a worker got to it): leave it
            count += 1
        if count:
            log.info("outbox: %d notice(s) put back for delivery", count)
        return count


def _sending(notice: Notice) -> bool:
    """Claimed by a worker that has not recorded an outcome yet (or died: until the claim ends)."""
    return bool(notice.attempts) and notice.attempts[-1].outcome == "sending"
