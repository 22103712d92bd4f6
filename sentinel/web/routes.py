"""The route table: every URL the service answers, in one place.

Add a JSON resource to ``API`` and a page family to ``PAGES``; nothing else registers routes.
API routes appear in the OpenAPI description (``/api/openapi.json``, shown at ``/docs``); page
routes are tagged ``page`` and service routes (probes, the description itself) ``service``, so
the tenancy sweep in the tests walks all three and refuses a route that is none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles

from dashboards import STATIC_DIR
from sentinel import __version__
from sentinel.web.api import approvals, events, health, incidents, ingest, openapi, status
from sentinel.web.pages import ack, docs, overview, session
from sentinel.web.pages import events as events_page
from sentinel.web.pages import incidents as incident_pages

PAGE_TAG = "page"
SERVICE_TAG = "service"

API: list[APIRouter] = [
    events.router,
    status.router,
    incidents.router,
    incidents.alerts_router,
    approvals.router,
    ingest.router,
]
SERVICE: list[APIRouter] = [health.router, openapi.router]
PAGES: list[APIRouter] = [
    session.router,
    overview.router,
    events_page.router,
    incident_pages.router,
    docs.router,
    ack.router,
]
STATIC_PATH = "/static"

# Request body limits by path (``security.body_limit``); others get its default.
BODY_LIMITS = {ingest.PATH: ingest.BODY_LIMIT}


def install_routes(app: FastAPI) -> None:
    for router in API:
        app.include_router(router)
    for router in SERVICE:
        app.include_router(router, tags=[SERVICE_TAG], include_in_schema=False)
    for router in PAGES:
        app.include_router(router, tags=[PAGE_TAG], include_in_schema=False)
    app.mount(STATIC_PATH, StaticFiles(directory=str(STATIC_DIR)), name="static")


@dataclass(frozen=True)
class RouteInfo:
    """One route as the table declares it: ``kind`` is ``api``, ``page``, ``service`` or ``static``."""

    path: str
    methods: frozenset[str]
    kind: str
    in_schema: bool


def route_table(app: FastAPI) -> list[RouteInfo]:
    """Every route the app answers, flattened from its included routers."""
    table: list[RouteInfo] = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        methods = frozenset(route.methods or ())
        if not methods:  # a mount (static files)
            table.append(RouteInfo(path, frozenset({"GET"}), "static" if path == STATIC_PATH else "unknown", False))
            continue
        tags = set(getattr(route, "tags", None) or ())
        kind = "page" if PAGE_TAG in tags else "service" if SERVICE_TAG in tags else "api"
        table.append(RouteInfo(path, methods, kind, bool(getattr(route, "include_in_schema", False))))
    return table


def full_description() -> dict[str, Any]:
    """An OpenAPI description of every route in the table, pages and service routes included.

    The published description (``/api/openapi.json``) has the JSON API only; this one is for tools
    that must reach everything, such as the tenancy sweep in the tests.
    """
    described = FastAPI(title="Sentinel (every route)", version=__version__, openapi_url=None, docs_url=None)
    for router in (*API, *SERVICE, *PAGES):
        described.include_router(router)
    return described.openapi()
