"""Incident pages: the queue and one incident (timeline, comments, audit trail).

Every read goes through the signed-in user's scope, which the store enforces: institution users see
only their own institution's incidents. Forms carry the session's CSRF token (checked in ``deps``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from sentinel.errors import NotFoundError, SentinelError
from sentinel.web.api.incidents import actor_of
from sentinel.web.deps import CurrentPrincipal, ServicesDep
from sentinel.web.queries.incidents import IncidentFilter, incident_detail, list_incidents
from sentinel.web.render import render

router = APIRouter()
PAGE_ROWS = 200


@router.get("/incidents")
def incident_list(
    request: Request, principal: CurrentPrincipal, services: ServicesDep, params: Annotated[IncidentFilter, Query()]
) -> Response:
    # The page opens on the open incidents, 200 rows; the query string may say otherwise.
    defaults = {"limit": PAGE_ROWS, "open": not params.state}
    params = params.model_copy(update={k: v for k, v in defaults.items() if k not in request.query_params})
    incidents = list_incidents(services, principal, params)
    return render(request, "incidents.html", {"incidents": incidents, "only_open": params.open})


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, incident_id: str, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    detail = incident_detail(services, principal, incident_id)
    return render(request, "incident.html", {"incident": detail.incident, "audit": detail.audit})


@router.post("/incidents/{incident_id}/comment")
def comment(
    request: Request,
    incident_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    text: Annotated[str, Form(min_length=1, max_length=10_000)],
) -> Response:
    return _done(
        request,
        incident_id,
        lambda: services.incidents.comment(incident_id, text, actor=actor_of(principal), scope=principal.scope),
    )


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge(request: Request, incident_id: str, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    return _done(
        request,
        incident_id,
        lambda: services.incidents.acknowledge(incident_id, actor=actor_of(principal), scope=principal.scope),
    )


def _done(request: Request, incident_id: str, action: Callable[[], object]) -> Response:
    """Run a form's action; back to the incident, or the incident's error page saying why not."""
    try:
        action()
    except NotFoundError:
        raise
    except SentinelError as exc:
        return render(request, "incident_error.html", {"message": str(exc), "id": incident_id}, 400)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)
