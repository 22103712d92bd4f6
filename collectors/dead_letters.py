"""Dead letters: records that could not become events, kept with the reason and the raw bytes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from collectors.normalize import attribute_line
from collectors.records import RawRecord, record_event_id
from sentinel.events import format_timestamp
from sentinel.inventory import Institution, Inventory

COLLECTION = "dead_letters"
_TEXT_LIMIT = 65536  # characters of the raw text kept readable; the bytes are kept whole in base64


def dead_letter_document(
    record: RawRecord, reason: str, *, inventory: Inventory | None = None, sender: Institution | None = None
) -> tuple[str, dict[str, Any], str | None]:
    """(doc id, body, institution_id) for the store's "dead_letters" collection. The id is the one
    the record would have had as an event (``record_event_id``), so a replay does not store the same
    dead letter twice, and the same bad record of two institutions is two dead letters.

    With an inventory, the dead letter belongs to the institution owning the sender address (or the
    file's host hint), so that institution can see what of theirs could not be read; ``sender`` (the
    institution an authenticated sender is bound to) takes precedence.
    """
    received = format_timestamp(datetime.fromtimestamp(record.received_at, UTC))
    body: dict[str, Any] = {
        "@timestamp": received,
        "reason": reason,
        "origin": record.origin,
        "transport": record.transport,
        "received_at": received,
        # The text is for people (invalid bytes shown as U+FFFD); raw_b64 keeps the exact bytes for a replay.
        "raw_text": record.raw.decode("utf-8", "replace")[:_TEXT_LIMIT],
        "raw_b64": base64.b64encode(record.raw).decode("ascii"),
        "size": len(record.raw),
    }
    for key in ("peer", "source_name", "dataset_hint", "host_hint"):
        value = getattr(record, key)
        if value is not None:
            body[key] = value
    institution = sender
    if institution is None and inventory is not None:
        # Only what the transport says: the content did not parse, so a hostname in it is not trusted.
        institution = attribute_line(inventory, record, None)
    institution_id = institution.id if institution is not None else None
    if institution is not None:
        body["organization"] = {"id": institution.id, "name": institution.name}
    return record_event_id(record, institution_id), body, institution_id
