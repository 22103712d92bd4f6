"""``/api/v1/status``: collection health for the caller's scope; ``/api/v1/whoami``."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from sentinel.web.deps import CurrentPrincipal, ServicesDep
from sentinel.web.queries.status import collection_status

router = APIRouter(prefix="/api/v1", tags=["status"])


@router.get("/status")
def status(principal: CurrentPrincipal, services: ServicesDep) -> dict[str, Any]:
    return dataclasses.asdict(collection_status(services, principal))


@router.get("/whoami")
def whoami(principal: CurrentPrincipal) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role.value, "institution": principal.institution_id}
