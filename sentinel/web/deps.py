"""Request dependencies: the services built at start, and who is asking.

API clients send ``Authorization: Bearer <token>``; browsers send the session cookie. A request
authenticated by the cookie that changes something (POST, PUT, PATCH, DELETE) must also carry the
session's CSRF token, in the ``X-CSRF-Token`` header (scripts, the API page) or the ``csrf`` form
field (forms). Bearer requests need none: a browser never adds that header on its own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from sentinel.auth import AuthError, PermissionDenied, Principal, authenticate
from sentinel.inventory import Inventory
from sentinel.store.base import Store
from sentinel.web.services import WebServices

SESSION_COOKIE = "sentinel_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfError(PermissionDenied):
    """A cookie-authenticated change without the session's CSRF token (HTTP 403)."""


def get_services(request: Request) -> WebServices:
    return request.app.state.services  # type: ignore[no-any-return]


def get_store(request: Request) -> Store:
    return get_services(request).store


def get_inventory(request: Request) -> Inventory:
    return get_services(request).inventory


async def _offered_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)  # starlette keeps the parsed form for the handler
        return value if isinstance(value, str) else None
    return None


async def get_principal(request: Request) -> Principal:
    """Bearer token for API clients; the server-side session (cookie) for browsers."""
    header = request.headers.get("authorization", "")
    # Store lookups block: off the event loop, like the handlers themselves.
    if header:
        if not header.lower().startswith("bearer "):
            raise AuthError("unsupported Authorization scheme: use 'Bearer <token>'")
        return await run_in_threadpool(authenticate, get_store(request), header[7:].strip())
    session = await run_in_threadpool(get_services(request).sessions.resolve, request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        raise AuthError("sign in first: send an API token as 'Authorization: Bearer <token>'")
    request.state.session = session
    if request.method not in SAFE_METHODS and not session.csrf_ok(await _offered_csrf(request)):
        raise CsrfError("the form or request has no valid CSRF token; reload the page and try again")
    return session.principal


ServicesDep = Annotated[WebServices, Depends(get_services)]
StoreDep = Annotated[Store, Depends(get_store)]
InventoryDep = Annotated[Inventory, Depends(get_inventory)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
