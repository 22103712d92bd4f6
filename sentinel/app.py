"""``create_app``: the one place the web service is put together (composition root).

Everything the app uses (store, inventory) is built by the caller and handed in, so tests
build a real app on a temporary store and talk to it in-process.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from sentinel import __version__
from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.store.base import Store
from sentinel.web.api import approvals as playbooks_api
from sentinel.web.api import events as events_api
from sentinel.web.api import incidents as incidents_api
from sentinel.web.api import ingest as ingest_api
from sentinel.web.api import status as status_api
from sentinel.web.deps import CurrentPrincipal
from sentinel.web.errors import install_error_handlers
from sentinel.web.pages import ack as ack_api
from sentinel.web.pages import incidents as incident_pages
from sentinel.web.pages import overview as pages


def create_app(settings: Settings, *, store: Store, inventory: Inventory) -> FastAPI:
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
    install_error_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        # Unauthenticated on purpose, for load balancers and probes: it says "up" and nothing else.
        return JSONResponse({"status": "ok"})

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
    app.include_router(ingest_api.router)
    pages.install(app)
    incident_pages.install(app)
    return app
