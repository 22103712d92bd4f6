"""``/api/v1/incidents`` and ``/api/v1/alerts``: the SOC's queue and the institutions' view of it.

Every read and write goes through the caller's scope (``principal.scope``), which the store
enforces: an institution user sees, acknowledges and comments on its own institution's incidents
only; another institution's incident answers 404, as a missing one does. Transitions, assignment,
severity, merging and attaching alerts are for SOC roles (403 otherwise). A change may carry the
``version`` the person saw; if the incident changed since, the answer is 409 "reload".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sentinel.auth import PermissionDenied, Principal, Role
from sentinel.config import Settings
from sentinel.errors import SentinelError
from sentinel.incidents.alerts_view import list_alerts
from sentinel.incidents.model import AuditEntry, Incident, IncidentState, Severity
from sentinel.incidents.service import IncidentService
from sentinel.store.base import Store
from sentinel.web.deps import CurrentPrincipal, StoreDep

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


def _svc(request: Request, store: Store) -> IncidentService:
    settings: Settings = request.app.state.settings
    return IncidentService(store, settings)


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
def list_incidents(
    request: Request,
    principal: CurrentPrincipal,
    store: StoreDep,
    state: Annotated[list[IncidentState] | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    institution: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> IncidentPage:
    incidents = _svc(request, store).list(
        principal.scope, state=state, severity=severity, institution=institution, limit=limit
    )
    return IncidentPage(incidents=[_page_item(i) for i in incidents])


@router.get("/{incident_id}", response_model=IncidentOut)
def get_incident(request: Request, incident_id: str, principal: CurrentPrincipal, store: StoreDep) -> IncidentOut:
    return _out(_svc(request, store).get(incident_id, principal.scope))


@router.get("/{incident_id}/audit", response_model=AuditPage)
def incident_audit(request: Request, incident_id: str, principal: CurrentPrincipal, store: StoreDep) -> AuditPage:
    entries: list[AuditEntry] = _svc(request, store).audit(incident_id, principal.scope)
    return AuditPage(entries=[e.model_dump(mode="json") for e in entries])


@router.post("/{incident_id}/ack", response_model=IncidentOut)
def acknowledge(request: Request, incident_id: str, principal: CurrentPrincipal, store: StoreDep) -> IncidentOut:
    return _out(_svc(request, store).acknowledge(incident_id, actor=actor_of(principal), scope=principal.scope))


@router.post("/{incident_id}/comments", response_model=IncidentOut)
def comment(
    request: Request, incident_id: str, body: CommentIn, principal: CurrentPrincipal, store: StoreDep
) -> IncidentOut:
    return _out(_svc(request, store).comment(incident_id, body.text, actor=actor_of(principal), scope=principal.scope))


@router.post("/{incident_id}/transition", response_model=IncidentOut)
def transition(
    request: Request, incident_id: str, body: TransitionIn, principal: CurrentPrincipal, store: StoreDep
) -> IncidentOut:
    require_soc(principal, "change an incident's state")
    incident = _svc(request, store).transition(
        incident_id,
        body.state,
        actor=actor_of(principal),
        scope=principal.scope,
        note=body.note,
        expected_version=body.version,
    )
    return _out(incident)


@router.post("/{incident_id}/assign", response_model=IncidentOut)
def assign(
    request: Request, incident_id: str, body: AssignIn, principal: CurrentPrincipal, store: StoreDep
) -> IncidentOut:
    require_soc(principal, "assign incidents")
    incident = _svc(request, store).assign(
        incident_id, body.assignee, actor=actor_of(principal), scope=principal.scope, expected_version=body.version
    )
    return _out(incident)


@router.post("/{incident_id}/severity", response_model=IncidentOut)
def set_severity(
    request: Request, incident_id: str, body: SeverityIn, principal: CurrentPrincipal, store: StoreDep
) -> IncidentOut:
    require_soc(principal, "change an incident's severity")
    incident = _svc(request, store).set_severity(
        incident_id, body.severity, actor=actor_of(principal), scope=principal.scope, expected_version=body.version
    )
    return _out(incident)


@router.post("/{incident_id}/merge", response_model=IncidentPage)
def merge(
    request: Request, incident_id: str, body: MergeIn, principal: CurrentPrincipal, store: StoreDep
) -> IncidentPage:
    """Merge ``sources`` into this incident; answers the target first, then the sources."""
    require_soc(principal, "merge incidents")
    target, sources = _svc(request, store).merge(
        incident_id, body.sources, actor=actor_of(principal), scope=principal.scope, expected_versions=body.versions
    )
    return IncidentPage(incidents=[_page_item(i) for i in (target, *sources)])


@router.delete("/{incident_id}/alerts/{alert_id}", response_model=IncidentOut)
def detach(
    request: Request, incident_id: str, alert_id: str, principal: CurrentPrincipal, store: StoreDep
) -> IncidentOut:
    require_soc(principal, "detach alerts")
    return _out(
        _svc(request, store).detach_alert(incident_id, alert_id, actor=actor_of(principal), scope=principal.scope)
    )


# alerts -------------------------------------------------------------------------------------
@alerts_router.get("", response_model=AlertPage)
def alerts(
    principal: CurrentPrincipal,
    store: StoreDep,
    state: Annotated[str | None, Query(pattern="^(open|acknowledged|closed|resolved)$")] = None,
    severity: Annotated[str | None, Query(max_length=20)] = None,
    institution: Annotated[str | None, Query(max_length=100)] = None,
    rule: Annotated[str | None, Query(max_length=200)] = None,
    unlinked: Annotated[bool, Query(description="Only alerts in no incident.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertPage:
    try:
        rows = list_alerts(
            store,
            principal.scope,
            state=state,
            severity=severity,
            institution=institution,
            rule_id=rule,
            unlinked=unlinked,
            limit=limit,
        )
    except ValueError as exc:
        raise SentinelError(str(exc)) from None
    return AlertPage(alerts=[{**r.alert.model_dump(mode="json"), "incident_id": r.incident_id} for r in rows])


@alerts_router.post("/{alert_id}/attach", response_model=IncidentOut)
def attach(
    request: Request, alert_id: str, body: AttachIn, principal: CurrentPrincipal, store: StoreDep
) -> IncidentOut:
    require_soc(principal, "attach alerts to incidents")
    incident = _svc(request, store).attach_alert(
        body.incident_id, alert_id, actor=actor_of(principal), scope=principal.scope
    )
    return _out(incident)
