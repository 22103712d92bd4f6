"""``build_app``: the FastAPI application around the services ``serve`` built.

Middleware (outermost first): security headers on every answer, the last-resort error answer,
then the streaming body limit.
Then one error handler family (``errors``) and one route table (``routes``).
"""

from __future__ import annotations

from fastapi import FastAPI

from sentinel import __version__
from sentinel.web.errors import CatchAll, install_error_handlers
from sentinel.web.render import template_environment
from sentinel.web.routes import BODY_LIMITS, install_routes
from sentinel.web.security.body_limit import BodyLimit
from sentinel.web.security.headers import SecurityHeaders
from sentinel.web.services import WebServices


def build_app(services: WebServices) -> FastAPI:
    app = FastAPI(
        title="Sentinel",
        version=__version__,
        description="Security monitoring and incident response for e-Government institutions.",
        # Served by our own routes, behind sign-in and without a CDN (sentinel.web.pages.docs).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = services
    app.state.templates = template_environment()
    install_error_handlers(app)
    install_routes(app)
    app.add_middleware(BodyLimit, limits=BODY_LIMITS)
    app.add_middleware(CatchAll)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so it sees every answer
    return app
