"""Incident pages: the queue and one incident (timeline, comments, audit trail).

Institution users see only their own institution's incidents: every read goes through the
signed-in user's scope, which the store enforces. Forms carry the CSRF token of ``pages``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sentinel.auth import Principal
from sentinel.errors import NotFoundError, SentinelError
from sentinel.incidents.model import IncidentState
from sentinel.incidents.service import IncidentService
from sentinel.web.api.incidents import actor_of
from sentinel.web.pages.overview import CSRF_COOKIE, principal_of, render


def _service(request: Request) -> IncidentService:
    return IncidentService(request.app.state.store, request.app.state.settings)


def _csrf_ok(request: Request, csrf: str) -> bool:
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected, csrf)


def install(app: FastAPI) -> None:
    @app.get("/incidents", response_class=HTMLResponse, include_in_schema=False)
    def incident_list(request: Request, state: str = "open") -> Response:
        principal = principal_of(request)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        states = [s for s in IncidentState if s.is_open] if state == "open" else None
        incidents = _service(request).list(principal.scope, state=states, limit=200)
        return render(request, "incidents.html", {"principal": principal, "incidents": incidents, "state": state})

    @app.get("/incidents/{incident_id}", response_class=HTMLResponse, include_in_schema=False)
    def incident_page(request: Request, incident_id: str, error: str | None = None) -> Response:
        principal = principal_of(request)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        service = _service(request)
        try:
            incident = service.get(incident_id, principal.scope)
        except NotFoundError:
            return render(request, "not_found.html", {"principal": principal, "what": "incident"}, 404)
        audit = service.audit(incident_id, principal.scope)
        return render(
            request, "incident.html", {"principal": principal, "incident": incident, "audit": audit, "error": error}
        )

    @app.post("/incidents/{incident_id}/comment", include_in_schema=False)
    def comment(
        request: Request, incident_id: str, text: Annotated[str, Form()], csrf: Annotated[str, Form()]
    ) -> Response:
        return _act(
            request, incident_id, csrf, lambda s, p: s.comment(incident_id, text, actor=actor_of(p), scope=p.scope)
        )

    @app.post("/incidents/{incident_id}/acknowledge", include_in_schema=False)
    def acknowledge(request: Request, incident_id: str, csrf: Annotated[str, Form()]) -> Response:
        return _act(
            request, incident_id, csrf, lambda s, p: s.acknowledge(incident_id, actor=actor_of(p), scope=p.scope)
        )


Action = Callable[[IncidentService, Principal], object]


def _act(request: Request, incident_id: str, csrf: str, action: Action) -> Response:
    principal = principal_of(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if not _csrf_ok(request, csrf):
        return RedirectResponse(f"/incidents/{incident_id}?error=form+expired,+try+again", status_code=303)
    try:
        action(_service(request), principal)
    except NotFoundError:
        return render(request, "not_found.html", {"principal": principal, "what": "incident"}, 404)
    except SentinelError as exc:
        return render(
            request, "incident_error.html", {"principal": principal, "message": str(exc), "id": incident_id}, 400
        )
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)
