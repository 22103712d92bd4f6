"""Alerts: what a rule raises, and how re-runs update an alert instead of duplicating it.

An alert's id is a hash of (rule, institution, group key, alert window), where the alert window
is the epoch-aligned ``suppress`` (realert) period the matches fall in. Overlapping look-back
windows, re-runs and catch-up after an outage therefore all land on the same id: the engine
recomputes an alert window's figures from the events in the store and *merges* them (count =
the larger, first/last seen widened, sample ids unioned and bounded), so applying the same
result twice changes nothing. While an alert window lasts, new matches only update its count and
last-seen (suppression); the next window raises a new alert (realert).

Alerts live in the store's ``alerts`` collection, owned by their institution (scope). Writes
use optimistic concurrency: an analyst acknowledging an alert while the engine updates its count
is a conflict that the engine resolves by re-reading and re-merging, keeping the analyst's state.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson
from pydantic import BaseModel, ConfigDict

from sentinel.errors import ConflictError, NotFoundError
from sentinel.events import format_timestamp, from_millis
from sentinel.store.base import DocumentWrite, FieldFilter, Scope, Store

log = logging.getLogger(__name__)

COLLECTION = "alerts"
AlertState = Literal["open", "acknowledged", "closed", "resolved"]
Outcome = Literal["created", "updated", "unchanged"]
_CONFLICT_RETRIES = 5


def alert_id(rule_id: str, institution_id: str | None, group_key: dict[str, Any], window_start_ms: int) -> str:
    """Deterministic: the same rule, institution, key and window always give the same id."""
    canonical = orjson.dumps(
        [rule_id, institution_id, sorted((k, _plain(v)) for k, v in group_key.items()), window_start_ms]
    )
    return hashlib.blake2b(canonical, digest_size=16, person=b"sentinel-al1").hexdigest()


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


class Alert(BaseModel):
    """The stored alert document (``alerts`` collection)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    rule_id: str
    rule_title: str
    rule_kind: str
    severity: str
    description: str = ""
    tags: list[str] = []
    attack: list[str] = []  # attack.* tags
    controls: list[str] = []  # control ids, e.g. AUTH-02
    institution_id: str | None
    group_key: dict[str, Any] = {}
    window_start: str
    window_end: str
    first_seen: str
    last_seen: str
    count: int
    sample_event_ids: list[str] = []
    state: AlertState = "open"
    details: dict[str, Any] = {}
    created_at: str
    updated_at: str
    resolved_at: str | None = None

    def summary(self) -> str:
        key = ", ".join(f"{k}={v}" for k, v in self.group_key.items()) or "-"
        return (
            f"[{self.severity}] {self.rule_title} | {self.institution_id or 'unattributed'} | {key} | "
            f"count={self.count} | {self.first_seen} .. {self.last_seen} | {self.state}"
        )


@dataclass
class AlertCandidate:
    """What one rule run found for one (institution, key, alert window)."""

    rule_id: str
    rule_title: str
    rule_kind: str
    severity: str
    description: str
    tags: tuple[str, ...]
    attack: tuple[str, ...]
    controls: tuple[str, ...]
    institution_id: str | None
    group_key: dict[str, Any]
    window_start_ms: int
    window_end_ms: int
    first_seen_ms: int
    last_seen_ms: int
    count: int
    sample_event_ids: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    state: AlertState = "open"
    resolved_at_ms: int | None = None

    @property
    def id(self) -> str:
        return alert_id(self.rule_id, self.institution_id, self.group_key, self.window_start_ms)

    def to_alert(self, now: datetime, sample_limit: int) -> Alert:
        stamp = format_timestamp(now)
        return Alert(
            id=self.id,
            rule_id=self.rule_id,
            rule_title=self.rule_title,
            rule_kind=self.rule_kind,
            severity=self.severity,
            description=self.description,
            tags=list(self.tags),
            attack=list(self.attack),
            controls=list(self.controls),
            institution_id=self.institution_id,
            group_key=dict(self.group_key),
            window_start=_ts(self.window_start_ms),
            window_end=_ts(self.window_end_ms),
            first_seen=_ts(self.first_seen_ms),
            last_seen=_ts(self.last_seen_ms),
            count=self.count,
            sample_event_ids=list(dict.fromkeys(self.sample_event_ids))[:sample_limit],
            state=self.state,
            details=dict(self.details),
            created_at=stamp,
            updated_at=stamp,
            resolved_at=_ts(self.resolved_at_ms) if self.resolved_at_ms is not None else None,
        )


def _ts(ms: int) -> str:
    return format_timestamp(from_millis(ms))


