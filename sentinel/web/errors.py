"""One place that turns Sentinel's errors into JSON responses with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from sentinel.auth import AuthError, PermissionDenied
from sentinel.errors import ConflictError, NotFoundError, SentinelError, StoreError, TooLargeError

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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SentinelError)
    async def _sentinel_error(request: Request, exc: SentinelError) -> JSONResponse:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        if status >= 500:
            log.error("request %s %s failed: %s", request.method, request.url.path, exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "problems": problems}, status_code=422)
