"""``/events``: event search, the page twin of ``GET /api/v1/events``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sentinel.store.base import SearchResult
from sentinel.web.deps import CurrentPrincipal, ServicesDep
from sentinel.web.queries.events import EventSearch, search_events
from sentinel.web.render import render

router = APIRouter()

SINCE_CHOICES = ("15m", "1h", "24h", "7d", "30d")
PAGE_ROWS = 200


@router.get("/events")
def events_page(
    request: Request, principal: CurrentPrincipal, services: ServicesDep, params: Annotated[EventSearch, Query()]
) -> Response:
    if "limit" not in request.query_params:
        params = params.model_copy(update={"limit": PAGE_ROWS})
    error: str | None = None
    result: SearchResult | None = None
    try:
        result = search_events(services, principal, params)
    except ValueError as exc:  # a query the analyst can fix: show it above the form, keep what was typed
        error = str(exc)
    choices = SINCE_CHOICES if params.since in SINCE_CHOICES else (*SINCE_CHOICES, params.since)
    return render(
        request,
        "events.html",
        {"q": params.q, "since": params.since, "since_choices": choices, "result": result, "error": error},
        200 if error is None else 400,
    )
