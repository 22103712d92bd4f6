"""One place that turns errors into answers: JSON under ``/api``, a page everywhere else.

Sentinel's own errors map to their status (``SentinelError`` subclasses below); a ``ValueError`` or
``OverflowError`` from the core while reading a parameter (a duration, a query, a cursor, a date) is
the caller's mistake: 400 with the message. Signed-out browsers are sent to the sign-in page.
Only what nobody expected is a 500, logged with its traceback, and answered without details.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentinel.auth import AuthError, PermissionDenied
from sentinel.errors import ConflictError, NotFoundError, SentinelError, StoreError, TooLargeError
from sentinel.web.render import render

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[SentinelError], int]] = [
    (AuthError, 401),
    (PermissionDenied, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TooLargeError, 413),
    (StoreError, 503),
    (SentinelError, 400),
]


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def error_response(
    request: Request, status: int, message: str, problems: list[dict[str, str]] | None = None
) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if wants_json(request):
        body: dict[str, Any] = {"error": message}
        if problems is not None:
            body["problems"] = problems
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        return RedirectResponse("/login", status_code=303)
    detail = [f"{p['where']}: {p['problem']}" for p in problems or []]
    return render(
        request,
        "error.html",
        {"status": status, "message": message, "detail": detail},
        status,
    )


def status_of(exc: SentinelError) -> int:
    return next(code for kind, code in _STATUS if isinstance(exc, kind))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SentinelError)
    async def _sentinel_error(request: Request, exc: SentinelError) -> Response:
        status = status_of(exc)
        if status >= 500:
            log.error("request %s %s failed: %s", request.method, request.url.path, exc)
        return error_response(request, status, str(exc))

    @app.exception_handler(ValueError)
    async def _bad_value(request: Request, exc: ValueError) -> Response:
        return error_response(request, 400, str(exc) or "invalid value")

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> Response:
        return error_response(request, 400, f"a value is out of range: {exc}")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"where": ".".join(str(p) for p in err.get("loc", ())), "problem": str(err.get("msg", "invalid"))}
            for err in exc.errors()
        ]
        return error_response(request, 422, "invalid request", problems)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        response = error_response(request, exc.status_code, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response


class CatchAll:
    """Unexpected errors as a 500 page or JSON, inside the security headers (Starlette's own
    last-resort handler sits outside every middleware, so its answers would go without them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("request %s %s failed unexpectedly", scope.get("method"), scope.get("path"))
            if started:
                raise
            request = Request(scope)
            response = error_response(request, 500, "internal error; the service log has the details")
            await response(scope, receive, send)
