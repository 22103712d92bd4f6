"""What an incident is: severities, states and the transitions between them, and the stored document.

The incident document lives in the store's ``incidents`` collection, owned by its institution
(scope). Its audit trail is not inside it: every change also writes append-only ``AuditEntry``
documents to ``audit`` in the same ``write_documents`` call (see ``audit.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

COLLECTION = "incidents"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is more severe: compare with ``a.rank >= b.rank``."""
        return _RANK[self]

    @property
    def label_key(self) -> str:
        """The i18n key of this severity's label (``severity.critical`` → "Critical" / "Dharura")."""
        return f"severity.{self.value}"

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        """A severity from an incident, a rule level or user input; Sigma's ``informational`` is low."""
        if isinstance(value, Severity):
            return value
        text = str(value).strip().lower()
        if text == "informational":
            return cls.LOW
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown severity {value!r}; use one of: {', '.join(s.value for s in cls)}") from None


_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class IncidentState(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    CLOSED = "closed"
    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"

    @property
    def is_open(self) -> bool:
        """Still being worked: new alerts with the same key attach to it."""
        return self in OPEN_STATES

    @property
    def label_key(self) -> str:
        return f"state.{self.value}"

    @classmethod
    def parse(cls, value: str | IncidentState) -> IncidentState:
        if isinstance(value, IncidentState):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"unknown state {value!r}; use one of: {', '.join(s.value for s in cls)}") from None


OPEN_STATES: frozenset[IncidentState] = frozenset(
    {IncidentState.NEW, IncidentState.ACKNOWLEDGED, IncidentState.INVESTIGATING, IncidentState.CONTAINED}
)

# The one table of legal moves. Open states may be closed as false positive or duplicate. A resolved
# incident may be reopened (back to investigating) when the problem turns out not to be over: better
# than a second incident that loses the history. Closed, false_positive and duplicate are final.
_CLOSE_AS = (IncidentState.FALSE_POSITIVE, IncidentState.DUPLICATE)
TRANSITIONS: dict[IncidentState, tuple[IncidentState, ...]] = {
    IncidentState.NEW: (IncidentState.ACKNOWLEDGED, *_CLOSE_AS),
    IncidentState.ACKNOWLEDGED: (IncidentState.INVESTIGATING, IncidentState.RESOLVED, *_CLOSE_AS),
    IncidentState.INVESTIGATING: (IncidentState.CONTAINED, IncidentState.RESOLVED, *_CLOSE_AS),
    IncidentState.CONTAINED: (IncidentState.RESOLVED, *_CLOSE_AS),
    IncidentState.RESOLVED: (IncidentState.CLOSED, IncidentState.INVESTIGATING),
    IncidentState.CLOSED: (),
    IncidentState.FALSE_POSITIVE: (),
    IncidentState.DUPLICATE: (),
}


def allowed_transitions(state: IncidentState) -> tuple[IncidentState, ...]:
    return TRANSITIONS[state]


ObservableKind = Literal["ip", "user", "host", "hash", "url"]


class Observable(BaseModel):
    """A thing to look for elsewhere (an address, an account, a host...), and which alerts showed it."""

    model_config = ConfigDict(extra="forbid")

    kind: ObservableKind
    value: str
    field: str | None = None  # the ECS field it came from, e.g. source.ip
    alert_ids: list[str] = []


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    author: str  # an actor string
    text: str
    created_at: str
    from_incident: str | None = None  # set when a merge moved it here


class TimelineEntry(BaseModel):
    """One playbook step on this incident; ``step_key`` makes recording it twice a no-op."""

    model_config = ConfigDict(extra="forbid")

    at: str
    actor: str
    playbook: str
    step_key: str
    outcome: str


SlaKind = Literal["acknowledge", "resolve"]


class SlaBreach(BaseModel):
    """A missed target, recorded once (for the monthly report).

    ``escalated`` is true when the SLA job found it while still pending and escalated it; false when
    the target was already missed at the moment the incident was acknowledged or resolved.
    """

    model_config = ConfigDict(extra="forbid")

    kind: SlaKind
    due_at: str
    recorded_at: str
    severity: Severity
    escalated: bool


class Incident(BaseModel):
    """The stored incident (``incidents`` collection). Times are ISO UTC strings (fixed width)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    key: str  # what groups alerts into it, e.g. "moh|source.ip=203.0.113.9"
    title: str
    institution_id: str | None
    severity: Severity
    state: IncidentState = IncidentState.NEW
    assignee: str | None = None
    alert_ids: list[str] = []
    rule_ids: list[str] = []
    tags: list[str] = []
    observables: list[Observable] = []
    comments: list[Comment] = []
    timeline: list[TimelineEntry] = []
    created_at: str
    created_by: str
    updated_at: str
    last_alert_at: str  # the latest alert time seen; the attach window counts from here
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    institution_acknowledged_at: str | None = None  # an institution contact's ack (signed link)
    institution_acknowledged_by: str | None = None
    resolved_at: str | None = None
    closed_at: str | None = None
    tta_seconds: float | None = None  # opened → first acknowledged
    ttr_seconds: float | None = None  # opened → (latest) resolved or false positive
    ack_due_at: str
    resolve_due_at: str
    ack_breached: bool = False  # escalated already; kept as flags so the breach query is a filter
    resolve_breached: bool = False
    sla_breaches: list[SlaBreach] = []
    merged_into: str | None = None
    merged_from: list[str] = []
    # Changes so far; numbers the audit entries, so they read back in order (the CAS makes it unique).
    audit_seq: int = 0
    # The store's version token of the document this was read from; not part of the body.
    version: str | None = Field(default=None, exclude=True)

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def summary(self) -> str:
        return (
            f"{self.id} [{self.severity.value}] {self.state.value} | {self.institution_id or 'unattributed'} | "
            f"{self.title} | alerts={len(self.alert_ids)} | assignee={self.assignee or '-'}"
        )


class AuditEntry(BaseModel):
    """One change to one field of one incident: who, when, old → new. Never changed afterwards."""

    model_config = ConfigDict(extra="ignore")

    id: str
    incident_id: str
    at: str
    actor: str
    action: str  # create, transition, acknowledge, assign, comment, severity, attach, detach, merge, ...
    field: str
    old: Any = None
    new: Any = None
    note: str | None = None
