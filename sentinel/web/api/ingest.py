"""``POST /api/v1/ingest``: the route; normalising and storing the records is ``collectors.http_ingest``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from collectors.http_ingest import IngestResult
from collectors.http_ingest import ingest as ingest_body
from collectors.normalize import Normalizer
from sentinel.web.deps import CurrentPrincipal, InventoryDep, StoreDep

router = APIRouter(prefix="/api/v1", tags=["ingest"])


def _normalizer(request: Request, inventory: InventoryDep) -> Normalizer:
    normalizer = getattr(request.app.state, "http_normalizer", None)
    if normalizer is None:
        normalizer = Normalizer(inventory, default_timezone=request.app.state.settings.timezone)
        request.app.state.http_normalizer = normalizer
    return normalizer  # type: ignore[no-any-return]


@router.post("/ingest", response_model=IngestResult)
async def ingest(
    request: Request, principal: CurrentPrincipal, store: StoreDep, inventory: InventoryDep
) -> IngestResult:
    body = await request.body()
    peer = request.client.host if request.client else None
    return ingest_body(
        body,
        principal=principal,
        store=store,
        inventory=inventory,
        normalizer=_normalizer(request, inventory),
        peer=peer,
    )
