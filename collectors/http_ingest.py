"""Logs and events posted as JSON (`POST /api/v1/ingest`, routed by `sentinel.web`), stored before the answer.

A request body is one JSON value, an array of them, or newline-delimited JSON. Each record is:

- a Windows event as evtx-rs/``sentinel ingest`` JSON (``{"Event": {"System": ...}}``);
- a log line: ``{"message": "<34>Oct 11 22:14:15 host sshd[1]: ...", "host": "web01"}`` (``host``
  optional), parsed like a syslog line from the caller's address;
- anything else is refused for that record (kept as a dead letter with the reason).

Records are normalised and written to the store before the response, so a 200 means durable.
An institution token may only send its own institution's data: events attributed elsewhere (or
to nobody) are tagged with the token's institution, never another. The deterministic event ids
make a re-sent request a no-op.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from pydantic import BaseModel

from collectors.dead_letters import dead_letter_document
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from collectors.windows.event_json import event_from_json
from sentinel.auth import Principal
from sentinel.errors import ConflictError, ParseError, SentinelError, TooLargeError
from sentinel.events import Event, set_field
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


def _records(body: bytes) -> list[Any]:
    text = body.strip()
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        # Not one JSON value: newline-delimited JSON, one record per line.
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise SentinelError(f"line {number} is not JSON: {exc}") from exc
        return records
    return value if isinstance(value, list) else [value]


def _confine(event: Event, principal: Principal) -> None:
    """An institution's token cannot write another institution's events."""
    if principal.institution_id is None or event.organization_id == principal.institution_id:
        return
    claimed = event.organization_id
    set_field(event.doc, "organization.id", principal.institution_id)
    event.doc.setdefault("tags", []).append("sentinel.attributed_by_token")
    if claimed:
        log.warning("ingest by %s: event %s attributed to %s re-tagged", principal.name, event.id, claimed)


def ingest(
    body: bytes, *, principal: Principal, store: Store, inventory: Inventory, normalizer: Normalizer, peer: str | None
) -> IngestResult:
    """Normalise and store one request body; refused records become dead letters."""
    if len(body) > MAX_BODY_BYTES:
        raise TooLargeError(f"request body over {MAX_BODY_BYTES} bytes; send smaller batches")
    records = _records(body)
    if len(records) > MAX_RECORDS:
        raise TooLargeError(f"{len(records)} records in one request; at most {MAX_RECORDS}")
    now = time.time()
    events: list[Event] = []
    refused: list[tuple[int, RawRecord, str]] = []
    for index, record in enumerate(records):
        raw = orjson.dumps(record)
        origin = f"http:{principal.name}"
        try:
            if isinstance(record, dict) and "Event" in record:
                event = event_from_json(record, origin=origin, inventory=inventory)
            elif isinstance(record, dict) and isinstance(record.get("message"), str):
                line = RawRecord(
                    raw=record["message"].encode("utf-8", "surrogateescape"),
                    received_at=now,
                    origin=f"{origin}:{peer}",
                    transport="http",
                    peer=None,  # the sender is a forwarder, not the host that logged
                    source_name=f"http:{principal.name}",
                    host_hint=record.get("host") if isinstance(record.get("host"), str) else None,
                )
                event = normalizer.normalize(line)
            else:
                raise ParseError('expected a Windows event {"Event": ...} or a log line {"message": "..."}')
        except ParseError as exc:
            refused.append(
                (index, RawRecord(raw=raw, received_at=now, origin=f"{origin}#{index}", transport="http"), exc.message)
            )
            continue
        _confine(event, principal)
        events.append(event)
    result = store.write_events(events) if events else None
    dead = 0
    for _, record_raw, reason in refused:
        doc_id, doc, institution = dead_letter_document(record_raw, reason, inventory=inventory)
        try:
            store.create_document("dead_letters", doc_id, doc, institution_id=principal.institution_id or institution)
            dead += 1
        except ConflictError:
            pass  # the same refused record sent before: already kept
    return IngestResult(
        received=len(records),
        stored=result.created if result else 0,
        duplicates=result.duplicates if result else 0,
        dead_letters=dead,
        errors=[f"record {i + 1}: {reason}" for i, _, reason in refused[:10]]
        + [f"{event_id}: {why}" for event_id, why in (result.failed[:10] if result else [])],
    )
