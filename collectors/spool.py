"""The durable spool between the receivers and the store: append-only segment files on disk.

Receivers append every record here before anything else; the drain reads batches, writes them
to the store and only then moves the checkpoint. A crash loses nothing the spool holds: the
drain replays from the checkpoint and deterministic event ids make the replay a no-op.

On disk (``<dir>/``): ``NNNNNNNNNNNN.seg`` segment files of frames (``spool_format``) and a
``checkpoint`` file. A torn frame at the end (the process died mid-write) is found by its
length or CRC and cut off.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from collectors.records import RawRecord
from collectors.spool_format import FRAME, HEAD, MAX_PAYLOAD, FrameReader, SpoolItem, encode_item, encode_lines
from sentinel.config import SpoolSettings
from sentinel.errors import CollectorError

logger = logging.getLogger(__name__)

_CHECKPOINT = struct.Struct("<4sQQI")  # magic, segment, offset, crc32 of the first 20 bytes
_CHECKPOINT_MAGIC = b"SPC1"
_SEGMENT_SUFFIX = ".seg"
_READ_CHUNK = 4 * 1024 * 1024  # bytes read at a time, so a big backlog does not load at once


class Position(NamedTuple):
    """A place in the spool: segment number and byte offset inside it. Ordered."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpoolBatch:
    items: list[SpoolItem]
    end: Position  # pass to ``Spool.commit`` once every item is in the store


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    segments: int
    pending_records: int
    truncated_bytes: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old or the new content, never half."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if fsync:
        _fsync_dir(path.parent)


