"""The incident queue and one incident: ``/api/v1/incidents`` and the ``/incidents`` pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sentinel.auth import Principal
from sentinel.incidents.model import AuditEntry, Incident, IncidentState, Severity
from sentinel.web.services import WebServices


class IncidentFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: list[IncidentState] | None = None
    open: Annotated[bool, Field(description="Only incidents still open (new to contained).")] = False
    severity: Severity | None = None
    institution: Annotated[str | None, Field(max_length=100)] = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


def list_incidents(services: WebServices, principal: Principal, params: IncidentFilter) -> list[Incident]:
    states = params.state
    if params.open:
        states = [s for s in (states or list(IncidentState)) if s.is_open]
    # The institution narrows within the caller's scope: another institution's is an empty list.
    return services.incidents.list(
        principal.scope, state=states, severity=params.severity, institution=params.institution, limit=params.limit
    )


@dataclass(frozen=True)
class IncidentDetail:
    incident: Incident
    audit: list[AuditEntry]


def incident_detail(services: WebServices, principal: Principal, incident_id: str) -> IncidentDetail:
    incident = services.incidents.get(incident_id, principal.scope)
    return IncidentDetail(incident, services.incidents.audit(incident_id, principal.scope))
