"""The national summary for SOC managers: every institution side by side, ranked; 12-month trends;
the rules and ATT&CK techniques seen at the most institutions.

It is built from the institutions' figures of the month (computed in the same run, or read from
their stored reports) and, for the trend, from the incidents of each month and the institution
reports stored for the earlier months (a month without stored reports has no score in the trend).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sentinel.events import format_timestamp
from sentinel.incidents.model import COLLECTION as INCIDENTS
from sentinel.reports.figures import (
    SEVERITIES,
    InstitutionFigures,
    InstitutionRow,
    NationalFigures,
    Spread,
    TrendPoint,
)
from sentinel.reports.incident_figures import counted
from sentinel.reports.institution import Inputs, rule_names
from sentinel.reports.period import Month
from sentinel.reports.reads import in_window
from sentinel.reports.records import list_reports
from sentinel.store.base import FieldFilter, Scope, Store

TREND_MONTHS = 12
TOP_SPREAD = 10


def _rank_key(row: InstitutionRow) -> tuple[int, float, int, str]:
    # scored institutions first (best first), then the unscored; fewer serious incidents first
    return (row.score is None, -(row.score or 0.0), row.serious, row.name.lower())


def rows(figures: Sequence[InstitutionFigures]) -> list[InstitutionRow]:
    unranked = [
        InstitutionRow(
            institution_id=f.institution_id,
            name=f.institution_name,
            score=f.controls.score,
            previous_score=f.controls.previous_score,
            incidents=f.incidents.total,
            serious=sum(c.count for c in f.incidents.by_severity if c.key in ("critical", "high")),
            sla=f.sla.compliance,
            coverage=f.coverage.ratio,
            rank=0,
        )
        for f in figures
    ]
    ranked = sorted(unranked, key=_rank_key)
    return [r.model_copy(update={"rank": i}) for i, r in enumerate(ranked, start=1)]


def _spread(per_institution: Sequence[list[tuple[str, int]]]) -> list[Spread]:
    institutions: Counter[str] = Counter()
    alerts: Counter[str] = Counter()
    for pairs in per_institution:
        for key, count in pairs:
            institutions[key] += 1
            alerts[key] += count
    ranked = sorted(institutions, key=lambda k: (-institutions[k], -alerts[k], k))
    return [Spread(key=k, institutions=institutions[k], alerts=alerts[k]) for k in ranked[:TOP_SPREAD]]


def _pooled_sla(figures: Sequence[InstitutionFigures]) -> float | None:
    met = sum(f.sla.acknowledge.met + f.sla.resolve.met for f in figures)
    missed = sum(f.sla.acknowledge.missed + f.sla.resolve.missed for f in figures)
    return met / (met + missed) if met + missed else None


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def trend(store: Store, month: Month, tz: ZoneInfo, current: Sequence[InstitutionFigures]) -> list[TrendPoint]:
    points = []
    for m in month.last(TREND_MONTHS):
        window = in_window("created_at", m.start(tz), m.end(tz))
        incidents = store.count_documents(
            INCIDENTS, Scope.everything(), [*window, FieldFilter("state", "neq", "duplicate")]
        )
        if m == month:
            score, sla, reports = (
                _mean([f.controls.score for f in current]),
                _mean([f.sla.compliance for f in current]),
                len(current),
            )
        else:
            stored = list_reports(store, Scope.everything(), month=str(m), kind="institution", limit=100_000)
            score, sla, reports = _mean([r.score for r in stored]), _mean([r.sla for r in stored]), len(stored)
        points.append(TrendPoint(month=str(m), incidents=incidents, score=score, sla=sla, reports=reports))
    return points


def national_figures(
    inputs: Inputs,
    month: Month,
    figures: Sequence[InstitutionFigures],
    *,
    language: str,
    timezone: str,
    as_of: datetime,
) -> NationalFigures:
    tz = ZoneInfo(timezone)
    by_severity: Counter[str] = Counter()
    for f in figures:
        by_severity.update({c.key: c.count for c in f.incidents.by_severity})
    rules = _spread([[(c.key, c.count) for c in f.attacks.rules] for f in figures])
    return NationalFigures(
        month=str(month),
        language=language,  # type: ignore[arg-type]
        timezone=timezone,
        as_of=format_timestamp(as_of),
        institutions=rows(figures),
        trend=trend(inputs.store, month, tz, figures),
        rules=rules,
        techniques=_spread([[(c.key, c.count) for c in f.attacks.techniques] for f in figures]),
        rule_names=rule_names(inputs.rules, {r.key for r in rules}),
        incidents=sum(f.incidents.total for f in figures),
        by_severity=counted(by_severity, SEVERITIES),
        sla=_pooled_sla(figures),
        score=_mean([f.controls.score for f in figures]),
    )