def merge(existing: Alert, candidate: AlertCandidate, now: datetime, sample_limit: int) -> Alert | None:
    """The alert after applying a recomputed candidate, or None when nothing changes.

    Idempotent: merging the same candidate twice gives the same alert. The state an analyst set
    is kept; only a ``resolved`` candidate (a silent source that resumed) moves an open alert on.
    """
    new = candidate.to_alert(now, sample_limit)
    changes: dict[str, Any] = {}
    if new.count > existing.count:
        changes["count"] = new.count
    # format_timestamp output is fixed-width UTC, so these strings compare in time order
    if new.first_seen < existing.first_seen:
        changes["first_seen"] = new.first_seen
    if new.last_seen > existing.last_seen:
        changes["last_seen"] = new.last_seen
    samples = list(dict.fromkeys([*existing.sample_event_ids, *new.sample_event_ids]))[:sample_limit]
    if samples != existing.sample_event_ids:
        changes["sample_event_ids"] = samples
    details = {**existing.details, **new.details}
    if details != existing.details:
        changes["details"] = details
    if candidate.state == "resolved" and existing.state in ("open", "acknowledged"):
        changes["state"] = "resolved"
        changes["resolved_at"] = new.resolved_at
    if not changes:
        return None
    changes["updated_at"] = format_timestamp(now)
    return existing.model_copy(update=changes)


class AlertSink(Protocol):
    """Where a rule run's alerts go: the store (service) or memory (back-test, samples)."""

    def upsert(self, candidate: AlertCandidate) -> Outcome: ...

    def open_alerts(self, rule_id: str) -> list[Alert]: ...


class StoreAlertSink:
    """Alerts in the store's ``alerts`` collection, with optimistic concurrency."""

    def __init__(self, store: Store, *, sample_limit: int = 20, clock: Any = None) -> None:
        self.store = store
        self.sample_limit = sample_limit
        self._clock = clock or (lambda: datetime.now(UTC))

    def upsert(self, candidate: AlertCandidate) -> Outcome:
        doc_id = candidate.id
        for _ in range(_CONFLICT_RETRIES):
            now = self._clock()
            current = self.store.get_document(COLLECTION, doc_id, Scope.everything())
            if current is None:
                alert = candidate.to_alert(now, self.sample_limit)
                try:
                    self.store.create_document(
                        COLLECTION, doc_id, alert.model_dump(mode="json"), institution_id=candidate.institution_id
                    )
                except ConflictError:
                    continue  # created concurrently: merge into it
                log.info("alert %s raised: %s", doc_id, alert.summary())
                return "created"
            merged = merge(Alert.model_validate(current.body), candidate, now, self.sample_limit)
            if merged is None:
                return "unchanged"
            try:
                self.store.replace_document(
                    COLLECTION,
                    doc_id,
                    merged.model_dump(mode="json"),
                    expected_version=current.version,
                    institution_id=candidate.institution_id,
                )
            except (ConflictError, NotFoundError):
                continue  # an analyst or another runner changed it: re-read and merge again
            return "updated"
        raise ConflictError(f"alert {doc_id} kept changing; gave up after {_CONFLICT_RETRIES} attempts")

    def prepare(self, candidate: AlertCandidate) -> tuple[DocumentWrite | None, Outcome, Alert]:
        """The write ``upsert`` would make for the candidate now (None when nothing changes), for a
        caller that stores many together; if the batch meets a conflict, it falls back to ``upsert``."""
        doc_id = candidate.id
        now = self._clock()
        current = self.store.get_document(COLLECTION, doc_id, Scope.everything())
        if current is None:
            alert = candidate.to_alert(now, self.sample_limit)
            body = alert.model_dump(mode="json")
            return DocumentWrite(COLLECTION, doc_id, body, institution_id=candidate.institution_id), "created", alert
        existing = Alert.model_validate(current.body)
        merged = merge(existing, candidate, now, self.sample_limit)
        if merged is None:
            return None, "unchanged", existing
        write = DocumentWrite(
            COLLECTION,
            doc_id,
            merged.model_dump(mode="json"),
            institution_id=candidate.institution_id,
            expected_version=current.version,
        )
        return write, "updated", merged

    def open_alerts(self, rule_id: str) -> list[Alert]:
        docs = self.store.find_documents(
            COLLECTION,
            Scope.everything(),
            [FieldFilter("rule_id", "eq", rule_id), FieldFilter("state", "in", ["open", "acknowledged"])],
            limit=10_000,
        )
        return [Alert.model_validate(d.body) for d in docs]


class MemoryAlertSink:
    """Alerts kept in memory with the same merge rules: back-tests and rule samples store nothing."""

    def __init__(self, *, sample_limit: int = 20, clock: Any = None) -> None:
        self.sample_limit = sample_limit
        self.alerts: dict[str, Alert] = {}
        self._clock = clock or (lambda: datetime.now(UTC))

    def upsert(self, candidate: AlertCandidate) -> Outcome:
        now = self._clock()
        current = self.alerts.get(candidate.id)
        if current is None:
            self.alerts[candidate.id] = candidate.to_alert(now, self.sample_limit)
            return "created"
        merged = merge(current, candidate, now, self.sample_limit)
        if merged is None:
            return "unchanged"
        self.alerts[candidate.id] = merged
        return "updated"

    def open_alerts(self, rule_id: str) -> list[Alert]:
        return [a for a in self.alerts.values() if a.rule_id == rule_id and a.state in ("open", "acknowledged")]


def load_alerts(store: Store, scope: Scope, rule_ids: Iterable[str] = (), limit: int = 1000) -> list[Alert]:
    filters = [FieldFilter("rule_id", "in", list(rule_ids))] if rule_ids else []
    docs = store.find_documents(COLLECTION, scope, filters, sort="first_seen", descending=True, limit=limit)
    return [Alert.model_validate(d.body) for d in docs]
