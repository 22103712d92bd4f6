"""Who sees which report: SOC roles every one, an institution user only its own, nobody else the national."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.reports.records import COLLECTION, ReportRecord, file_write, get_report, list_reports, read_pdf, report_id
from sentinel.store.base import DocumentWrite, Scope
from sentinel.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "s.db")
    s.setup()
    yield s
    s.close()


def _report(store: SqliteStore, month: str, institution: str | None) -> None:
    rid = report_id(month, institution)
    file_doc, meta = file_write(rid, "r.pdf", b"%PDF-1.7 " + rid.encode(), institution)
    record = ReportRecord(
        id=rid,
        kind="institution" if institution else "national",
        institution_id=institution,
        month=month,
        version=1,
        language="en",
        created_at="2026-12-01T03:00:00.000Z",
        incidents=1,
        score=50.0,
        sla=None,
        coverage=None,
        pdf=meta,
        figures={},
    )
    store.write_documents([file_doc, DocumentWrite(COLLECTION, rid, record.body(), institution_id=institution)])


def test_reports_are_listed_within_the_scope(store: SqliteStore) -> None:
    for month in ("2026-10", "2026-11"):
        for institution in ("moh", "tra", None):
            _report(store, month, institution)
    everything = list_reports(store, Scope.everything())
    assert len(everything) == 6 and [r.month for r in everything][:3] == ["2026-11"] * 3  # newest month first
    mine = list_reports(store, Scope.institution("moh"))
    assert {r.id for r in mine} == {"2026-10.moh.v1", "2026-11.moh.v1"}
    assert list_reports(store, Scope.institution("moh"), kind="national") == []
    assert get_report(store, "2026-11.tra.v1", Scope.institution("moh")) is None
    assert get_report(store, "2026-11.national.v1", Scope.institution("moh")) is None
    record = get_report(store, "2026-11.moh.v1", Scope.institution("moh"))
    assert record is not None and read_pdf(store, record, Scope.institution("moh")) == b"%PDF-1.7 2026-11.moh.v1"
    assert read_pdf(store, record, Scope.institution("tra")) is None  # the file is the institution's too
    assert len(list_reports(store, Scope.everything(), month="2026-10", kind="institution")) == 2
