"""``.evtx`` files → ECS events, through the ``evtx`` package (Rust evtx parser, JSON output).

Every record goes through the same conversion as JSON input (:mod:`collectors.windows.event_json`),
so an ``.evtx`` and an exact JSON dump of it give identical events (same ids, same fields). A record the
parser cannot read becomes a ``ParseError`` in the output; the other records still come through.

A file cut short (a copy interrupted, a disk that filled) ends inside a 64 KiB chunk, or has
fewer chunks than its header counts. The parser silently skips an incomplete chunk, so the cut
chunk is read on its own, padded with zeros to its full size: its records before the cut come
through, and the file is reported as truncated (``TruncatedInput``).
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from evtx import PyEvtxParser

from collectors.compressed import TruncatedInput
from collectors.windows.event_json import LOCAL_IMPORT, event_from_json
from sentinel.errors import CollectorError, ParseError
from sentinel.events import Event
from sentinel.inventory import Inventory

log = logging.getLogger(__name__)

EVTX_MAGIC = b"ElfFile\x00"
HEADER_BLOCK = 4096  # the file header's size on disk
CHUNK = 65536
_CHUNK_COUNT = struct.Struct("<H")  # at byte 42 of the file header
_CHUNK_COUNT_OFFSET = 42


def is_evtx(path: Path) -> bool:
    """True when the file starts with the EVTX header signature."""
    try:
        with path.open("rb") as fh:
            return fh.read(len(EVTX_MAGIC)) == EVTX_MAGIC
    except OSError:
        return False


def events_from_evtx(
    path: Path, *, inventory: Inventory | None = None, source: str = LOCAL_IMPORT, named_as: Path | None = None
) -> Iterator[Event | ParseError | TruncatedInput]:
    """Each record of an ``.evtx`` file as an event, or the ``ParseError`` saying why not; a
    ``TruncatedInput`` last when the file is cut short.

    ``source``: who sent the records, for their ids (``event_id``); ``named_as``: the file the records
    are named after in messages, when ``path`` is a decompressed copy of it.
    Raises ``CollectorError`` when the file cannot be opened or is not an EVTX file at all.
    """
    if not is_evtx(path):
        raise CollectorError(f"{path}: not an EVTX file (missing 'ElfFile' signature)")
    name = named_as or path
    data_size = path.stat().st_size
    with path.open("rb") as fh:
        header = fh.read(HEADER_BLOCK)
    counted = _CHUNK_COUNT.unpack_from(header, _CHUNK_COUNT_OFFSET)[0] if len(header) >= 44 else 0
    whole, part = divmod(max(0, data_size - HEADER_BLOCK), CHUNK)
    ingested = datetime.now(UTC)
    if len(header) < HEADER_BLOCK:
        yield TruncatedInput(f"{name}: cut short inside the file header ({data_size} bytes): no records")
        return
    if not part and whole >= counted:
        yield from _records(_parser(path, path), name, inventory, ingested, source)
        return
    # Truncated: the whole chunks as they are, then the cut chunk padded to its full size.
    read = 0
    if whole:
        with path.open("rb") as fh:
            for item in _records(
                _parser(_Prefix(fh, HEADER_BLOCK + whole * CHUNK), path), name, inventory, ingested, source
            ):
                read += isinstance(item, Event)
                yield item
    lost = 0
    if part:
        with path.open("rb") as fh:
            fh.seek(HEADER_BLOCK + whole * CHUNK)
            cut_chunk = fh.read(part)
        padded = io.BytesIO(header + cut_chunk + bytes(CHUNK - part))
        for item in _records(_parser(padded, path), name, inventory, ingested, source):
            if isinstance(item, ParseError):
                lost += 1  # the record the cut went through (or zeros after it): not there to read
                continue
            read += isinstance(item, Event)
            yield item
    missing = max(0, counted - whole - (1 if part else 0))
    yield TruncatedInput(
        f"{name}: the file is cut short at byte {data_size}"
        + (f" inside chunk {whole + 1}" if part else "")
        + (f", {missing} more chunk(s) of the {counted} its header counts are missing" if missing else "")
        + f"; {read} records read before the cut"
        + (f", {lost} cut record(s) not readable" if lost else "")
    )


class _Prefix(io.RawIOBase):
    """The first ``size`` bytes of an open file, as a file of that size (the whole chunks of a cut file)."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self._fh = fh
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self._size - self._pos))
        self._fh.seek(self._pos)
        data = self._fh.read(n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _parser(source: Path | io.IOBase, path: Path) -> Any:
    try:
        return PyEvtxParser(source if not isinstance(source, Path) else str(source))
    except (OSError, RuntimeError) as exc:
        raise CollectorError(f"{path}: cannot open EVTX file: {exc}") from exc


def _records(
    parser: Any, name: Path, inventory: Inventory | None, ingested: datetime, source: str
) -> Iterator[Event | ParseError]:
    records = parser.records_json()
    while True:
        try:
            record: Any = next(records)
        except StopIteration:
            return
        except (RuntimeError, OSError, ValueError) as exc:  # a damaged chunk: report, keep going
            yield ParseError(f"{name}: unreadable EVTX record: {exc}")
            continue
        if not isinstance(record, dict):
            continue
        number = record.get("event_record_id")
        try:
            data = orjson.loads(record["data"])
            yield event_from_json(data, source=source, inventory=inventory, ingested=ingested)
        except orjson.JSONDecodeError as exc:
            yield ParseError(f"{name}: record {number}: invalid JSON from the EVTX parser: {exc}")
        except ParseError as exc:
            yield ParseError(f"{name}: record {number}: {exc.message}")
