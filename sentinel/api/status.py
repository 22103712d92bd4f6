"""``/api/v1/status``: collection health for the caller's scope."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request

from sentinel.api.deps import CurrentPrincipal, StoreDep
from sentinel.status import build_status

router = APIRouter(prefix="/api/v1", tags=["status"])


@router.get("/status")
def status(request: Request, principal: CurrentPrincipal, store: StoreDep) -> dict[str, Any]:
    return dataclasses.asdict(build_status(store, principal.scope, health=request.app.state.collection_health))


@router.get("/whoami")
def whoami(principal: CurrentPrincipal) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role.value, "institution": principal.institution_id}
