"""Read a log file once, line by line, into raw records (``sentinel ingest``).

Each record's origin is the file's absolute path and the line's byte offset, so importing
the same file twice yields the same event ids and stores nothing twice.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from collectors.compressed import STREAM_ERRORS, TruncatedInput
from collectors.records import RawRecord

MAX_LINE_BYTES = 65536
READ_CHUNK = 1 << 20


class OversizedLine(Exception):
    """A line longer than the limit: its head is kept as a dead letter, the rest skipped."""

    def __init__(self, record: RawRecord, size: int) -> None:
        super().__init__(f"line longer than {MAX_LINE_BYTES} bytes (got {size})")
        self.record = record
        self.size = size


def read_lines(
    path: Path,
    *,
    dataset_hint: str | None = None,
    host_hint: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    stream: io.BufferedIOBase | None = None,
) -> Iterator[RawRecord | OversizedLine | TruncatedInput]:
    """Yield one record per line (the last line counts even without a newline).

    ``stream``: read the lines from it (a decompressed file) instead of opening ``path``, which
    still names them. A stream that ends early (a damaged or cut compressed file) gives its lines
    up to the cut, then a ``TruncatedInput``.
    """
    absolute = str(path.resolve())
    received_at = time.time()
    offset = 0  # byte offset of the start of ``pending``

    def record(raw: bytes, at: int) -> RawRecord:
        return RawRecord(
            raw=raw,
            received_at=received_at,
            origin=f"file:{absolute}:{at}",
            transport="import",
            source_name=absolute,
            dataset_hint=dataset_hint,
            host_hint=host_hint,
        )

    cut: str | None = None
    # read1 on a decompressing stream: one step of the decompressor at a time, so a stream that
    # ends early loses only the step it ends in, not a whole chunk.
    read = stream.read1 if stream is not None else None
    with stream if stream is not None else path.open("rb") as fh:
        read = read or fh.read
        pending = b""
        skipping_from: int | None = None  # offset of an oversized line being skipped
        while True:
            try:
                chunk = read(READ_CHUNK)
            except STREAM_ERRORS as exc:
                at = offset + len(pending)
                cut = f"{path}: the compressed stream is cut short or damaged after {at} bytes ({exc})"
                chunk = b""
            if not chunk:
                break
            if on_progress is not None:
                on_progress(len(chunk))
            data = pending + chunk
            start = 0
            while True:
                end = data.find(b"\n", start)
                if end < 0:
                    break
                if skipping_from is not None:
                    skipping_from = None  # the oversized line ends here; its head was already kept
                else:
                    line = data[start:end].removesuffix(b"\r")
                    if len(line) > max_line_bytes:
                        yield OversizedLine(record(line[:max_line_bytes], offset + start), len(line))
                    elif line:
                        yield record(line, offset + start)
                start = end + 1
            offset += start
            pending = data[start:]
            if skipping_from is not None:
                offset += len(pending)
                pending = b""
            elif len(pending) > max_line_bytes:
                # Never buffer an endless line: keep its head, skip to the next newline.
                yield OversizedLine(record(pending[:max_line_bytes], offset), len(pending))
                skipping_from = offset
                offset += len(pending)
                pending = b""
        if pending and skipping_from is None:
            if len(pending) > max_line_bytes:
                yield OversizedLine(record(pending[:max_line_bytes], offset), len(pending))
            else:
                yield record(pending.removesuffix(b"\r"), offset)
    if cut is not None:
        yield TruncatedInput(cut)
