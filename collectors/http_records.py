"""Records posted to the ingest API → events and dead letters (the route is ``collectors.http_ingest``).

A request body is one JSON value, an array of them, or newline-delimited JSON. Each record is a
Windows event (``{"Event": {"System": ...}}``) or a log line (``{"message": "...", "host": "web01"}``);
anything else, and anything that fails on the way (a line that does not parse, a record nested
deeper than JSON can be stored, an event the store refuses) becomes a dead letter for that record
alone, with its bytes: the rest of the batch is stored.

Who sent it decides whose it is: an institution's token makes every record that institution's
(``organization.id`` and ``.name``), whatever host it names. Ids follow ``sentinel.events.event_id``:
the institution (or, for a SOC token's unattributed records, the token) and the whole record in
canonical JSON; the token's *name* plays no part for an institution, so two institutions' tokens
of the same name never make each other's records duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from collectors.dead_letters import COLLECTION as DEAD_LETTERS
from collectors.dead_letters import dead_letter_document
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from collectors.windows.event_json import event_from_json
from sentinel.errors import ConflictError, ParseError, SentinelError
from sentinel.events import Event, canonical_json, event_id
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import Store

log = logging.getLogger(__name__)

_NOT_A_RECORD = 'expected a Windows event {"Event": ...} or a log line {"message": "..."}'


@dataclass(frozen=True, slots=True)
class Sender:
    """The authenticated caller: its token's name and the institution it is bound to (None: SOC/admin)."""

    name: str
    institution: Institution | None = None

    @property
    def source(self) -> str:
        """The authenticated source that owns the ids of records no institution owns."""
        return f"http:{self.name}"


class Posted(NamedTuple):
    """One record of a request: its JSON value and its bytes when the body shows them (else None);
    for a line of newline-delimited JSON that is not JSON, why (it becomes a dead letter)."""

    value: Any
    raw: bytes | None
    error: str | None = None


@dataclass(slots=True)
class Outcome:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    errors: list[str] = field(default_factory=list)


def parse_body(body: bytes) -> list[Posted]:
    """The records of a request body; ``SentinelError`` (a 400) when it is not JSON at all.

    In newline-delimited JSON a line that is not JSON is a record of its own that becomes a dead
    letter, so one damaged line does not hold back the others; a body none of whose lines is JSON
    is refused whole.
    """
    text = body.strip()
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as whole:
        records: list[Posted] = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(Posted(orjson.loads(line), line))
                except orjson.JSONDecodeError as exc:
                    records.append(Posted(None, line, f"line {number} is not JSON: {exc}"))
        if all(r.error is not None for r in records):
            raise SentinelError(f"the body is not JSON: {whole}") from whole
        return records
    if isinstance(value, list):
        return [Posted(item, None) for item in value]
    return [Posted(value, text)]


def ingest_records(
    records: list[Posted],
    sender: Sender,
    *,
    store: Store,
    normalizer: Normalizer,
    inventory: Inventory,
    received_at: float,
) -> Outcome:
    """Normalise every record and store the events, then the dead letters; the counts for the answer."""
    outcome = Outcome(received=len(records))
    events: list[Event] = []
    sources: dict[str, RawRecord] = {}  # event id -> the record it came from, for a store refusal
    refused: list[tuple[int, RawRecord, str]] = []
    for index, posted in enumerate(records):
        raw = posted.raw if posted.raw is not None else json_bytes(posted.value)
        kept = RawRecord(raw=raw, received_at=received_at, origin=sender.source, transport="http")
        if posted.error is not None:
            refused.append((index, kept, posted.error))
            continue
        try:
            event = _event(posted.value, sender, normalizer, inventory, received_at)
        except ParseError as exc:
            refused.append((index, kept, exc.message))
            continue
        except Exception as exc:  # a parser bug must not lose the record or the rest of the batch
            log.exception("normalising record %d posted by %s failed", index + 1, sender.name)
            refused.append((index, kept, f"internal error while parsing: {type(exc).__name__}: {exc}"))
            continue
        events.append(event)
        sources[event.id] = kept
    if events:
        result = store.write_events(events)
        outcome.stored, outcome.duplicates = result.created, result.duplicates
        for failed_id, reason in result.failed:
            refused.append((-1, sources[failed_id], f"store refused the event: {reason}"))
    for index, kept, reason in refused:
        doc_id, doc, institution_id = dead_letter_document(kept, reason, sender=sender.institution)
        try:
            store.create_document(DEAD_LETTERS, doc_id, doc, institution_id=institution_id)
            outcome.dead_letters += 1
        except ConflictError:
            pass  # the same refused record sent before: already kept
        if len(outcome.errors) < 10:
            outcome.errors.append(f"record {index + 1}: {reason}" if index >= 0 else reason)
    return outcome


def _event(record: Any, sender: Sender, normalizer: Normalizer, inventory: Inventory, received_at: float) -> Event:
    if not isinstance(record, dict):
        raise ParseError(_NOT_A_RECORD)
    try:
        content = canonical_json(record)
    except TypeError as exc:  # orjson.JSONEncodeError: nested deeper than a stored document may be
        raise ParseError(f"the record cannot be stored as JSON: {exc}") from None
    if "Event" in record:
        return event_from_json(record, source=sender.source, inventory=inventory, sender=sender.institution)
    message = record.get("message")
    if not isinstance(message, str):
        raise ParseError(_NOT_A_RECORD)
    host = record.get("host")
    line = RawRecord(
        raw=message.encode("utf-8", "surrogateescape"),
        received_at=received_at,
        origin=sender.source,
        transport="http",
        peer=None,  # the sender is a forwarder, not the host that logged
        source_name=sender.source,
        host_hint=host if isinstance(host, str) else None,
    )
    event = normalizer.normalize(line, sender=sender.institution)
    # The whole record, not only its message, is what identifies it (its ``host`` is part of it).
    owner = event.organization_id
    event.id = event.doc["event"]["id"] = event_id(owner, sender.source, content)
    return event


def json_bytes(value: Any) -> bytes:
    """``value`` as compact JSON, however deep it nests (orjson stops at 255 levels; this does not)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return b"".join(_json_parts(value))


class _Text(str):
    """Already-encoded JSON punctuation on the encoder's stack."""


def _json_parts(value: Any) -> Iterator[bytes]:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Text):
            yield item.encode()
        elif isinstance(item, dict):
            yield b"{"
            stack.append(_Text("}"))
            entries = list(item.items())
            for i in range(len(entries) - 1, -1, -1):
                key, child = entries[i]
                stack.append(child)
                stack.append(_Text(orjson.dumps(str(key)).decode() + ":"))
                if i:
                    stack.append(_Text(","))
        elif isinstance(item, list):
            yield b"["
            stack.append(_Text("]"))
            for i in range(len(item) - 1, -1, -1):
                stack.append(item[i])
                if i:
                    stack.append(_Text(","))
        else:
            yield orjson.dumps(item)