class Spool:
    """Append-only on-disk queue with one reader (the drain) and any number of writer threads."""

    def __init__(self, directory: Path, settings: SpoolSettings) -> None:
        self.directory = directory
        self.settings = settings
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._fd: int | None = None  # current segment, opened for appending
        self._end = Position(0, 0)  # end of the last complete frame written
        self._checkpoint = Position(0, 0)
        self._read_pos = Position(0, 0)
        self._read_fd: int | None = None
        self._read_fd_segment = -1
        self._pending = 0  # records appended and not yet committed
        self._unread = 0  # records appended and not yet handed to the reader
        self._last_fsync = time.monotonic()
        self._dirty = False  # written to the OS but not fsynced
        self._closed = True
        self._reader = FrameReader()

    # lifecycle ---------------------------------------------------------------------------
    def open(self) -> RecoveryReport:
        """Open (creating if needed), cut any torn tail, and position the reader at the checkpoint."""
        self.directory.mkdir(parents=True, exist_ok=True)
        segments = self._segments()
        checkpoint = self._load_checkpoint() or Position(segments[0] if segments else 1, 0)
        # Segments before the checkpoint were fully confirmed but not yet deleted.
        for number in segments:
            if number < checkpoint.segment:
                self._segment_path(number).unlink(missing_ok=True)
        segments = [n for n in segments if n >= checkpoint.segment]
        if segments and segments[0] != checkpoint.segment:
            checkpoint = Position(segments[0], 0)
        truncated = 0
        pending = 0
        for number in segments:
            start = checkpoint.offset if number == checkpoint.segment else 0
            count, cut = self._scan_and_repair(number, start)
            pending += count
            truncated += cut
        last = segments[-1] if segments else checkpoint.segment
        self._fd = os.open(self._segment_path(last), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._end = Position(last, os.fstat(self._fd).st_size)
        first_size = self._segment_size(checkpoint.segment)
        if checkpoint.offset > first_size:
            # The store confirmed data the disk then lost (power loss with fsync=never): nothing to replay.
            logger.warning("spool checkpoint %s is past the end of its segment (%d bytes)", checkpoint, first_size)
            checkpoint = Position(checkpoint.segment, first_size)
        if not segments:
            _fsync_dir(self.directory)
        self._checkpoint = checkpoint
        self._read_pos = checkpoint
        self._pending = pending
        self._unread = pending
        self._closed = False
        logger.info("spool %s opened: %d records to replay", self.directory, pending)
        return RecoveryReport(segments=max(len(segments), 1), pending_records=pending, truncated_bytes=truncated)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fd is not None:
                if self.settings.fsync != "never" or self._dirty:
                    os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
            if self._read_fd is not None:
                os.close(self._read_fd)
                self._read_fd = None
            self._readable.notify_all()

    # writing -----------------------------------------------------------------------------
    def append(self, items: Iterable[SpoolItem | RawRecord]) -> int:
        """Append records in one write; durable per the fsync policy when this returns."""
        frames = [
            encode_item(item) if isinstance(item, RawRecord) else encode_item(item.record, item.reject)
            for item in items
        ]
        return self.append_frames(b"".join(frames), len(frames))

    def append_frames(self, data: bytes, count: int) -> int:
        """Append ``count`` frames already encoded (``encode_item``/``encode_lines``) in one write."""
        if not count:
            return 0
        with self._lock:
            if self._closed or self._fd is None:
                raise CollectorError("the spool is closed")
            if self._end.offset > 0 and self._end.offset + len(data) > self.settings.segment_bytes:
                self._roll()
            self._write_all(data)
            self._end = Position(self._end.segment, self._end.offset + len(data))
            self._pending += count
            self._unread += count
            self._sync_per_policy()
            self._readable.notify_all()
        return count

    def _write_all(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _roll(self) -> None:
        assert self._fd is not None
        if self.settings.fsync != "never":
            os.fsync(self._fd)
        os.close(self._fd)
        number = self._end.segment + 1
        self._fd = os.open(self._segment_path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_dir(self.directory)
        self._end = Position(number, 0)
        self._dirty = False

    def _sync_per_policy(self) -> None:
        assert self._fd is not None
        policy = self.settings.fsync
        if policy == "always":
            os.fsync(self._fd)
            return
        self._dirty = True
        now = time.monotonic()
        if policy == "batch" and now - self._last_fsync >= self.settings.fsync_interval_seconds:
            os.fsync(self._fd)
            self._last_fsync = now
            self._dirty = False

    def sync(self) -> None:
        """Make everything appended so far durable (before saving state that depends on it)."""
        with self._lock:
            if not self._closed and self._fd is not None and self._dirty:
                os.fsync(self._fd)
                self._last_fsync = time.monotonic()
                self._dirty = False

    def sync_if_due(self) -> None:
        """Called when idle so the ``batch`` policy's interval holds even when writes stop."""
        with self._lock:
            if self._closed or self._fd is None or not self._dirty or self.settings.fsync != "batch":
                return
            if time.monotonic() - self._last_fsync >= self.settings.fsync_interval_seconds:
                os.fsync(self._fd)
                self._last_fsync = time.monotonic()
                self._dirty = False

    # reading -----------------------------------------------------------------------------
    def read_batch(self, max_records: int, wait_seconds: float = 0.0) -> SpoolBatch:
        """Up to ``max_records`` records after the last read, waiting up to ``wait_seconds`` for a full batch.

        Returns as soon as ``max_records`` are available, or when the wait is over with what there is.
        """
        deadline = time.monotonic() + wait_seconds
        with self._lock:
            while self._unread < max_records and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._readable.wait(remaining)
            end = self._end
        items: list[SpoolItem] = []
        pos = self._read_pos
        while len(items) < max_records and pos < end:
            if pos.segment < end.segment and pos.offset >= self._segment_size(pos.segment):
                pos = Position(pos.segment + 1, 0)
                continue
            limit = end.offset if pos.segment == end.segment else self._segment_size(pos.segment)
            pos = self._read_frames(pos, limit, max_records, items)
        self._read_pos = pos
        with self._lock:
            self._unread -= len(items)
        return SpoolBatch(items, pos)

    def rewind(self) -> None:
        """Read again from the checkpoint: the last batches read were not stored."""
        with self._lock:
            self._read_pos = self._checkpoint
            self._unread = self._pending

    def _segment_size(self, number: int) -> int:
        return self._segment_path(number).stat().st_size

    def _reader_fd(self, segment: int) -> int:
        if self._read_fd_segment != segment:
            if self._read_fd is not None:
                os.close(self._read_fd)
            self._read_fd = os.open(self._segment_path(segment), os.O_RDONLY)
            self._read_fd_segment = segment
        assert self._read_fd is not None
        return self._read_fd

    def _read_frames(self, pos: Position, limit: int, want: int, out: list[SpoolItem]) -> Position:
        """Decode frames of one segment from ``pos`` up to byte ``limit`` until ``out`` holds ``want`` items."""
        fd = self._reader_fd(pos.segment)
        buf = os.pread(fd, min(limit - pos.offset, _READ_CHUNK), pos.offset)
        try:
            used = self._reader.read(buf, want - len(out), out)
            if used == 0 and len(buf) >= FRAME.size:
                # One frame larger than the chunk: read exactly that frame.
                length = FRAME.unpack_from(buf)[0]
                buf = os.pread(fd, FRAME.size + length, pos.offset)
                used = self._reader.read(buf, 1, out)
                if used == 0:
                    raise CollectorError(f"spool segment {pos.segment} ends inside a frame at {pos.offset}")
        except CollectorError as exc:
            # Cannot happen for frames written by this process; the disk changed under us.
            raise CollectorError(f"spool segment {pos.segment} from byte {pos.offset}: {exc}") from exc
        return Position(pos.segment, pos.offset + used)

    # confirming --------------------------------------------------------------------------
    def commit(self, position: Position, count: int) -> None:
        """The store holds everything before ``position`` (``count`` records): move the checkpoint."""
        if position <= self._checkpoint:
            return
        write_file_atomically(self.directory / "checkpoint", _pack_checkpoint(position))
        old = self._checkpoint
        self._checkpoint = position
        with self._lock:
            self._pending = max(0, self._pending - count)
        for number in range(old.segment, position.segment):
            self._segment_path(number).unlink(missing_ok=True)

    # figures -----------------------------------------------------------------------------
    @property
    def pending_records(self) -> int:
        """Records in the spool the store has not confirmed yet."""
        return self._pending

    @property
    def checkpoint(self) -> Position:
        return self._checkpoint

    @property
    def end(self) -> Position:
        return self._end

    def pending_bytes(self) -> int:
        with self._lock:
            end = self._end
        start = self._checkpoint
        if start.segment == end.segment:
            return end.offset - start.offset
        total = 0
        for number in range(start.segment, end.segment + 1):
            try:
                size = self._segment_path(number).stat().st_size
            except FileNotFoundError:
                continue
            total += size - (start.offset if number == start.segment else 0)
        return total

    # files -------------------------------------------------------------------------------
    def _segment_path(self, number: int) -> Path:
        return self.directory / f"{number:012d}{_SEGMENT_SUFFIX}"

    def _segments(self) -> list[int]:
        numbers = []
        for path in self.directory.iterdir():
            if path.suffix == _SEGMENT_SUFFIX and path.stem.isdigit():
                numbers.append(int(path.stem))
        return sorted(numbers)

    def _load_checkpoint(self) -> Position | None:
        path = self.directory / "checkpoint"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if len(data) != _CHECKPOINT.size:
            raise CollectorError(f"spool checkpoint {path} is damaged ({len(data)} bytes); remove it to replay all")
        magic, segment, offset, crc = _CHECKPOINT.unpack(data)
        if magic != _CHECKPOINT_MAGIC or zlib.crc32(data[:20]) != crc:
            raise CollectorError(f"spool checkpoint {path} is damaged; remove it to replay the whole spool")
        return Position(segment, offset)

    def _scan_and_repair(self, number: int, start: int) -> tuple[int, int]:
        """Count the complete frames after ``start``; cut the segment at the first torn or corrupt one."""
        path = self._segment_path(number)
        data = path.read_bytes()
        offset = min(start, len(data))
        count = 0
        head = FRAME.size
        reason: str | None = None
        while offset < len(data):
            if offset + head > len(data):
                reason = "incomplete frame header"
                break
            length, crc = FRAME.unpack_from(data, offset)
            if length < HEAD.size or length > MAX_PAYLOAD:
                reason = f"impossible frame length {length}"
                break
            if offset + head + length > len(data):
                reason = "frame cut short"
                break
            if zlib.crc32(data[offset + head : offset + head + length]) != crc:
                reason = "frame checksum mismatch"
                break
            offset += head + length
            count += 1
        cut = len(data) - offset
        if reason is not None:
            logger.warning(
                "spool segment %s: %s at byte %d; cutting %d bytes (a write torn by a crash)", path, reason, offset, cut
            )
            with open(path, "r+b") as fh:
                fh.truncate(offset)
                fh.flush()
                os.fsync(fh.fileno())
            return count, cut
        return count, 0


def _pack_checkpoint(position: Position) -> bytes:
    head = struct.pack("<4sQQ", _CHECKPOINT_MAGIC, position.segment, position.offset)
    return head + struct.pack("<I", zlib.crc32(head))


__all__ = [
    "Position",
    "RecoveryReport",
    "Spool",
    "SpoolBatch",
    "SpoolItem",
    "encode_item",
    "encode_lines",
    "write_file_atomically",
]
