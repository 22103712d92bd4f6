"""Incidents: alerts turned into work for the SOC, with an audit trail and SLA targets.

``IncidentService`` makes every change (with its audit entries, in one store write);
``find_breaches`` lists SLA targets missed and not yet escalated.
"""

from sentinel.incidents.model import (
    OPEN_STATES,
    TRANSITIONS,
    AuditEntry,
    Comment,
    Incident,
    IncidentState,
    Observable,
    Severity,
    SlaBreach,
    TimelineEntry,
    allowed_transitions,
)
from sentinel.incidents.service import IncidentService
from sentinel.incidents.sla import Breach, SlaSettings, find_breaches

__all__ = [
    "OPEN_STATES",
    "TRANSITIONS",
    "AuditEntry",
    "Breach",
    "Comment",
    "Incident",
    "IncidentService",
    "IncidentState",
    "Observable",
    "Severity",
    "SlaBreach",
    "SlaSettings",
    "TimelineEntry",
    "allowed_transitions",
    "find_breaches",
]
