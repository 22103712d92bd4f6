"""One-shot import of files (``sentinel ingest``): pick the importer by content, store in batches.

Each importer turns a file into events (structured formats) or raw lines (logs, normalised
here). To support a new file type, add one ``Importer`` to ``IMPORTERS``.

Compressed files (gzip, bzip2, xz, told by their first bytes) are read through: log lines as a
stream, other formats from a temporary decompressed copy; their records are named after the
compressed file, so importing it again finds duplicates. An input that ends early (a cut EVTX,
a damaged compressed stream) gives every record before the cut and is reported as truncated.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from collectors.compressed import (
    TruncatedInput,
    compression_of,
    decompress_to,
    decompressed_name,
    open_decompressed,
    read_head,
)
from collectors.dead_letters import dead_letter_document
from collectors.line_import import OversizedLine, read_lines
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.config import Settings
from sentinel.errors import CollectorError, ConflictError, ParseError, StoreError
from sentinel.events import Event
from sentinel.inventory import Inventory
from sentinel.store.base import Store

log = logging.getLogger(__name__)
BATCH_SIZE = 5000


@dataclass(frozen=True, slots=True)
class ImportOptions:
    dataset_hint: str | None = None
    host_hint: str | None = None


@dataclass(slots=True)
class ImportSummary:
    path: str
    importer: str = ""
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    compression: str | None = None  # gzip, bzip2 or xz when the file was compressed
    truncated: bool = False  # the input ends early (what came before the cut is imported)


@dataclass(frozen=True, slots=True)
class ImportContext:
    settings: Settings
    normalizer: Normalizer
    inventory: Inventory
    store: Store
    options: ImportOptions
    on_progress: Callable[[int], None] | None = None
    origin: Path | None = None  # the file the records are named after (a compressed file read from a copy)


# A ParseError: a structured record that was refused; a TruncatedInput: the input ends early.
Item = Event | RawRecord | OversizedLine | ParseError | TruncatedInput


@dataclass(frozen=True, slots=True)
class Importer:
    name: str
    detect: Callable[[Path, bytes], bool]  # (path, first 4 KiB) -> is this mine?
    read: Callable[[Path, ImportContext], Iterator[Item]]


def _read_log_lines(path: Path, ctx: ImportContext) -> Iterator[Item]:
    return read_lines(
        path, dataset_hint=ctx.options.dataset_hint, host_hint=ctx.options.host_hint, on_progress=ctx.on_progress
    )


def _read_compressed_lines(path: Path, codec: str, ctx: ImportContext) -> Iterator[Item]:
    return read_lines(
        path,
        dataset_hint=ctx.options.dataset_hint,
        host_hint=ctx.options.host_hint,
        stream=open_decompressed(path, codec),
    )


def _is_capture(path: Path, head: bytes) -> bool:
    from collectors.sensor.capture_reader import is_capture

    return is_capture(head)


def _read_capture(path: Path, ctx: ImportContext) -> Iterator[Item]:
    from collectors.sensor.pcap_import import findings_from_pcap

    return findings_from_pcap(path, ctx.settings.sensor, ctx.inventory)


def _is_nmap_xml(path: Path, head: bytes) -> bool:
    from collectors.scan.xml_import import is_nmap_xml

    return is_nmap_xml(head)


def _read_nmap_xml(path: Path, ctx: ImportContext) -> Iterator[Item]:
    from collectors.scan.xml_import import events_from_file

    return events_from_file(path, ctx.settings.scan, ctx.inventory)


def _is_evtx(path: Path, head: bytes) -> bool:
    from collectors.windows.evtx_import import EVTX_MAGIC

    return head.startswith(EVTX_MAGIC)


def _read_evtx(path: Path, ctx: ImportContext) -> Iterator[Item]:
    from collectors.windows.evtx_import import events_from_evtx

    return events_from_evtx(path, inventory=ctx.inventory, named_as=ctx.origin)


def _is_windows_json(path: Path, head: bytes) -> bool:
    from collectors.windows.event_json import looks_like_windows_json

    return looks_like_windows_json(head.decode("utf-8", "replace"))


def _read_windows_json(path: Path, ctx: ImportContext) -> Iterator[Item]:
    from collectors.windows.event_json import events_from_json_text

    text = path.read_text(encoding="utf-8", errors="replace")
    if ctx.on_progress is not None:
        ctx.on_progress(len(text))
    return events_from_json_text(text, inventory=ctx.inventory)


LOG_LINES = Importer("log lines", lambda path, head: True, _read_log_lines)

# First match wins; plain log lines are the fallback, last.
IMPORTERS: list[Importer] = [
    Importer("windows evtx", _is_evtx, _read_evtx),
    Importer("windows event json", _is_windows_json, _read_windows_json),
    Importer("packet capture", _is_capture, _read_capture),
    Importer("nmap XML", _is_nmap_xml, _read_nmap_xml),
    LOG_LINES,
]


def _head(path: Path, *, decompressed: bool) -> bytes:
    try:
        if decompressed:
            return read_head(path)
        with path.open("rb") as fh:
            return fh.read(4096)
    except OSError as exc:
        raise CollectorError(f"cannot read {path}: {exc.strerror or exc}") from exc


def choose_importer(path: Path, head: bytes | None = None) -> Importer:
    """The importer for a file by its content (``head``: its first bytes, decompressed)."""
    if head is None:
        head = _head(path, decompressed=True)
    for importer in IMPORTERS:
        if importer.detect(path, head):
            return importer
    raise CollectorError(f"no importer for {path}")  # unreachable: the fallback accepts all


def _items(path: Path, ctx: ImportContext, summary: ImportSummary, workdir: Path) -> Iterator[Item]:
    """The importer's items for ``path``, reading through compression."""
    codec = compression_of(_head(path, decompressed=False))
    importer = choose_importer(path, _head(path, decompressed=True) if codec else None)
    summary.importer = importer.name
    summary.compression = codec
    if codec is None:
        yield from importer.read(path, ctx)
        return
    if importer is LOG_LINES:
        yield from _read_compressed_lines(path, codec, ctx)
        return
    copy = workdir / decompressed_name(path)
    cut = decompress_to(path, codec, copy)
    yield from importer.read(copy, dataclasses.replace(ctx, origin=path, on_progress=None))
    if cut is not None:
        yield TruncatedInput(cut)


