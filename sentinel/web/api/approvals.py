"""``/api/v1/incidents/{id}/approvals/{step}``: an analyst approves a playbook step that waits."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from sentinel.web.api.incidents import actor_of, require_soc
from sentinel.web.deps import CurrentPrincipal, ServicesDep

router = APIRouter(prefix="/api/v1/incidents", tags=["playbooks"])


@router.post("/{incident_id}/approvals/{step}")
def approve_step(incident_id: str, step: str, principal: CurrentPrincipal, services: ServicesDep) -> dict[str, Any]:
    """Approve a waiting ``require_approval`` step; the playbook continues with the steps after it."""
    require_soc(principal, "approve playbook steps")
    services.incidents.get(incident_id, principal.scope)  # 404 when missing
    runs = services.response.runner.approve(incident_id, step, actor=actor_of(principal))
    return {"incident_id": incident_id, "step": step, "runs": [dataclasses.asdict(r) for r in runs]}
