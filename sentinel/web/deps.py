"""Request dependencies: the store, the inventory and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sentinel.auth import AuthError, Principal, authenticate
from sentinel.inventory import Inventory
from sentinel.store.base import Store

SESSION_COOKIE = "sentinel_session"


def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def get_inventory(request: Request) -> Inventory:
    return request.app.state.inventory  # type: ignore[no-any-return]


def get_principal(request: Request) -> Principal:
    """Bearer token for API clients; the session cookie for the browser pages."""
    header = request.headers.get("authorization", "")
    token = ""
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    elif header:
        raise AuthError("unsupported Authorization scheme: use 'Bearer <token>'")
    else:
        token = request.cookies.get(SESSION_COOKIE, "")
    return authenticate(get_store(request), token)


StoreDep = Annotated[Store, Depends(get_store)]
InventoryDep = Annotated[Inventory, Depends(get_inventory)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
