"""The durable spool between the receivers and the store: append-only segment files on disk.

Receivers append every record here before anything else; the drain reads batches, writes them
to the store and only then moves the checkpoint. A crash loses nothing the spool holds: the
drain replays from the checkpoint and deterministic event ids make the replay a no-op.

On disk (``<dir>/``): ``NNNNNNNNNNNN.seg`` segment files of frames (``spool_format``) and a
``checkpoint`` file. Each run of the service writes its own segments, each starting with a
header that holds the run's random checksum seed.

What goes wrong and what happens:

- A write fails or is cut short (disk full, file too large, I/O error): the segment is cut back
  to the end of the last complete frame and the caller gets ``SpoolUnavailable``; it keeps the
  records and tries again (TCP stops reading, file tailers do not advance). If even the cut
  fails, the next write starts a new segment, and readers skip the garbage (below).
- Free disk space under ``spool.min_free_mb``: appends are refused the same way before the disk
  is full, so the store, the checkpoint and the state files still have room.
- A torn or damaged frame anywhere (a crash mid-write, a bad disk): readers resynchronise on
  the next intact frame (marker, length and seeded checksum) and keep every record after it;
  what was skipped is logged with its place and size. A torn tail is cut off at open.
- Segments of the previous format (no marker) are migrated at open: their records from the
  checkpoint on are rewritten as one new segment, then the checkpoint moves and they are deleted.
"""

from __future__ import annotations

import errno
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
from collectors.spool_format import (
    FRAME,
    HEAD,
    MARK,
    MARK_BYTES,
    MAX_PAYLOAD,
    SEGMENT_HEADER_SIZE,
    FrameReader,
    SpoolItem,
    decode_v1_frames,
    encode_item,
    encode_lines,
    frame_at,
    new_seed,
    read_segment_header,
    segment_header,
)
from sentinel.collection_health import CollectionHealth
from sentinel.config import SpoolSettings
from sentinel.errors import CollectorError

logger = logging.getLogger(__name__)

_CHECKPOINT = struct.Struct("<4sQQI")  # magic, segment, offset, crc32 of the first 20 bytes
_CHECKPOINT_MAGIC = b"SPC1"
_SEGMENT_SUFFIX = ".seg"
_READ_CHUNK = 4 * 1024 * 1024  # bytes read at a time, so a big backlog does not load at once
_FREE_CHECK_SECONDS = 0.5  # free space is asked of the file system at most this often...
_FREE_CHECK_SHARE = 4  # ...unless a quarter of the room above the floor was written since


