"""How one change edits an incident: pure functions on an incident copy that return the changes
made (for the audit trail). The service reads, applies one of these and compare-and-swaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sentinel.errors import ConflictError, SentinelError
from sentinel.events import format_timestamp, parse_timestamp
from sentinel.incidents.audit import Change
from sentinel.incidents.model import Incident, IncidentState, Severity, SlaBreach
from sentinel.incidents.sla import SlaSettings, due_times

MAX_COMMENT_LENGTH = 10_000
_FINAL = (IncidentState.CLOSED, IncidentState.FALSE_POSITIVE, IncidentState.DUPLICATE)


def enter_state(incident: Incident, target: IncidentState, actor: str, now: datetime, note: str | None) -> list[Change]:
    stamp = format_timestamp(now)
    changes = [Change("transition", "state", incident.state.value, target.value, note)]
    incident.state = target
    if incident.acknowledged_at is None:
        # Any triage out of "new" (acknowledge, false positive, duplicate) stops the ack clock.
        changes += acknowledged(incident, actor, now)
    if target in (IncidentState.RESOLVED, IncidentState.FALSE_POSITIVE):
        changes.append(Change("transition", "resolved_at", incident.resolved_at, stamp))
        incident.resolved_at = stamp
        ttr = seconds(incident.created_at, now)
        changes.append(Change("transition", "ttr_seconds", incident.ttr_seconds, ttr))
        incident.ttr_seconds = ttr
        changes += _late(incident, "resolve", now)
    elif target is IncidentState.CLOSED:
        changes.append(Change("transition", "closed_at", incident.closed_at, stamp))
        incident.closed_at = stamp
    elif target is IncidentState.INVESTIGATING and incident.resolved_at is not None:
        changes.append(Change("transition", "resolved_at", incident.resolved_at, None, "reopened"))
        incident.resolved_at = None
    return changes


def acknowledged(incident: Incident, actor: str, now: datetime) -> list[Change]:
    stamp = format_timestamp(now)
    tta = seconds(incident.created_at, now)
    changes = [
        Change("acknowledge", "acknowledged_at", None, stamp),
        Change("acknowledge", "acknowledged_by", None, actor),
        Change("acknowledge", "tta_seconds", None, tta),
    ]
    incident.acknowledged_at, incident.acknowledged_by, incident.tta_seconds = stamp, actor, tta
    return changes + _late(incident, "acknowledge", now)


def apply_severity(incident: Incident, severity: Severity, sla: SlaSettings) -> list[Change]:
    ack_due, resolve_due = due_times(sla, severity, incident.created_at)
    changes = [
        Change("severity", "severity", incident.severity.value, severity.value),
        Change("severity", "ack_due_at", incident.ack_due_at, ack_due),
        Change("severity", "resolve_due_at", incident.resolve_due_at, resolve_due),
    ]
    incident.severity, incident.ack_due_at, incident.resolve_due_at = severity, ack_due, resolve_due
    return changes


def record_breach(incident: Incident, kind: str, now: datetime, *, escalated: bool) -> list[Change]:
    flag = "ack_breached" if kind == "acknowledge" else "resolve_breached"
    due = incident.ack_due_at if kind == "acknowledge" else incident.resolve_due_at
    setattr(incident, flag, True)
    incident.sla_breaches.append(
        SlaBreach(
            kind=kind,  # type: ignore[arg-type]
            due_at=due,
            recorded_at=format_timestamp(now),
            severity=incident.severity,
            escalated=escalated,
        )
    )
    note = "escalated" if escalated else "target already missed when done"
    return [Change("sla", flag, False, True, note)]


def _late(incident: Incident, kind: str, now: datetime) -> list[Change]:
    """Record a breach that nobody escalated because the work was done late but before the job ran."""
    flag = "ack_breached" if kind == "acknowledge" else "resolve_breached"
    due = incident.ack_due_at if kind == "acknowledge" else incident.resolve_due_at
    if getattr(incident, flag) or format_timestamp(now) <= due:
        return []
    return record_breach(incident, kind, now, escalated=False)


def changed(incident_id: str) -> ConflictError:
    return ConflictError(f"incident {incident_id} was changed by someone else meanwhile; reload it and try again")


def seconds(since: str, now: datetime) -> float:
    return round((now - parse_timestamp(since)).total_seconds(), 3)


def union(current: list[str], more: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*current, *more]))


def state(value: IncidentState | str) -> IncidentState:
    try:
        return IncidentState.parse(value)
    except ValueError as exc:
        raise SentinelError(str(exc)) from None


def severity(value: Severity | str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise SentinelError(str(exc)) from None


def assignee(value: str | None) -> str | None:
    if value is None:
        return None
    name = value.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise SentinelError("an assignee is a printable name of 1 to 100 characters")
    return name


def comment_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise SentinelError("a comment needs some text")
    if len(text) > MAX_COMMENT_LENGTH:
        raise SentinelError(f"a comment is at most {MAX_COMMENT_LENGTH} characters")
    return text.strip()


def require_workable(incident: Incident, what: str) -> None:
    if incident.state in _FINAL:
        raise SentinelError(f"cannot {what} incident {incident.id}: it is {incident.state.value}")
