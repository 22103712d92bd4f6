"""Incidents of the month: by severity, category and ATT&CK tactic; SLA targets met or missed;
the accounts and systems they named."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sentinel.events import format_timestamp, parse_timestamp
from sentinel.incidents.model import COLLECTION as INCIDENTS
from sentinel.incidents.model import Incident, IncidentState, Severity
from sentinel.incidents.sla import SlaSettings, targets
from sentinel.notify.evidence import HOST_IP_FIELDS, SOURCE_FIELDS
from sentinel.notify.responses import tactics_of
from sentinel.reports.figures import SEVERITIES, Breach, Count, IncidentFigures, SlaFigures, SlaTarget
from sentinel.reports.reads import documents, in_window
from sentinel.reports.rules import ReportRules
from sentinel.store.base import Scope, Store


def month_incidents(store: Store, scope: Scope, start: datetime, end: datetime) -> list[Incident]:
    """Incidents opened in the window, without those merged into another (state ``duplicate``)."""
    docs = documents(store, INCIDENTS, scope, in_window("created_at", start, end), sort="created_at")
    incidents = [Incident.model_validate(d.body) for d in docs]
    return [i for i in incidents if i.state is not IncidentState.DUPLICATE]


def counted(counter: Counter[str], order: Iterable[str] | None = None) -> list[Count]:
    """Counts in a fixed ``order`` (zeros kept), or most first (ties by key)."""
    if order is not None:
        return [Count(key=k, count=counter.get(k, 0)) for k in order]
    return [Count(key=k, count=n) for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def incident_figures(incidents: list[Incident], rules: ReportRules) -> IncidentFigures:
    severities = Counter(i.severity.value for i in incidents)
    categories = Counter(rules.category(i.rule_ids[0]) if i.rule_ids else "other" for i in incidents)
    tactics: Counter[str] = Counter()
    for incident in incidents:
        tactics.update(set(tactics_of(incident.tags)))
    still_open = [i for i in incidents if i.is_open]
    return IncidentFigures(
        total=len(incidents),
        by_severity=counted(severities, SEVERITIES),
        by_category=counted(categories),
        by_tactic=counted(tactics),
        open_at_end=len(still_open),
        open_serious=sum(1 for i in still_open if i.severity.value in ("critical", "high")),
    )


def _about(incident: Incident) -> str:
    for field in (*SOURCE_FIELDS, *HOST_IP_FIELDS):
        for ob in incident.observables:
            if ob.field == field:
                return ob.value
    hosts = [o.value for o in incident.observables if o.kind == "host"]
    return hosts[0] if hosts else "-"


def _judge(done_at: str | None, due_at: str, flagged: bool, as_of: str) -> str:
    """met / missed / pending for one target (fixed-width UTC strings compare in time order)."""
    if done_at is not None:
        return "missed" if done_at > due_at or flagged else "met"
    return "missed" if flagged or as_of >= due_at else "pending"


def sla_figures(incidents: list[Incident], as_of: datetime, sla: SlaSettings) -> SlaFigures:
    now = format_timestamp(as_of)
    ack, resolve = SlaTarget(), SlaTarget()
    breaches: list[Breach] = []
    for incident in incidents:
        for kind, target, done, due, flagged in (
            ("acknowledge", ack, incident.acknowledged_at, incident.ack_due_at, incident.ack_breached),
            ("resolve", resolve, incident.resolved_at, incident.resolve_due_at, incident.resolve_breached),
        ):
            verdict = _judge(done, due, flagged, now)
            setattr(target, verdict, getattr(target, verdict) + 1)
            if verdict == "missed":
                until = parse_timestamp(done) if done is not None else as_of
                breaches.append(
                    Breach(
                        incident_id=incident.id,
                        rule_id=incident.rule_ids[0] if incident.rule_ids else None,
                        about=_about(incident),
                        severity=incident.severity.value,
                        kind=kind,  # type: ignore[arg-type]
                        due_at=due,
                        done_at=done,
                        late_seconds=max(0.0, (until - parse_timestamp(due)).total_seconds()),
                    )
                )
    breaches.sort(key=lambda b: (-b.late_seconds, b.incident_id, b.kind))
    tta = [i.tta_seconds for i in incidents if i.tta_seconds is not None]
    ttr = [i.ttr_seconds for i in incidents if i.ttr_seconds is not None]
    goals = {s: targets(sla, Severity(s)) for s in SEVERITIES}
    return SlaFigures(
        ack_targets=[Count(key=s, count=int(goals[s][0].total_seconds())) for s in SEVERITIES],
        resolve_targets=[Count(key=s, count=int(goals[s][1].total_seconds())) for s in SEVERITIES],
        acknowledge=ack,
        resolve=resolve,
        median_ack_seconds=statistics.median(tta) if tta else None,
        median_resolve_seconds=statistics.median(ttr) if ttr else None,
        breaches=breaches,
    )


def named(incidents: list[Incident], top: int) -> tuple[list[Count], list[Count]]:
    """(accounts, systems): how many incidents named each, most first."""
    accounts: Counter[str] = Counter()
    hosts: Counter[str] = Counter()
    for incident in incidents:
        accounts.update({o.value for o in incident.observables if o.kind == "user"})
        hosts.update(
            {o.value for o in incident.observables if o.kind == "host"}
            | {o.value for o in incident.observables if o.kind == "ip" and o.field in HOST_IP_FIELDS}
        )
    return counted(accounts)[:top], counted(hosts)[:top]
