"""``/api/v1/incidents`` and ``/api/v1/alerts``: the SOC's queue and the institutions' view of it.

Every read and write goes through the caller's scope (``principal.scope``), which the store
enforces: an institution user sees, acknowledges and comments on its own institution's incidents
only; another institution's incident answers 404, as a missing one does. Transitions, assignment,
severity, merging and attaching alerts are for SOC roles (403 otherwise). A change may carry the
``version`` the person saw; if the incident changed since, the answer is 409 "reload".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from sentinel.auth import PermissionDenied, Principal, Role
from sentinel.incidents.model import AuditEntry, Incident, IncidentState, Severity
from sentinel.web.deps import CurrentPrincipal, ServicesDep
from sentinel.web.queries.alerts import AlertFilter, alert_rows
from sentinel.web.queries.incidents import IncidentFilter, list_incidents

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
alerts_router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
routers = (router, alerts_router)

SOC_ROLES = frozenset({Role.ADMIN, Role.SOC_MANAGER, Role.SOC_ANALYST})
_ACTOR_KIND = {
    Role.ADMIN: "admin",
    Role.SOC_MANAGER: "manager",
    Role.SOC_ANALYST: "analyst",
    Role.INSTITUTION: "institution",
}


def actor_of(principal: Principal) -> str:
    """The audit trail's name for an API caller, e.g. ``analyst:ana``, ``institution:moh-ict``."""
    return f"{_ACTOR_KIND[principal.role]}:{principal.name}"


def require_soc(principal: Principal, action: str) -> None:
    if principal.role not in SOC_ROLES:
        raise PermissionDenied(f"only SOC analysts and managers may {action}")


# bodies -------------------------------------------------------------------------------------
class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransitionIn(Body):
    state: IncidentState
    note: Annotated[str | None, Field(max_length=2000)] = None
    version: str | None = None  # the version the person saw; a later change is a 409


class AssignIn(Body):
    assignee: Annotated[str | None, Field(max_length=100)]
    version: str | None = None


class SeverityIn(Body):
    severity: Severity
    version: str | None = None


class CommentIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class MergeIn(Body):
    sources: Annotated[list[str], Field(min_length=1, max_length=50)]
    versions: dict[str, str] | None = None


class AttachIn(Body):
    incident_id: Annotated[str, Field(min_length=1, max_length=200)]


class IncidentOut(BaseModel):
    incident: dict[str, Any]
    version: str | None


class IncidentPage(BaseModel):
    incidents: list[dict[str, Any]]


class AuditPage(BaseModel):
    entries: list[dict[str, Any]]


class AlertPage(BaseModel):
    alerts: list[dict[str, Any]]


def _out(incident: Incident) -> IncidentOut:
    return IncidentOut(incident=incident.body(), version=incident.version)


def _page_item(incident: Incident) -> dict[str, Any]:
    return {**incident.body(), "version": incident.version}


# incidents ----------------------------------------------------------------------------------
@router.get("", response_model=IncidentPage)
def list_(
    principal: CurrentPrincipal, services: ServicesDep, params: Annotated[IncidentFilter, Query()]
) -> IncidentPage:
    return IncidentPage(incidents=[_page_item(i) for i in list_incidents(services, principal, params)])


@router.get("/{incident_id}", response_model=IncidentOut)
def get_incident(incident_id: str, principal: CurrentPrincipal, services: ServicesDep) -> IncidentOut:
    return _out(services.incidents.get(incident_id, principal.scope))


@router.get("/{incident_id}/audit", response_model=AuditPage)
def incident_audit(incident_id: str, principal: CurrentPrincipal, services: ServicesDep) -> AuditPage:
    entries: list[AuditEntry] = services.incidents.audit(incident_id, principal.scope)
    return AuditPage(entries=[e.model_dump(mode="json") for e in entries])


@router.post("/{incident_id}/ack", response_model=IncidentOut)
def acknowledge(incident_id: str, principal: CurrentPrincipal, services: ServicesDep) -> IncidentOut:
    return _out(services.incidents.acknowledge(incident_id, actor=actor_of(principal), scope=principal.scope))


@router.post("/{incident_id}/comments", response_model=IncidentOut)
def comment(incident_id: str, body: CommentIn, principal: CurrentPrincipal, services: ServicesDep) -> IncidentOut:
    return _out(services.incidents.comment(incident_id, body.text, actor=actor_of(principal), scope=principal.scope))


@router.post("/{incident_id}/transition", response_model=IncidentOut)
def transition(incident_id: str, body: TransitionIn, principal: CurrentPrincipal, services: ServicesDep) -> IncidentOut:
    require_soc(principal, "change an incident's state")
    incident = services.incidents.transition(
        incident_id,
        body.state,
        actor=actor_of(principal),
        scope=principal.scope,
        note=body.note,
        expected_version=body.version,
    )
    return _out(incident)


@router.post("/{incident_id}/assign", response_model=IncidentOut)
def assign(incident_id: str, body: AssignIn, principal: CurrentPrincipal, services: ServicesDep) -> IncidentOut:
    require_soc(principal, "assign incidents")
    incident = services.incidents.assign(
        incident_id, body.assignee, actor=actor_of(principal), scope=principal.scope, expected_version=body.version
    )
    return _out(incident)


@router.post("/{incident_id}/severity", response_model=IncidentOut)
def set_severity(incident_id: str, body: SeverityIn, principal: CurrentPrincipal, services: ServicesDep) -> IncidentOut:
    require_soc(principal, "change an incident's severity")
    incident = services.incidents.set_severity(
        incident_id, body.severity, actor=actor_of(principal), scope=principal.scope, expected_version=body.version
    )
    return _out(incident)


@router.post("/{incident_id}/merge", response_model=IncidentPage)
def merge(incident_id: str, body: MergeIn, principal: CurrentPrincipal, services: ServicesDep) -> IncidentPage:
    """Merge ``sources`` into this incident; answers the target first, then the sources."""
    require_soc(principal, "merge incidents")
    target, sources = services.incidents.merge(
        incident_id, body.sources, actor=actor_of(principal), scope=principal.scope, expected_versions=body.versions
    )
    return IncidentPage(incidents=[_page_item(i) for i in (target, *sources)])


@router.delete("/{incident_id}/alerts/{alert_id}", response_model=IncidentOut)
def detach(incident_id: str, alert_id: str, principal: CurrentPrincipal, services: ServicesDep) -> IncidentOut:
    require_soc(principal, "detach alerts")
    return _out(
        services.incidents.detach_alert(incident_id, alert_id, actor=actor_of(principal), scope=principal.scope)
    )


# alerts -------------------------------------------------------------------------------------
@alerts_router.get("", response_model=AlertPage)
def alerts(principal: CurrentPrincipal, services: ServicesDep, params: Annotated[AlertFilter, Query()]) -> AlertPage:
    rows = alert_rows(services, principal, params)
    return AlertPage(alerts=[{**r.alert.model_dump(mode="json"), "incident_id": r.incident_id} for r in rows])


@alerts_router.post("/{alert_id}/attach", response_model=IncidentOut)
def attach(alert_id: str, body: AttachIn, principal: CurrentPrincipal, services: ServicesDep) -> IncidentOut:
    require_soc(principal, "attach alerts to incidents")
    incident = services.incidents.attach_alert(
        body.incident_id, alert_id, actor=actor_of(principal), scope=principal.scope
    )
    return _out(incident)
