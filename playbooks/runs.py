"""Run records: which steps of which playbook ran for which alert, kept in the store.

One record per (playbook, alert), in the ``state`` collection (``kind: playbook_run``), owned by
the alert's institution. It is what makes a re-run a no-op (done steps are skipped), what
``require_approval`` waits on (``approvals``), and what the resume job retries. Writes are
compare-and-swap on the record's version, so two runners never both believe they ran a step.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sentinel.events import format_timestamp
from sentinel.store.base import Document, FieldFilter, Scope, Store

COLLECTION = "state"
KIND = "playbook_run"
RunStatus = Literal["done", "waiting", "failed"]


def run_id(playbook_id: str, alert_id: str) -> str:
    digest = hashlib.blake2b(f"{playbook_id}\x00{alert_id}".encode(), digest_size=16, person=b"sentinel-pbrun")
    return f"playbook-run:{digest.hexdigest()}"


class StepRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["done", "waiting", "skipped", "failed"]
    detail: str = ""
    at: str


class Approval(BaseModel):
    model_config = ConfigDict(extra="ignore")

    by: str
    at: str


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    kind: Literal["playbook_run"] = "playbook_run"
    playbook: str
    alert_id: str
    rule_id: str
    institution_id: str | None = None
    incident_id: str | None = None
    status: RunStatus = "done"
    waiting_step: str | None = None
    alert_updated_at: str = ""
    steps: dict[str, StepRecord] = {}
    approvals: dict[str, Approval] = {}
    data: dict[str, Any] = {}
    failures: int = 0  # runs that ended in a failed step; the resume job gives up after a few
    created_at: str
    updated_at: str
    version: str | None = Field(default=None, exclude=True)

    @classmethod
    def new(cls, playbook_id: str, alert_id: str, rule_id: str, institution_id: str | None, now: datetime) -> RunRecord:
        stamp = format_timestamp(now)
        return cls(
            id=run_id(playbook_id, alert_id),
            playbook=playbook_id,
            alert_id=alert_id,
            rule_id=rule_id,
            institution_id=institution_id,
            created_at=stamp,
            updated_at=stamp,
        )

    @classmethod
    def from_document(cls, doc: Document) -> RunRecord:
        return cls.model_validate(doc.body).model_copy(update={"version": doc.version})


class RunBook:
    """Reads and writes run records."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, playbook_id: str, alert_id: str) -> RunRecord | None:
        doc = self.store.get_document(COLLECTION, run_id(playbook_id, alert_id), Scope.everything())
        return RunRecord.from_document(doc) if doc is not None else None

    def save(self, record: RunRecord) -> RunRecord:
        """Create or compare-and-swap; ``ConflictError`` when another runner saved it first."""
        body = record.model_dump(mode="json")
        if record.version is None:
            doc = self.store.create_document(COLLECTION, record.id, body, institution_id=record.institution_id)
        else:
            doc = self.store.replace_document(
                COLLECTION, record.id, body, expected_version=record.version, institution_id=record.institution_id
            )
        return record.model_copy(update={"version": doc.version})

    def find(
        self,
        scope: Scope,
        *,
        incident_id: str | None = None,
        status: RunStatus | None = None,
        playbook: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        filters = [FieldFilter("kind", "eq", KIND)]
        if incident_id is not None:
            filters.append(FieldFilter("incident_id", "eq", incident_id))
        if status is not None:
            filters.append(FieldFilter("status", "eq", status))
        if playbook is not None:
            filters.append(FieldFilter("playbook", "eq", playbook))
        docs = self.store.find_documents(COLLECTION, scope, filters, sort="updated_at", limit=limit)
        return [RunRecord.from_document(d) for d in docs]