def import_file(path: Path, ctx: ImportContext) -> ImportSummary:
    """Import one file; malformed records become dead letters, nothing is dropped silently."""
    summary = ImportSummary(path=str(path))
    with tempfile.TemporaryDirectory(prefix="sentinel-ingest-") as workdir:
        _import(path, ctx, summary, _items(path, ctx, summary, Path(workdir)))
    return summary


def _import(path: Path, ctx: ImportContext, summary: ImportSummary, items: Iterator[Item]) -> None:
    batch: list[Event] = []

    def flush() -> None:
        if not batch:
            return
        try:
            result = ctx.store.write_events(batch)
        except StoreError as exc:
            summary.failed += len(batch)
            summary.errors.append(str(exc))
            batch.clear()
            raise
        summary.stored += result.created
        summary.duplicates += result.duplicates
        summary.failed += len(result.failed)
        summary.errors.extend(f"{event_id}: {reason}" for event_id, reason in result.failed[:10])
        batch.clear()

    def dead_letter(record: RawRecord, reason: str) -> None:
        doc_id, body, institution_id = dead_letter_document(record, reason, inventory=ctx.inventory)
        try:
            ctx.store.create_document("dead_letters", doc_id, body, institution_id=institution_id)
            summary.dead_letters += 1
        except ConflictError:
            summary.duplicates += 1  # the same bad line imported before: already kept

    for item in items:
        if isinstance(item, TruncatedInput):
            summary.truncated = True
            summary.errors.append(item.reason)
            continue
        summary.read += 1
        if isinstance(item, Event):
            batch.append(item)
        elif isinstance(item, OversizedLine):
            dead_letter(item.record, str(item))
        elif isinstance(item, ParseError):
            # A refused structured record: keep the reason, naming the file and the record.
            refused = RawRecord(
                raw=item.message.encode("utf-8", "replace"),
                received_at=time.time(),
                origin=f"file:{path.resolve()}#{summary.read}",
                transport="import",
                source_name=str(path),
            )
            dead_letter(refused, item.message)
        else:
            try:
                batch.append(ctx.normalizer.normalize(item))
            except ParseError as exc:
                dead_letter(item, exc.message)
            except (OverflowError, ValueError) as exc:  # a value no parser should have let through
                dead_letter(item, f"value out of range while parsing: {type(exc).__name__}: {exc}")
        if len(batch) >= BATCH_SIZE:
            flush()
    flush()