def floor_margin(floor: int) -> int:
    """Once under the free-space floor, how much above it must be free again before records are
    taken again: a disk hovering at the floor must not flip between full and not full."""
    return max(1024 * 1024, floor // 8)


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
    truncated_bytes: int  # a torn tail cut off
    skipped_bytes: int = 0  # damaged frames in the middle, passed over (every intact frame after them is kept)
    migrated_records: int = 0  # records rewritten from the previous format


class SpoolUnavailable(CollectorError):
    """The spool cannot take records now (disk full, write error, closed). Nothing was written;
    keep the records and try again later."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the spool cannot take records: {reason}")
        self.reason = reason


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old or the new content, never half.

    A failure (disk full) raises ``OSError`` and leaves the old content and no temporary file.
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        _fsync_dir(path.parent)


def error_text(exc: BaseException) -> str:
    """An OS error as its text without file names (``No space left on device``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class Spool:
    """Append-only on-disk queue with one reader (the drain) and any number of writer threads."""

    def __init__(self, directory: Path, settings: SpoolSettings, *, health: CollectionHealth | None = None) -> None:
        self.directory = directory
        self.settings = settings
        self.health = health
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._fd: int | None = None  # current segment, opened for appending
        self._seed = 0  # checksum seed of the segments this run writes
        self._end = Position(0, 0)  # end of the last complete frame written
        self._roll_next = False  # a failed write left bytes that could not be cut: start a new segment
        self._next_segment = 1  # the number the next new segment gets
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
        self._seeds: dict[int, int | None] = {}  # segment -> its seed (None: header damaged), for reading
        self._floor = settings.min_free_mb * 1024 * 1024
        self._below_floor = False
        self._free_checked = 0.0
        self._free_room = 0  # bytes above the floor at the last check
        self._written_since_check = 0
        self._unavailable: str | None = None  # why the last append failed; None when the last one worked
        self.refused_appends = 0  # appends refused or failed since open
        self.skipped_bytes = 0  # damaged bytes readers passed over since open

    # lifecycle ---------------------------------------------------------------------------
    def open(self) -> RecoveryReport:
        """Open (creating if needed), migrate and repair, position the reader at the checkpoint,
        and start a new segment for this run's writes."""
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
        migrated = 0
        if any(self._is_format_1(n) for n in segments):
            checkpoint, segments, migrated = self._migrate(checkpoint, segments)
        truncated = skipped = pending = 0
        for number in segments:
            start = checkpoint.offset if number == checkpoint.segment else 0
            count, cut, passed = self._scan_and_repair(number, start)
            pending += count
            truncated += cut
            skipped += passed
        if segments and checkpoint.segment == segments[0]:
            size = self._segment_size(checkpoint.segment)
            if checkpoint.offset > size:
                # The store confirmed data the disk then lost (power loss with fsync=never): nothing to replay.
                logger.warning("spool checkpoint %s is past the end of its segment (%d bytes)", checkpoint, size)
                checkpoint = Position(checkpoint.segment, size)
        self._seed = new_seed()
        number = (segments[-1] if segments else checkpoint.segment - 1) + 1
        if pending == 0:
            # Nothing to replay: start clean, so that no run leaves a segment behind.
            try:
                write_file_atomically(self.directory / "checkpoint", _pack_checkpoint(Position(number, 0)))
            except OSError as exc:
                logger.warning("spool %s: could not save its checkpoint at open: %s", self.directory, error_text(exc))
            else:
                for old in segments:
                    self._segment_path(old).unlink(missing_ok=True)
                segments = []
                checkpoint = Position(number, 0)
        self._end = Position(segments[-1], self._segment_size(segments[-1])) if segments else checkpoint
        self._seeds = {n: s for n, s in self._seeds.items() if n in segments}
        self._fd = None
        self._checkpoint = checkpoint
        self._read_pos = checkpoint
        self._pending = pending
        self._unread = pending
        self._closed = False
        self._next_segment = number
        try:
            self._start_segment(number)
        except OSError as exc:
            # A full disk at start: receivers are refused until a write can start the segment.
            self._roll_next = True
            self._refused(error_text(exc))
        logger.info("spool %s opened: %d records to replay", self.directory, pending)
        return RecoveryReport(
            segments=len(segments) + (self._fd is not None),
            pending_records=pending,
            truncated_bytes=truncated,
            skipped_bytes=skipped,
            migrated_records=migrated,
        )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fd is not None:
                if self.settings.fsync != "never" or self._dirty:
                    try:
                        os.fsync(self._fd)
                    except OSError as exc:
                        logger.warning("spool %s: could not sync at close: %s", self.directory, error_text(exc))
                os.close(self._fd)
                self._fd = None
            if self._read_fd is not None:
                os.close(self._read_fd)
                self._read_fd = None
            self._readable.notify_all()

    # writing -----------------------------------------------------------------------------
    @property
    def seed(self) -> int:
        """The checksum seed frames written now must carry (``encode_lines``)."""
        return self._seed

    def encode_lines(
        self, template: RawRecord, lines: Iterable[tuple[bytes, str | None]], *, partial: bool = False
    ) -> tuple[bytes, int]:
        """``encode_lines`` for this spool: frames to pass to ``append_frames``."""
        return encode_lines(template, lines, self._seed, partial=partial)

    def append(self, items: Iterable[SpoolItem | RawRecord]) -> int:
        """Append records in one write; durable per the fsync policy when this returns.

        Raises ``SpoolUnavailable`` (nothing written) when the spool cannot take them now.
        """
        seed = self._seed
        frames = [
            encode_item(item, seed=seed)
            if isinstance(item, RawRecord)
            else encode_item(item.record, item.reject, partial=item.partial, seed=seed)
            for item in items
        ]
        return self.append_frames(b"".join(frames), len(frames))

    def append_frames(self, data: bytes, count: int) -> int:
        """Append ``count`` frames already encoded (``encode_lines``) in one write.

        Raises ``SpoolUnavailable`` (nothing written) when the spool cannot take them now.
        """
        if not count:
            return 0
        with self._lock:
            if self._closed:
                raise SpoolUnavailable("the spool is closed")
            try:
                self._check_room(len(data))
                if (
                    self._fd is None
                    or self._roll_next
                    or (
                        self._end.offset > SEGMENT_HEADER_SIZE
                        and self._end.offset + len(data) > self.settings.segment_bytes
                    )
                ):
                    self._start_segment(self._next_segment)
                self._write_frames(data)
            except SpoolUnavailable as exc:
                self._refused(exc.reason)
                raise
            except OSError as exc:
                self._refused(error_text(exc))
                raise SpoolUnavailable(error_text(exc)) from exc
            self._end = Position(self._end.segment, self._end.offset + len(data))
            self._pending += count
            self._unread += count
            self._sync_per_policy()
            self._readable.notify_all()
            if self._unavailable is not None:
                self._unavailable = None
                if self.health is not None:
                    self.health.clear("spool_unwritable")
        return count

    def _refused(self, reason: str) -> None:
        self._unavailable = reason
        self.refused_appends += 1
        if self.health is not None:
            self.health.report("spool_unwritable", reason)

    @property
    def unavailable(self) -> str | None:
        """Why the last append failed, or None if it worked."""
        return self._unavailable

    def free_bytes(self) -> int:
        st = os.statvfs(self.directory)
        return st.f_bavail * st.f_frsize

    def _check_room(self, size: int) -> None:
        """Refuse before the disk is full: the floor keeps room for the store and the state files."""
        if not self._floor:
            return
        now = time.monotonic()
        self._written_since_check += size
        if (
            now - self._free_checked >= _FREE_CHECK_SECONDS
            or self._written_since_check * _FREE_CHECK_SHARE >= self._free_room
        ):
            self._free_room = self.free_bytes() - self._floor
            self._free_checked = now
            self._written_since_check = size
        if self._free_room - self._written_since_check < (floor_margin(self._floor) if self._below_floor else 0):
            self._below_floor = True
            self._written_since_check -= size
            self._free_checked = 0.0  # ask the file system again next time
            raise SpoolUnavailable(f"free disk space is below the floor of {self.settings.min_free_mb} MB")
        self._below_floor = False

    def _write_frames(self, data: bytes) -> None:
        """Write ``data`` whole at the end of the segment, or leave the segment as it was and raise."""
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            if view.nbytes != len(data):
                self._cut_back()
            raise

    def _cut_back(self) -> None:
        """A write stopped midway: remove its bytes so that the segment ends with a whole frame."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._end.offset)
        except OSError as exc:
            # The bytes stay; readers skip them (they resynchronise), and new frames go to a new segment.
            logger.warning(
                "spool %s: could not cut a failed write back (%s); continuing in a new segment",
                self.directory,
                error_text(exc),
            )
            try:
                self._end = Position(self._end.segment, os.fstat(self._fd).st_size)
            except OSError:
                pass
            self._roll_next = True

    def _create_segment(self, number: int) -> int:
        """A new segment file holding only its header; removed again if that cannot be written."""
        path = self._segment_path(number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        try:
            header = segment_header(self._seed)
            if os.write(fd, header) != len(header):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if self.settings.fsync != "never":
                os.fsync(fd)
            _fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return fd

    def _start_segment(self, number: int) -> None:
        """Write from now on to a new segment ``number``; the current one is synced and closed."""
        fd = self._create_segment(number)  # raises with the current segment untouched
        old = self._fd
        if old is not None:
            if self.settings.fsync != "never" or self._dirty:
                try:
                    os.fsync(old)
                except OSError as exc:
                    logger.warning("spool %s: could not sync a full segment: %s", self.directory, error_text(exc))
            os.close(old)
        self._fd = fd
        self._seeds[number] = self._seed
        self._end = Position(number, SEGMENT_HEADER_SIZE)
        self._next_segment = number + 1
        self._dirty = False
        self._roll_next = False

    def _sync_per_policy(self) -> None:
        policy = self.settings.fsync
        if policy == "always":
            self._fsync()
            return
        self._dirty = True
        if policy == "batch" and time.monotonic() - self._last_fsync >= self.settings.fsync_interval_seconds:
            self._fsync()

    def _fsync(self) -> None:
        """fsync the current segment; a failure is reported and retried at the next sync (the data
        is written, so nothing is refused for it)."""
        assert self._fd is not None
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._dirty = True
            self._last_fsync = time.monotonic()
            if self.health is not None:
                self.health.report("spool_unwritable", f"cannot sync to disk: {error_text(exc)}")
            return
        self._last_fsync = time.monotonic()
        self._dirty = False

    def sync(self) -> None:
        """Make everything appended so far durable (before saving state that depends on it)."""
        with self._lock:
            if not self._closed and self._fd is not None and self._dirty:
                self._fsync()

    def sync_if_due(self) -> None:
        """Called when idle so the ``batch`` policy's interval holds even when writes stop."""
        with self._lock:
            if self._closed or self._fd is None or not self._dirty or self.settings.fsync != "batch":
                return
            if time.monotonic() - self._last_fsync >= self.settings.fsync_interval_seconds:
                self._fsync()

    # reading -----------------------------------------------------------------------------
    def read_batch(self, max_records: int, wait_seconds: float = 0.0, max_bytes: int | None = None) -> SpoolBatch:
        """Up to ``max_records`` records after the last read, waiting up to ``wait_seconds`` for a full batch.

        Returns as soon as ``max_records`` are available, or when the wait is over with what there is.
        ``max_bytes``: stop once about this many bytes of frames are read (a batch of 64 KiB records
        would otherwise hold hundreds of megabytes at once). Raises ``OSError`` when a segment
        cannot be read (the caller retries; the position stays).
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
        read = 0
        try:
            while len(items) < max_records and pos < end and (max_bytes is None or read < max_bytes):
                if pos.segment < end.segment:
                    size = self._segment_size(pos.segment)
                    if size < 0 or pos.offset >= size:
                        pos = Position(pos.segment + 1, 0)
                        continue
                    limit = size
                else:
                    limit = end.offset
                start = pos.offset
                pos = self._read_frames(pos, limit, max_records, items)  # at most one read chunk or frame
                read += pos.offset - start
        except OSError:
            self._forget_reader()  # open the file again next time: it may have been replaced
            raise
        self._read_pos = pos
        with self._lock:
            self._unread = max(0, self._unread - len(items))
        return SpoolBatch(items, pos)

    def rewind(self) -> None:
        """Read again from the checkpoint: the last batches read were not stored."""
        with self._lock:
            self._read_pos = self._checkpoint
            self._unread = self._pending

    def _segment_size(self, number: int) -> int:
        """The segment's size; -1 when it is gone (removed by hand: passed over with a warning)."""
        try:
            return self._segment_path(number).stat().st_size
        except FileNotFoundError:
            if number >= self._checkpoint.segment:
                logger.warning("spool segment %s is missing; going on with the next", self._segment_path(number))
            return -1

    def _forget_reader(self) -> None:
        if self._read_fd is not None:
            os.close(self._read_fd)
        self._read_fd = None
        self._read_fd_segment = -1
        self._seeds = {n: s for n, s in self._seeds.items() if s is not None}

    def _reader_fd(self, segment: int) -> int:
        if self._read_fd_segment != segment:
            self._forget_reader()
            self._read_fd = os.open(self._segment_path(segment), os.O_RDONLY)
            self._read_fd_segment = segment
        assert self._read_fd is not None
        return self._read_fd

    def _segment_seed(self, segment: int, fd: int) -> int | None:
        if segment not in self._seeds:
            self._seeds[segment] = read_segment_header(os.pread(fd, SEGMENT_HEADER_SIZE, 0))
            if self._seeds[segment] is None:
                logger.error(
                    "spool segment %s: its header is damaged, so its frames cannot be checked; skipping it",
                    self._segment_path(segment),
                )
        return self._seeds[segment]

    def _read_frames(self, pos: Position, limit: int, want: int, out: list[SpoolItem]) -> Position:
        """Decode frames of one segment from ``pos`` up to byte ``limit`` until ``out`` holds ``want`` items."""
        fd = self._reader_fd(pos.segment)
        seed = self._segment_seed(pos.segment, fd)
        if seed is None:
            self.skipped_bytes += max(0, limit - pos.offset)
            return Position(pos.segment, limit)
        offset = max(pos.offset, SEGMENT_HEADER_SIZE)
        if offset >= limit:
            return Position(pos.segment, limit)
        self._reader.use_seed(seed)
        buf = os.pread(fd, min(limit - offset, _READ_CHUNK), offset)
        used, bad = self._reader.read(buf, want - len(out), out)
        if used == 0 and not bad:
            # One frame larger than the chunk, or bytes before ``limit`` that are no frame.
            if len(buf) >= FRAME.size:
                mark, length, _ = FRAME.unpack_from(buf)
                stop = FRAME.size + length
                if mark == MARK and length <= MAX_PAYLOAD and stop > len(buf) and offset + stop <= limit:
                    used, bad = self._reader.read(os.pread(fd, stop, offset), 1, out)
            bad = used == 0
        if bad:
            at = offset + used
            resumed = self._resync(fd, seed, at, limit)
            self.skipped_bytes += resumed - at
            logger.error(
                "spool segment %s: a damaged frame at byte %d; skipped %d bytes to the next intact frame",
                self._segment_path(pos.segment),
                at,
                resumed - at,
            )
            return Position(pos.segment, resumed)
        return Position(pos.segment, offset + used)

    def _resync(self, fd: int, seed: int, start: int, limit: int) -> int:
        """The offset of the first intact frame after ``start`` (before ``limit``), else ``limit``."""
        at = start + 1
        while at < limit:
            buf = os.pread(fd, min(limit - at, _READ_CHUNK), at)
            found = buf.find(MARK_BYTES)
            while found >= 0:
                candidate = at + found
                if frame_at(buf, found, seed) >= 0 or self._intact_at(fd, seed, candidate, limit):
                    return candidate
                found = buf.find(MARK_BYTES, found + 1)
            if len(buf) < len(MARK_BYTES):
                break
            at += len(buf) - (len(MARK_BYTES) - 1)  # a marker across the chunk boundary is found next time
        return limit

    @staticmethod
    def _intact_at(fd: int, seed: int, offset: int, limit: int) -> bool:
        """Whether an intact frame (too large for the chunk it was found in) starts at ``offset``."""
        head = os.pread(fd, FRAME.size, offset)
        if len(head) < FRAME.size:
            return False
        mark, length, _ = FRAME.unpack_from(head)
        if mark != MARK or length < HEAD.size or length > MAX_PAYLOAD or offset + FRAME.size + length > limit:
            return False
        return frame_at(os.pread(fd, FRAME.size + length, offset), 0, seed) >= 0

    # confirming --------------------------------------------------------------------------
    def commit(self, position: Position, count: int) -> None:
        """The store holds everything before ``position`` (``count`` records): move the checkpoint.

        Raises ``OSError`` when the checkpoint cannot be saved; the old one stays and the caller
        tries again (the records are in the store, so a replay would only find duplicates).
        """
        if position <= self._checkpoint:
            return
        write_file_atomically(self.directory / "checkpoint", _pack_checkpoint(position))
        old = self._checkpoint
        self._checkpoint = position
        with self._lock:
            self._pending = max(0, self._pending - count)
        for number in range(old.segment, position.segment):
            self._segment_path(number).unlink(missing_ok=True)
            self._seeds.pop(number, None)

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
            return max(0, end.offset - max(start.offset, SEGMENT_HEADER_SIZE))
        total = 0
        for number in range(start.segment, end.segment + 1):
            try:
                size = self._segment_path(number).stat().st_size
            except FileNotFoundError:
                continue
            total += max(0, size - max(start.offset if number == start.segment else 0, SEGMENT_HEADER_SIZE))
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

    def _is_format_1(self, number: int) -> bool:
        with open(self._segment_path(number), "rb") as fh:
            start = fh.read(len(MARK_BYTES))
        return bool(start) and start != MARK_BYTES

    def _migrate(self, checkpoint: Position, segments: list[int]) -> tuple[Position, list[int], int]:
        """Rewrite the format 1 records after the checkpoint as one format 2 segment.

        Format 2 segments are only written after a migration finished (the checkpoint then lies
        past every format 1 segment), so any found here are left by an interrupted migration.
        """
        old = [n for n in segments if self._is_format_1(n)]
        for number in segments:
            if number not in old:
                self._segment_path(number).unlink()
        number = old[-1] + 1
        self._seed = new_seed()
        path = self._segment_path(number)
        count = 0
        with open(path, "wb") as out:
            os.chmod(path, 0o600)
            out.write(segment_header(self._seed))
            for segment in old:
                data = self._segment_path(segment).read_bytes()
                start = checkpoint.offset if segment == checkpoint.segment else 0
                for end, item in decode_v1_frames(data):
                    if item is None:
                        logger.warning(
                            "spool segment %s (previous format): a torn or damaged frame at byte %d; "
                            "the %d bytes after it are dropped",
                            self._segment_path(segment),
                            end,
                            len(data) - end,
                        )
                        break
                    if end > start:
                        out.write(encode_item(item.record, item.reject, seed=self._seed))
                        count += 1
            out.flush()
            os.fsync(out.fileno())
        _fsync_dir(self.directory)
        write_file_atomically(self.directory / "checkpoint", _pack_checkpoint(Position(number, 0)))
        for segment in old:
            self._segment_path(segment).unlink(missing_ok=True)
        logger.warning("spool %s: migrated %d records from the previous spool format", self.directory, count)
        return Position(number, 0), [number], count

    def _scan_and_repair(self, number: int, start: int) -> tuple[int, int, int]:
        """Count the intact frames after ``start``, passing over damaged ones; cut a torn tail.

        Returns (records, bytes cut from the tail, bytes passed over in the middle).
        """
        path = self._segment_path(number)
        data = path.read_bytes()
        seed = read_segment_header(data)
        if seed is None:
            if len(data) <= SEGMENT_HEADER_SIZE:  # created, the header never written whole: empty
                path.unlink()
                return 0, len(data), 0
            logger.error("spool segment %s: its header is damaged; its %d bytes are skipped", path, len(data))
            return 0, 0, len(data)
        self._seeds[number] = seed
        offset = max(start, SEGMENT_HEADER_SIZE)
        count = skipped = 0
        while offset < len(data):
            stop = frame_at(data, offset, seed)
            if stop >= 0:
                offset = stop
                count += 1
                continue
            following = self._next_intact(data, offset, seed)
            if following < 0:
                break
            logger.warning(
                "spool segment %s: a damaged frame at byte %d; skipping %d bytes, keeping the intact frames after it",
                path,
                offset,
                following - offset,
            )
            skipped += following - offset
            offset = following
        cut = len(data) - offset
        if cut:
            logger.warning(
                "spool segment %s: a torn frame at byte %d; cutting %d bytes (a write torn by a crash)",
                path,
                offset,
                cut,
            )
            with open(path, "r+b") as fh:
                fh.truncate(offset)
                fh.flush()
                os.fsync(fh.fileno())
        return count, cut, skipped

    @staticmethod
    def _next_intact(data: bytes, offset: int, seed: int) -> int:
        found = data.find(MARK_BYTES, offset + 1)
        while found >= 0:
            if frame_at(data, found, seed) >= 0:
                return found
            found = data.find(MARK_BYTES, found + 1)
        return -1


def _pack_checkpoint(position: Position) -> bytes:
    head = struct.pack("<4sQQ", _CHECKPOINT_MAGIC, position.segment, position.offset)
    return head + struct.pack("<I", zlib.crc32(head))


__all__ = [
    "Position",
    "RecoveryReport",
    "Spool",
    "SpoolBatch",
    "SpoolItem",
    "SpoolUnavailable",
    "encode_item",
    "encode_lines",
    "error_text",
    "floor_margin",
    "write_file_atomically",
]
