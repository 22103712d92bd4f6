"""``POST /api/v1/ingest``: logs and events as JSON over HTTP, stored before the answer.

A request body is one JSON value, an array of them, or newline-delimited JSON. Each record is:

- a Windows event as evtx-rs/``sentinel ingest`` JSON (``{"Event": {"System": ...}}``);
- a log line: ``{"message": "<34>Oct 11 22:14:15 host sshd[1]: ...", "host": "web01"}`` (``host``
  optional), parsed like a syslog line;
- anything else is refused for that record (kept as a dead letter with the reason).

Records are normalised and written to the store before the response, so a 200 means durable.
What becomes of each record (whose it is, its id, its dead letter) is ``collectors.http_records``.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from pydantic import BaseModel

from collectors.http_records import Sender, ingest_records, parse_body
from collectors.normalize import Normalizer
from sentinel.api.deps import CurrentPrincipal, InventoryDep, StoreDep
from sentinel.auth import PermissionDenied
from sentinel.errors import TooLargeError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["ingest"])

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_RECORDS = 10_000


class IngestResult(BaseModel):
    received: int
    stored: int
    duplicates: int
    dead_letters: int
    errors: list[str]


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
    if len(body) > MAX_BODY_BYTES:
        raise TooLargeError(f"request body over {MAX_BODY_BYTES} bytes; send smaller batches")
    records = parse_body(body)
    if len(records) > MAX_RECORDS:
        raise TooLargeError(f"{len(records)} records in one request; at most {MAX_RECORDS}")
    institution = inventory.get(principal.institution_id) if principal.institution_id else None
    if principal.institution_id and institution is None:
        raise PermissionDenied("this token's institution is not in the inventory")
    sender = Sender(principal.name, institution)
    outcome = ingest_records(
        records,
        sender,
        store=store,
        normalizer=_normalizer(request, inventory),
        inventory=inventory,
        received_at=time.time(),
    )
    return IngestResult(
        received=outcome.received,
        stored=outcome.stored,
        duplicates=outcome.duplicates,
        dead_letters=outcome.dead_letters,
        errors=outcome.errors,
    )
