"""Making and delivering monthly reports, each exactly once.

For one report (institution or national, month, version):

1. If its document exists, it was made: only make sure its notices are queued (a run killed between
   the report and its notices, on a store without transactions, left them out), and stop.
2. Otherwise read the figures, render HTML and PDF, and write the PDF, the report document and one
   notice per recipient in ONE ``write_documents`` call. On SQLite that is one transaction: a run
   killed before the commit leaves nothing, and the next run makes the report afresh; after the
   commit, the report exists and its notices are in the outbox, which delivers each once.
3. Two runs at once: the second create is a ``ConflictError``; it finds the first one's report.

The layout (HTML and PDF) comes from outside the core (``ReportRenderer``, built by the composition
root from ``dashboards.reports``): the core decides what the figures are and who gets them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sentinel.config import Settings
from sentinel.errors import ConflictError
from sentinel.events import format_timestamp
from sentinel.inventory import Institution, Inventory
from sentinel.notify.notice import COLLECTION as OUTBOX
from sentinel.notify.notice import Attachment, Notice, notice_writes
from sentinel.notify.report_notice import report_notices
from sentinel.notify.strings import lookup
from sentinel.reports import formats
from sentinel.reports.figures import InstitutionFigures, NationalFigures
from sentinel.reports.institution import Inputs, institution_figures
from sentinel.reports.national import national_figures
from sentinel.reports.period import Month, due_month
from sentinel.reports.records import COLLECTION, VERSION, ReportRecord, file_write, get_report, report_id
from sentinel.store.base import DocumentWrite, Scope

log = logging.getLogger(__name__)

Figures = InstitutionFigures | NationalFigures


class ReportRenderer(Protocol):
    """The layout: HTML for a report's figures (in the figures' language), and that HTML as a PDF."""

    def html(self, figures: Figures) -> str: ...

    def pdf(self, html: str) -> bytes: ...


@dataclass(frozen=True)
class Published:
    report_id: str
    created: bool  # False: it existed already (made by an earlier run)
    queued: int  # notices queued by this call


@dataclass
class RunSummary:
    month: str
    published: list[Published] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for p in self.published if p.created)

    @property
    def queued(self) -> int:
        return sum(p.queued for p in self.published)


class ReportPublisher:
    def __init__(
        self,
        inputs: Inputs,
        settings: Settings,
        inventory: Inventory,
        renderer: ReportRenderer,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.inputs = inputs
        self.store = inputs.store
        self.settings = settings
        self.inventory = inventory
        self.renderer = renderer
        self._clock = clock or (lambda: datetime.now(UTC))

    # figures (no writes) --------------------------------------------------------------------
    def institution_figures(self, institution: Institution, month: Month) -> InstitutionFigures:
        """The stored report's figures when it was made, else freshly read."""
        record = get_report(self.store, report_id(str(month), institution.id), Scope.everything())
        if record is not None:
            return InstitutionFigures.model_validate(record.figures)
        return institution_figures(self.inputs, institution, month, self._clock())

    def national_figures(self, month: Month, figures: Sequence[InstitutionFigures] | None = None) -> NationalFigures:
        if figures is None:
            figures = [self.institution_figures(i, month) for i in self.inventory]
        return national_figures(
            self.inputs,
            month,
            figures,
            language=self.settings.notify.soc_language,
            timezone=self.settings.timezone,
            as_of=self._clock(),
        )

    # publishing -----------------------------------------------------------------------------
    def institution_report(self, institution: Institution, month: Month) -> tuple[InstitutionFigures, Published]:
        rid = report_id(str(month), institution.id)
        existing = get_report(self.store, rid, Scope.everything())
        if existing is not None:
            return InstitutionFigures.model_validate(existing.figures), Published(rid, False, self._ensure(existing))
        figures = institution_figures(self.inputs, institution, month, self._clock())
        roles = set(self.settings.reports.recipient_roles)
        recipients = [c.email for c in institution.contacts if c.role in roles]
        if not recipients:
            log.warning("report %s: %s has no contact with a role in %s", rid, institution.id, sorted(roles))
        published = self._publish(rid, figures, institution.id, recipients, institution.language)
        return figures, published

    def national_report(
        self, month: Month, figures: Sequence[InstitutionFigures] | None = None
    ) -> tuple[NationalFigures, Published]:
        rid = report_id(str(month), None)
        existing = get_report(self.store, rid, Scope.everything())
        if existing is not None:
            return NationalFigures.model_validate(existing.figures), Published(rid, False, self._ensure(existing))
        national = self.national_figures(month, figures)
        published = self._publish(rid, national, None, self.settings.notify.soc_emails, national.language)
        return national, published

    def run_month(self, month: Month, institutions: Iterable[Institution] | None = None) -> RunSummary:
        """Every institution's report (or those given) and, for all of them, the national summary."""
        summary = RunSummary(str(month))
        chosen = list(self.inventory) if institutions is None else list(institutions)
        figures = []
        for institution in chosen:
            made, published = self.institution_report(institution, month)
            figures.append(made)
            summary.published.append(published)
        if institutions is None:
            summary.published.append(self.national_report(month, figures)[1])
        return summary

    def publish_due(self) -> RunSummary:
        """What the schedule runs: each institution's latest due month (its own time zone), and the
        national summary of the latest month due in the SOC's zone. Already made reports are skipped."""
        now = self._clock()
        day, hour = self.settings.reports.day, self.settings.reports.hour
        national_month = due_month(now, self.settings.tz, day=day, hour=hour)
        summary = RunSummary(str(national_month))
        for institution in self.inventory:
            month = due_month(now, ZoneInfo(institution.timezone), day=day, hour=hour)
            summary.published.append(self.institution_report(institution, month)[1])
        summary.published.append(self.national_report(national_month)[1])
        return summary

    # the one write ------------------------------------------------------------------------------
    def _publish(
        self, rid: str, figures: Figures, institution_id: str | None, recipients: Sequence[str], language: str
    ) -> Published:
        html = self.renderer.html(figures)
        pdf = self.renderer.pdf(html)
        name = institution_id or "national"
        file_doc, meta = file_write(rid, f"security-report-{name}-{figures.month}.pdf", pdf, institution_id)
        stale = self.store.get_document(COLLECTION, meta.document_id, Scope.everything())
        if stale is not None:  # a store without transactions kept a file whose report was never written
            file_doc = DocumentWrite(COLLECTION, meta.document_id, file_doc.body, institution_id, stale.version)
        record = ReportRecord(
            id=rid,
            kind=figures.kind,
            institution_id=institution_id,
            month=figures.month,
            version=VERSION,
            language=language,  # type: ignore[arg-type]
            created_at=format_timestamp(self._clock()),
            incidents=figures.incidents.total if isinstance(figures, InstitutionFigures) else figures.incidents,
            score=figures.controls.score if isinstance(figures, InstitutionFigures) else figures.score,
            sla=figures.sla.compliance if isinstance(figures, InstitutionFigures) else figures.sla,
            coverage=figures.coverage.ratio if isinstance(figures, InstitutionFigures) else None,
            pdf=meta,
            recipients=list(dict.fromkeys(recipients)),
            figures=figures.model_dump(mode="json"),
        )
        notices = self._notices(record)
        record.notice_ids = [n.id for n in notices]
        writes = [file_doc, DocumentWrite(COLLECTION, rid, record.body(), institution_id=institution_id)]
        try:
            self.store.write_documents([*writes, *notice_writes(notices)])  # the notices LAST
        except ConflictError:
            existing = get_report(self.store, rid, Scope.everything())
            if existing is None:
                raise
            log.info("report %s was made by another run meanwhile", rid)
            return Published(rid, False, self._ensure(existing))
        log.info("report %s made (%d bytes of PDF), %d notice(s) queued", rid, len(pdf), len(notices))
        return Published(rid, True, len(notices))

    def _notices(self, record: ReportRecord) -> list[Notice]:
        language = record.language
        figures = record.figures
        month = Month.parse(record.month)
        values = {
            "month": formats.month_name(month, language),
            "incidents": formats.number(record.incidents, language),
            "sla": formats.percent(record.sla, language, none=str(lookup(language, "report.no_score"))),
            "score": formats.percent(
                record.score / 100 if record.score is not None else None,
                language,
                none=str(lookup(language, "report.no_score")),
            ),
            "institution": str(figures.get("institution_name", "")),
            "institutions": formats.number(len(figures.get("institutions", [])), language),
        }
        attachment = Attachment(
            filename=record.pdf.filename,
            content_type=record.pdf.content_type,
            collection=COLLECTION,
            document_id=record.pdf.document_id,
            size=record.pdf.size,
            sha256=record.pdf.sha256,
        )
        return report_notices(
            report_id=record.id,
            kind=record.kind,
            institution_id=record.institution_id,
            recipients=record.recipients,
            language=language,
            values=values,
            attachment=attachment,
            reply_to=self.settings.notify.soc_contact.email if record.kind == "institution" else None,
            now=self._clock(),
        )

    def _ensure(self, record: ReportRecord) -> int:
        """Queue the report's notices that are not in the outbox; returns how many were missing."""
        queued = 0
        for notice in self._notices(record):
            if self.store.get_document(OUTBOX, notice.id, Scope.everything()) is not None:
                continue
            try:
                self.store.write_documents(notice_writes([notice]))
            except ConflictError:
                continue  # queued by another run at the same moment
            queued += 1
        if queued:
            log.warning("report %s: %d notice(s) were missing and are queued now", record.id, queued)
        return queued
