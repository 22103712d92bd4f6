"""Report documents in the store's ``reports`` collection, and who may see which.

- ``<month>.<institution id>.v<version>`` (``2026-11.moh.v1``): an institution's report, owned by it,
  so an institution user's scope finds only its own; ``<month>.national.v<version>``: the national
  summary, owned by no institution, so only SOC roles see it.
- ``<report id>.pdf``: the PDF (base64 in ``data``), beside its report, with the same owner.

The id is deterministic (institution, month, version): making the same report twice finds the first
one, which is how a re-run sends nothing twice. ``version`` is the report format's version; a new
layout of the same month is a new version, never an overwrite.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from sentinel.store.base import DocumentWrite, FieldFilter, Scope, Store

COLLECTION = "reports"
VERSION = 1
PDF = "application/pdf"


class ReportFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    document_id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class ReportRecord(BaseModel):
    """The stored report: what it is, its figures (to render again), its PDF and who it went to."""

    model_config = ConfigDict(extra="ignore")

    id: str
    kind: Literal["institution", "national"]
    record: Literal["report"] = "report"
    institution_id: str | None
    month: str
    version: int
    language: Literal["en", "sw"]
    created_at: str
    # headline numbers, so lists and trends need not open the figures
    incidents: int
    score: float | None
    sla: float | None
    coverage: float | None
    pdf: ReportFile
    recipients: list[str] = []
    notice_ids: list[str] = []
    figures: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def report_id(month: str, institution_id: str | None, version: int = VERSION) -> str:
    return f"{month}.{institution_id or 'national'}.v{version}"


def file_write(report: str, filename: str, data: bytes, institution_id: str | None) -> tuple[DocumentWrite, ReportFile]:
    doc_id = f"{report}.pdf"
    meta = ReportFile(
        document_id=doc_id, filename=filename, content_type=PDF, size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    body = {"record": "file", "report_id": report, **meta.model_dump(), "data": base64.b64encode(data).decode("ascii")}
    return DocumentWrite(COLLECTION, doc_id, body, institution_id=institution_id), meta


def get_report(store: Store, report: str, scope: Scope) -> ReportRecord | None:
    doc = store.get_document(COLLECTION, report, scope)
    return ReportRecord.model_validate(doc.body) if doc is not None and doc.body.get("record") == "report" else None


def read_pdf(store: Store, record: ReportRecord, scope: Scope) -> bytes | None:
    """The report's PDF, checked against its hash; None outside the scope or when missing."""
    doc = store.get_document(COLLECTION, record.pdf.document_id, scope)
    if doc is None:
        return None
    data = base64.b64decode(str(doc.body.get("data", "")))
    return data if hashlib.sha256(data).hexdigest() == record.pdf.sha256 else None


def list_reports(
    store: Store,
    scope: Scope,
    *,
    month: str | None = None,
    kind: Literal["institution", "national"] | None = None,
    limit: int = 500,
) -> list[ReportRecord]:
    """The reports a principal may see, newest month first: all for SOC roles (``Scope.everything``),
    an institution's own for its users (``Scope.institution``); the store enforces the scope."""
    filters = [FieldFilter("record", "eq", "report")]
    if month is not None:
        filters.append(FieldFilter("month", "eq", month))
    if kind is not None:
        filters.append(FieldFilter("kind", "eq", kind))
    docs = store.find_documents(COLLECTION, scope, filters, sort="month", descending=True, limit=limit)
    return [ReportRecord.model_validate(d.body) for d in docs]
