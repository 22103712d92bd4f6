"""``create_app``: the one place the web service is put together (composition root).

Everything the app uses (store, inventory) is built by the caller and handed in, so tests
build a real app on a temporary store and talk to it in-process.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from collectors import http_ingest
from dashboards.web import incidents as incident_pages
from dashboards.web import pages
from playbooks import api as playbooks_api
from sentinel import __version__
from sentinel.api import ack as ack_api
from sentinel.api import events as events_api
from sentinel.api import incidents as incidents_api
from sentinel.api import status as status_api
from sentinel.api.deps import CurrentPrincipal
from sentinel.api.errors import install_error_handlers
from sentinel.collection_health import CollectionHealth, healthz_answer
from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.store.base import Store


def create_app(
    settings: Settings, *, store: Store, inventory: Inventory, collection_health: CollectionHealth | None = None
) -> FastAPI:
    app = FastAPI(
        title="Sentinel",
        version=__version__,
        description="Security monitoring and incident response for e-Government institutions.",
        # No Swagger page: it loads its scripts from a CDN, and Sentinel must work offline.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.inventory = inventory
    app.state.collection_health = collection_health  # the running collectors' state (None: no collectors here)
    install_error_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        # Unauthenticated on purpose, for load balancers and probes: "ok", or 503 with what is wrong
        # with collection (a fixed reason per problem and since when, never error details).
        code, body = healthz_answer(collection_health.state() if collection_health is not None else None)
        return JSONResponse(body, status_code=code)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(principal: CurrentPrincipal) -> JSONResponse:
        # Behind a token like every other endpoint: the API description is for its users.
        return JSONResponse(app.openapi())

    app.include_router(events_api.router)
    app.include_router(status_api.router)
    for incidents_router in incidents_api.routers:
        app.include_router(incidents_router)
    app.include_router(ack_api.router)
    app.include_router(playbooks_api.router)
    app.include_router(http_ingest.router)
    pages.install(app)
    incident_pages.install(app)
    return app
