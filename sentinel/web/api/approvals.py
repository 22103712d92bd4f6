"""``/api/v1/incidents/{id}/approvals/{step}``: an analyst approves a playbook step that waits.

The router lives with the playbooks (the core may not import them) and is mounted by the
composition root, ``sentinel.app.create_app``. The response wiring (playbooks, rule names,
notices) is built on first use and kept on the app, so apps that never approve pay nothing.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from fastapi import APIRouter, Request

from playbooks.wiring import Response, build_response
from sentinel.errors import NotFoundError
from sentinel.store.base import Scope
from sentinel.web.api.incidents import actor_of, require_soc
from sentinel.web.deps import CurrentPrincipal, InventoryDep, StoreDep

router = APIRouter(prefix="/api/v1/incidents", tags=["playbooks"])
_build_lock = threading.Lock()


def _response(request: Request, store: StoreDep, inventory: InventoryDep) -> Response:
    with _build_lock:
        response = getattr(request.app.state, "playbook_response", None)
        if response is None:
            response = build_response(request.app.state.settings, store, inventory)
            request.app.state.playbook_response = response
        return response  # type: ignore[no-any-return]


@router.post("/{incident_id}/approvals/{step}")
def approve_step(
    incident_id: str, step: str, request: Request, principal: CurrentPrincipal, store: StoreDep, inventory: InventoryDep
) -> dict[str, Any]:
    """Approve a waiting ``require_approval`` step; the playbook continues with the steps after it."""
    require_soc(principal, "approve playbook steps")
    if store.get_document("incidents", incident_id, Scope.everything()) is None:
        raise NotFoundError(f"incident {incident_id} not found")
    runs = _response(request, store, inventory).runner.approve(incident_id, step, actor=actor_of(principal))
    return {"incident_id": incident_id, "step": step, "runs": [dataclasses.asdict(r) for r in runs]}
