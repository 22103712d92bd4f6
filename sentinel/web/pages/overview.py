"""``/``: the collection overview (sources, rates, dead letters, rule health) for the caller's scope."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sentinel.web.deps import CurrentPrincipal, ServicesDep
from sentinel.web.queries.status import collection_status
from sentinel.web.render import render

router = APIRouter()


@router.get("/")
def overview(request: Request, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    report = collection_status(services, principal)
    return render(request, "overview.html", {"report": dataclasses.asdict(report)})
