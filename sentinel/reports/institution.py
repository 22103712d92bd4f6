"""One institution's figures for one month, read in that institution's scope only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sentinel.detect.rulebook.controls import Catalogue
from sentinel.events import format_timestamp
from sentinel.incidents.sla import SlaSettings
from sentinel.inventory import Institution
from sentinel.reports import alert_figures as af
from sentinel.reports.actions import choose
from sentinel.reports.controls import Evidence, control_figures
from sentinel.reports.coverage import MAX_DATASETS, coverage_figures
from sentinel.reports.figures import AttackFigures, InstitutionFigures, RuleName
from sentinel.reports.incident_figures import counted, incident_figures, month_incidents, named, sla_figures
from sentinel.reports.period import Month
from sentinel.reports.rules import ReportRules
from sentinel.reports.scan_figures import scan_figures
from sentinel.store.base import EventQuery, Scope, Store

SILENCE_KIND = "silence"


@dataclass(frozen=True)
class Inputs:
    """What every report computation reads: the store, the rules, the control catalogue."""

    store: Store
    rules: ReportRules
    catalogue: Catalogue
    sla: SlaSettings = field(default_factory=SlaSettings)
    top: int = 5


def _datasets(store: Store, scope: Scope, start: datetime, end: datetime) -> frozenset[str]:
    buckets = store.terms(EventQuery(start=start, end=end), scope, "event.dataset", size=MAX_DATASETS)
    return frozenset(str(b.key) for b in buckets)


def rule_names(rules: ReportRules, rule_ids: set[str]) -> list[RuleName]:
    return [
        RuleName(rule_id=r, en=rules.name(r, "en"), sw=rules.name(r, "sw"), category=rules.category(r))
        for r in sorted(rule_ids)
    ]


def institution_figures(inputs: Inputs, institution: Institution, month: Month, as_of: datetime) -> InstitutionFigures:
    store, rules = inputs.store, inputs.rules
    tz = ZoneInfo(institution.timezone)
    scope = Scope.institution(institution.id)
    start, end = month.start(tz), month.end(tz)
    before = month.previous()
    p_start, p_end = before.start(tz), before.end(tz)

    incidents = month_incidents(store, scope, start, end)
    alerts = af.month_alerts(store, scope, start, end)
    previous_incidents = month_incidents(store, scope, p_start, p_end)
    previous_alerts = af.month_alerts(store, scope, p_start, p_end)

    sla = sla_figures(incidents, as_of, inputs.sla)
    accounts, hosts = named(incidents, inputs.top)
    by_rule = af.rules_seen(alerts)
    attacks = AttackFigures(
        alerts=len(alerts),
        events=sum(a.count for a in alerts),
        top_sources=af.top_sources(alerts, inputs.top),
        top_accounts=accounts,
        top_hosts=hosts,
        rules=counted(by_rule),
        techniques=counted(af.techniques_seen(alerts)),
    )
    silence_ids = {r.id for r in rules.by_id.values() if r.kind == SILENCE_KIND}
    coverage = coverage_figures(
        store, institution, month, as_of, silence_alerts=sum(n for r, n in by_rule.items() if r in silence_ids)
    )
    scans = scan_figures(store, scope, (start, end), (p_start, p_end))
    has_sources = bool(institution.expected_sources)
    controls = control_figures(
        inputs.catalogue,
        rules,
        Evidence(af.controls_breached(alerts), frozenset(c.key for c in coverage.by_dataset), has_sources, sla),
        Evidence(
            af.controls_breached(previous_alerts),
            _datasets(store, scope, p_start, p_end),
            has_sources,
            sla_figures(previous_incidents, as_of, inputs.sla),
        ),
    )
    incident_counts = incident_figures(incidents, rules)
    named_rules = (
        set(by_rule) | {i.rule_ids[0] for i in incidents if i.rule_ids} | {b.rule_id for b in sla.breaches if b.rule_id}
    )
    return InstitutionFigures(
        institution_id=institution.id,
        institution_name=institution.name,
        language=institution.language,
        timezone=institution.timezone,
        month=str(month),
        period_start=format_timestamp(start),
        period_end=format_timestamp(end),
        as_of=format_timestamp(as_of),
        incidents=incident_counts,
        sla=sla,
        attacks=attacks,
        scans=scans,
        coverage=coverage,
        controls=controls,
        actions=choose(incident_counts, sla, attacks, scans, coverage, controls),
        rules=rule_names(rules, named_rules),
    )
