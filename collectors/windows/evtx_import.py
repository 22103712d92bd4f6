"""``.evtx`` files → ECS events, through the ``evtx`` package (Rust evtx parser, JSON output).

Every record goes through the same conversion as JSON input (:mod:`collectors.windows.event_json`),
so an ``.evtx`` and an exact JSON dump of it give identical events (same ids, same fields). A record the
parser cannot read becomes a ``ParseError`` in the output; the other records still come through.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from evtx import PyEvtxParser

from collectors.windows.event_json import LOCAL_IMPORT, event_from_json
from sentinel.errors import CollectorError, ParseError
from sentinel.events import Event
from sentinel.inventory import Inventory

log = logging.getLogger(__name__)

EVTX_MAGIC = b"ElfFile\x00"


def is_evtx(path: Path) -> bool:
    """True when the file starts with the EVTX header signature."""
    try:
        with path.open("rb") as fh:
            return fh.read(len(EVTX_MAGIC)) == EVTX_MAGIC
    except OSError:
        return False


def events_from_evtx(
    path: Path, *, inventory: Inventory | None = None, source: str = LOCAL_IMPORT
) -> Iterator[Event | ParseError]:
    """Each record of an ``.evtx`` file as an event, or the ``ParseError`` saying why not.

    Raises ``CollectorError`` when the file cannot be opened or is not an EVTX file at all.
    """
    if not is_evtx(path):
        raise CollectorError(f"{path}: not an EVTX file (missing 'ElfFile' signature)")
    try:
        parser = PyEvtxParser(str(path))
    except (OSError, RuntimeError) as exc:
        raise CollectorError(f"{path}: cannot open EVTX file: {exc}") from exc
    ingested = datetime.now(UTC)
    records = parser.records_json()
    while True:
        try:
            record: Any = next(records)
        except StopIteration:
            return
        except (RuntimeError, OSError, ValueError) as exc:  # a damaged chunk: report, keep going
            yield ParseError(f"{path}: unreadable EVTX record: {exc}")
            continue
        if not isinstance(record, dict):
            continue
        number = record.get("event_record_id")
        try:
            data = orjson.loads(record["data"])
            yield event_from_json(data, source=source, inventory=inventory, ingested=ingested)
        except orjson.JSONDecodeError as exc:
            yield ParseError(f"{path}: record {number}: invalid JSON from the EVTX parser: {exc}")
        except ParseError as exc:
            yield ParseError(f"{path}: record {number}: {exc.message}")
