"""Log-source coverage: which of the institution's expected sources reported, on how many days,
how many days they were silent, and the month's events per dataset."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sentinel.inventory import Institution
from sentinel.reports.figures import Count, CoverageFigures, SourceCoverage
from sentinel.reports.period import Month
from sentinel.store.base import EventQuery, FieldFilter, Scope, Store

HOUR = 3600  # histogram buckets: whole hours fall inside one local day in every whole-hour time zone
MAX_DATASETS = 50


def source_query(start: datetime, end: datetime, dataset: str | None, host: str | None) -> EventQuery:
    """The same selection the silence rule makes: the dataset, and ``host.hostname`` when given."""
    filters = (FieldFilter("host.hostname", "eq", host),) if host else ()
    return EventQuery(start=start, end=end, datasets=(dataset,) if dataset else (), filters=filters)


def coverage_figures(
    store: Store,
    institution: Institution,
    month: Month,
    as_of: datetime,
    silence_alerts: int,
) -> CoverageFigures:
    tz = ZoneInfo(institution.timezone)
    scope = Scope.institution(institution.id)
    start, end = month.start(tz), month.end(tz)
    everything = EventQuery(start=start, end=end)
    days = month.local_days(tz, until=as_of)
    expected = []
    for source in institution.expected_sources:
        buckets = store.date_histogram(source_query(start, end, source.dataset, source.host), scope, HOUR)
        reporting = {b.start.astimezone(tz).date() for b in buckets if b.count}
        expected.append(
            SourceCoverage(
                name=source.name,
                dataset=source.dataset,
                host=source.host,
                events=sum(b.count for b in buckets),
                days_reporting=len(reporting),
                silent_days=sum(1 for d in days if d.date() not in reporting),
            )
        )
    by_dataset = store.terms(everything, scope, "event.dataset", size=MAX_DATASETS)
    return CoverageFigures(
        events=store.count_events(everything, scope),
        by_dataset=[Count(key=str(b.key), count=b.count) for b in by_dataset],
        expected=expected,
        silence_alerts=silence_alerts,
    )
