"""``/docs``: the API described by its OpenAPI document, in Swagger UI, behind sign-in and offline.

Swagger UI's files come from the ``fastapi-offline`` package (Swagger UI is Apache-2.0; its licence
ships with that package), served from here: no CDN. The page's own start-up script is a static
file (``dashboards/static/docs.js``), so the Content-Security-Policy needs no inline script; it
adds the session's CSRF token to the requests "Try it out" makes.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from sentinel.errors import NotFoundError
from sentinel.web.deps import CurrentPrincipal
from sentinel.web.render import render

router = APIRouter()

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


@router.get("/docs")
def api_docs(request: Request, principal: CurrentPrincipal) -> Response:
    return render(request, "docs.html", {})


@router.get("/docs/assets/{name}")
def api_docs_asset(name: str, principal: CurrentPrincipal) -> Response:
    if name not in ASSETS:
        raise NotFoundError(f"no asset {name!r}")
    return FileResponse(ASSETS_DIR / name, media_type=ASSETS[name])
