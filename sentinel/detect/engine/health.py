"""Rule health: every run's duration, windows done, hits, errors and lag, per rule.

One document per rule in the ``rule_health`` collection (id = rule id) holds the last run and
running totals, so ``sentinel status``, the API and the SOC manager's board can show rules that
error, lag behind or have never run. Rules that could not even be loaded get a document too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from sentinel.errors import ConflictError, NotFoundError, RuleError
from sentinel.events import format_timestamp
from sentinel.store.base import DocumentWrite, FieldFilter, Scope, Store

log = logging.getLogger(__name__)

COLLECTION = "rule_health"
HealthStatus = Literal["ok", "error", "lagging", "never_run", "not_loaded"]


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one run of one rule did."""

    rule_id: str
    title: str
    started: datetime
    duration_ms: float
    windows_done: int
    matches: int = 0
    alerts_created: int = 0
    alerts_updated: int = 0
    error: str | None = None
    lag_seconds: float | None = None  # now - checkpoint after the run
    caught_up: bool = True


class RuleHealth(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rule_id: str
    title: str
    status: HealthStatus = "never_run"
    path: str | None = None
    last_run: str | None = None
    last_duration_ms: float | None = None
    last_windows: int = 0
    last_matches: int = 0
    last_alerts_created: int = 0
    last_alerts_updated: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    consecutive_errors: int = 0
    lag_seconds: float | None = None
    runs: int = 0
    errors: int = 0
    windows: int = 0
    matches: int = 0
    alerts_created: int = 0


def status_of(report: RunReport, lag_limit_seconds: float) -> HealthStatus:
    if report.error is not None:
        return "error"
    if report.lag_seconds is not None and report.lag_seconds > lag_limit_seconds:
        return "lagging"
    return "ok"


class HealthRecorder:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, report: RunReport, *, lag_limit_seconds: float, path: str | None = None) -> RuleHealth:
        for _ in range(5):
            doc = self.store.get_document(COLLECTION, report.rule_id, Scope.everything())
            old = RuleHealth.model_validate(doc.body) if doc else RuleHealth(rule_id=report.rule_id, title=report.title)
            new = _apply(old, report, lag_limit_seconds, path)
            try:
                body = new.model_dump(mode="json")
                if doc is None:
                    self.store.create_document(COLLECTION, report.rule_id, body)
                else:
                    self.store.replace_document(COLLECTION, report.rule_id, body, expected_version=doc.version)
                return new
            except (ConflictError, NotFoundError):
                continue
        log.warning("could not record health of rule %s: kept conflicting", report.rule_id)
        return new

    def record_all(self, runs: Sequence[tuple[RunReport, float, str | None]]) -> None:
        """Record many runs (report, lag limit, path) with one read and one write of their documents.

        Used after a step of many rules; if the batch meets a conflict (a concurrent writer), each
        run is recorded on its own with ``record``, which re-reads and retries."""
        if not runs:
            return
        ids = [report.rule_id for report, _, _ in runs]
        if len(set(ids)) != len(ids):
            raise ValueError("record_all takes one run per rule")
        docs = {
            d.id: d
            for d in self.store.find_documents(
                COLLECTION, Scope.everything(), [FieldFilter("rule_id", "in", ids)], limit=len(ids)
            )
        }
        writes = []
        for report, lag_limit, path in runs:
            doc = docs.get(report.rule_id)
            old = RuleHealth.model_validate(doc.body) if doc else RuleHealth(rule_id=report.rule_id, title=report.title)
            body = _apply(old, report, lag_limit, path).model_dump(mode="json")
            version = doc.version if doc else None
            writes.append(DocumentWrite(COLLECTION, report.rule_id, body, expected_version=version))
        try:
            self.store.write_documents(writes)
        except (ConflictError, NotFoundError):
            for report, lag_limit, path in runs:
                self.record(report, lag_limit_seconds=lag_limit, path=path)

    def record_load_errors(self, errors: list[RuleError], now: datetime) -> None:
        """A rule file that did not load is a health problem too: one document per file and reason."""
        for error in errors:
            where = error.location.path if error.location else "<unknown>"
            key = "load:" + hashlib.blake2b(where.encode(), digest_size=8).hexdigest()
            body = RuleHealth(
                rule_id=key,
                title=where,
                status="not_loaded",
                path=where,
                last_error=str(error),
                last_error_at=format_timestamp(now),
            ).model_dump(mode="json")
            doc = self.store.get_document(COLLECTION, key, Scope.everything())
            try:
                if doc is None:
                    self.store.create_document(COLLECTION, key, body)
                elif doc.body.get("last_error") != body["last_error"]:
                    self.store.replace_document(COLLECTION, key, body, expected_version=doc.version)
            except (ConflictError, NotFoundError):
                log.debug("health of %s changed concurrently", key)

    def all(self) -> list[RuleHealth]:
        docs = self.store.find_documents(COLLECTION, Scope.everything(), limit=100_000)
        return [RuleHealth.model_validate(d.body) for d in docs]


def _apply(old: RuleHealth, report: RunReport, lag_limit_seconds: float, path: str | None) -> RuleHealth:
    changes: dict[str, Any] = {
        "title": report.title,
        "status": status_of(report, lag_limit_seconds),
        "last_run": format_timestamp(report.started),
        "last_duration_ms": round(report.duration_ms, 3),
        "last_windows": report.windows_done,
        "last_matches": report.matches,
        "last_alerts_created": report.alerts_created,
        "last_alerts_updated": report.alerts_updated,
        "lag_seconds": report.lag_seconds,
        "runs": old.runs + 1,
        "windows": old.windows + report.windows_done,
        "matches": old.matches + report.matches,
        "alerts_created": old.alerts_created + report.alerts_created,
    }
    if path is not None:
        changes["path"] = path
    if report.error is not None:
        changes.update(
            last_error=report.error,
            last_error_at=format_timestamp(report.started),
            consecutive_errors=old.consecutive_errors + 1,
            errors=old.errors + 1,
        )
    else:
        changes["consecutive_errors"] = 0
    return old.model_copy(update=changes)
