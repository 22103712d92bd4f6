"""SLA: targets per severity, due times, and the breaches the scheduled job escalates.

Targets (``settings.incidents.sla``) are counted from the moment the incident was opened. The
incident keeps its due times (``ack_due_at``, ``resolve_due_at``, recomputed when its severity
changes) and one flag per target that is set once a breach is recorded, so finding pending
breaches is one store query and escalating one twice is impossible:

1. ``find_breaches(store, settings, now)`` lists incidents past a target and not yet recorded;
2. ``IncidentService.record_breach(breach, actor=..., extra_writes=notices)`` records it (flag,
   ``sla_breaches`` entry, audit) together with the escalation notices, or does nothing if another
   worker recorded it first.

Time to acknowledge/resolve (``tta_seconds``/``ttr_seconds``) and breaches found at the moment of
acknowledging or resolving late are recorded by the service on the incident for the monthly report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sentinel.config import IncidentSettings, Settings
from sentinel.events import format_timestamp, parse_timestamp
from sentinel.incidents.model import COLLECTION, Incident, IncidentState, Severity, SlaKind
from sentinel.store.base import FieldFilter, Scope, Store

SlaSettings = IncidentSettings.Sla
MAX_BREACHES = 1000  # per call; the job runs again soon for the rest


def targets(sla: SlaSettings, severity: Severity) -> tuple[timedelta, timedelta]:
    """(acknowledge, resolve) targets for a severity."""
    return getattr(sla.acknowledge, severity.value), getattr(sla.resolve, severity.value)


def due_times(sla: SlaSettings, severity: Severity, opened_at: str) -> tuple[str, str]:
    ack, resolve = targets(sla, severity)
    opened = parse_timestamp(opened_at)
    return format_timestamp(opened + ack), format_timestamp(opened + resolve)


@dataclass(frozen=True, slots=True)
class Breach:
    incident_id: str
    institution_id: str | None
    title: str
    severity: Severity
    state: IncidentState
    kind: SlaKind
    due_at: str
    overdue_seconds: float


# Which states still count against each target.
_ACK_PENDING = [IncidentState.NEW.value]
_RESOLVE_PENDING = [
    s.value
    for s in (IncidentState.NEW, IncidentState.ACKNOWLEDGED, IncidentState.INVESTIGATING, IncidentState.CONTAINED)
]


def find_breaches(store: Store, settings: Settings, now: datetime) -> list[Breach]:
    """Incidents past a target and not yet recorded as breached, most overdue first. Reads only."""
    stamp = format_timestamp(now)
    found: list[Breach] = []
    for kind, states, due_field, flag in (
        ("acknowledge", _ACK_PENDING, "ack_due_at", "ack_breached"),
        ("resolve", _RESOLVE_PENDING, "resolve_due_at", "resolve_breached"),
    ):
        docs = store.find_documents(
            COLLECTION,
            Scope.everything(),
            [FieldFilter("state", "in", states), FieldFilter(due_field, "lt", stamp), FieldFilter(flag, "eq", False)],
            sort=due_field,
            limit=MAX_BREACHES,
        )
        for doc in docs:
            incident = Incident.model_validate(doc.body)
            due = getattr(incident, due_field)
            found.append(
                Breach(
                    incident_id=incident.id,
                    institution_id=incident.institution_id,
                    title=incident.title,
                    severity=incident.severity,
                    state=incident.state,
                    kind=kind,  # type: ignore[arg-type]
                    due_at=due,
                    overdue_seconds=(now - parse_timestamp(due)).total_seconds(),
                )
            )
    found.sort(key=lambda b: -b.overdue_seconds)
    return found


def still_pending(incident: Incident, kind: SlaKind) -> bool:
    """The target ``kind`` still counts against this incident in its current state."""
    states = _ACK_PENDING if kind == "acknowledge" else _RESOLVE_PENDING
    return incident.state.value in states
