"""Logs and events as JSON over HTTP (``POST /api/v1/ingest``), stored before the answer.

A request body is one JSON value, an array of them, or newline-delimited JSON. Each record is:

- a Windows event as evtx-rs/``sentinel ingest`` JSON (``{"Event": {"System": ...}}``);
- a log line: ``{"message": "<34>Oct 11 22:14:15 host sshd[1]: ...", "host": "web01"}`` (``host``
  optional), parsed like a syslog line;
- anything else is refused for that record (kept as a dead letter with the reason).

Records are normalised and written to the store before the response, so a 200 means durable.
What becomes of each record (whose it is, its id, its dead letter) is ``collectors.http_records``;
the route (content type, streamed body limit) is ``sentinel.web.api.ingest``.
"""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel

from collectors.http_records import Sender, ingest_records, parse_body
from collectors.normalize import Normalizer
from sentinel.auth import PermissionDenied, Principal
from sentinel.errors import TooLargeError
from sentinel.inventory import Inventory
from sentinel.store.base import Store

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_RECORDS = 10_000


class IngestResult(BaseModel):
    received: int
    stored: int
    duplicates: int
    dead_letters: int
    errors: list[str]


def ingest(
    body: bytes, *, principal: Principal, store: Store, inventory: Inventory, normalizer: Normalizer, peer: str | None
) -> IngestResult:
    """Normalise and store one request body; refused records become dead letters.

    ``peer`` is the forwarder's address: it is not who logged, so it plays no part in the records'
    attribution or identity (the token's institution does).
    """
    if len(body) > MAX_BODY_BYTES:
        raise TooLargeError(f"request body over {MAX_BODY_BYTES} bytes; send smaller batches")
    records = parse_body(body)
    if len(records) > MAX_RECORDS:
        raise TooLargeError(f"{len(records)} records in one request; at most {MAX_RECORDS}")
    institution = inventory.get(principal.institution_id) if principal.institution_id else None
    if principal.institution_id and institution is None:
        raise PermissionDenied("this token's institution is not in the inventory")
    outcome = ingest_records(
        records,
        Sender(principal.name, institution),
        store=store,
        normalizer=normalizer,
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
