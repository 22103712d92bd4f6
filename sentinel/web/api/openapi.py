"""``/api/openapi.json``: the API description, behind sign-in like every other endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sentinel.web.deps import CurrentPrincipal

router = APIRouter()


@router.get("/api/openapi.json")
def openapi(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]
