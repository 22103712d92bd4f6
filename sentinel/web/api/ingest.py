"""``POST /api/v1/ingest``: the route; normalising and storing the records is ``collectors.http_ingest``.

Only JSON is accepted (``application/json``, ``application/x-ndjson``; anything else is 415), and
the body is read as a stream under ``MAX_BODY_BYTES`` (``security.body_limit``: 413 past it).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from collectors.http_ingest import MAX_BODY_BYTES, IngestResult
from collectors.http_ingest import ingest as ingest_body
from sentinel.web.deps import CurrentPrincipal, ServicesDep

router = APIRouter(prefix="/api/v1", tags=["ingest"])

PATH = "/api/v1/ingest"
BODY_LIMIT = MAX_BODY_BYTES
JSON_TYPES = frozenset({"application/json", "application/x-ndjson"})


_RECORD = {"type": "object", "description": 'A Windows event {"Event": ...} or a log line {"message": "..."}'}
_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"oneOf": [_RECORD, {"type": "array", "items": _RECORD}]}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "One JSON record per line."}},
    },
}


@router.post(
    "/ingest",
    response_model=IngestResult,
    openapi_extra={"requestBody": _BODY},
    responses={413: {"description": "Body too large"}, 415: {"description": "Not JSON"}},
)
async def ingest(request: Request, principal: CurrentPrincipal, services: ServicesDep) -> IngestResult:
    """Post logs as JSON: Windows events ``{"Event": ...}`` or log lines ``{"message": "..."}``."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise HTTPException(415, f"send JSON ({', '.join(sorted(JSON_TYPES))}), not {media_type or 'no content type'}")
    body = await request.body()  # counted as it arrives: 413 past BODY_LIMIT
    peer = request.client.host if request.client else None
    # Parsing and the store write block: off the event loop.
    return await run_in_threadpool(
        ingest_body,
        body,
        principal=principal,
        store=services.store,
        inventory=services.inventory,
        normalizer=services.normalizer,
        peer=peer,
    )
