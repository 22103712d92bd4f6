"""Follow log files: poll for new lines, survive rotation and restarts without loss or duplicates.

Each configured path is read as a series of *generations*: the file that is at the path now,
then the file that replaces it after a rotation, and so on. A line's identity (its origin) is
the path, the generation and the line's byte offset, so a line read twice (after a crash, or
from the rotated copy) gets the same event id and the store keeps it once.

Rotation by rename: the old inode is read to its end before switching to the new file.
Copytruncate: the file shrinks (or its bytes before our offset change); the copy is found next
to it by the bytes just before our offset and finished first. Per file, (generation, device,
inode, offset, fingerprint) is saved in a state file, only after the lines are in the spool.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import orjson

from collectors.records import RawRecord
from collectors.spool import SpoolItem, write_file_atomically
from sentinel.config import FileSource
from sentinel.errors import CollectorError

logger = logging.getLogger(__name__)

READ_CHUNK = 1 << 20  # bytes read per file per step, so memory stays bounded
_BACKOFF_MAX = 5.0  # longest wait between polls while the spool refuses lines
_QUIET_SECONDS = 300.0  # a repeated read or state-file error is logged at most this often
MAX_LINE_BYTES = 65536
_FINGERPRINT = 64  # bytes before the offset that identify "the same file content"
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip")


@dataclass(frozen=True, slots=True)
class FileState:
    """Where reading a configured path stands; saved only once the lines before it are spooled."""

    generation: int
    dev: int
    ino: int
    offset: int  # start of the first line not yet spooled
    fingerprint: str = ""  # hex of the bytes just before ``offset``

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FileState:
        try:
            return cls(
                generation=int(str(data["generation"])),
                dev=int(str(data["dev"])),
                ino=int(str(data["ino"])),
                offset=int(str(data["offset"])),
                fingerprint=str(data.get("fingerprint", "")),
            )
        except (KeyError, ValueError) as exc:
            raise CollectorError(f"invalid file tail state entry: {data!r}") from exc


def _any(_: os.stat_result) -> bool:
    return True


def _same_content(fd: int, offset: int, fingerprint: bytes) -> bool:
    """Does this file hold ``fingerprint`` just before ``offset`` (so reading on from there is right)?"""
    if not fingerprint:
        return True
    if offset < len(fingerprint):
        return False
    return os.pread(fd, len(fingerprint), offset - len(fingerprint)) == fingerprint


class FileTailer:
    """Reads one configured file; ``poll`` returns new records, ``commit`` confirms them."""

    def __init__(self, source: FileSource, state: FileState | None, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.source = source
        self.path = Path(source.path)
        self.name = str(source.path)
        self.max = max_line_bytes
        self.committed = state
        self._fd: int | None = None
        self._gen = 0
        self._dev = 0
        self._ino = 0
        self.offset = 0  # start of the current (incomplete) line
        self._cursor = 0  # how far this file has been read
        self._partial = bytearray()  # head of the incomplete line (at most max + 1 bytes)
        self._fp = b""
        self._rotated = False  # the open file is no longer at the path: finish it, then switch
        self._rotated_idle = False  # it was at its end at the last poll too
        self._waiting: int | None = None  # generation expected at the path once it exists
        self.received_at = 0.0

    # opening -----------------------------------------------------------------------------
    def _open_path(self, generation: int) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._waiting = generation  # rotated away and not re-created yet
            return False
        self._adopt(fd, generation, 0, b"")
        return True

    def _adopt(self, fd: int, generation: int, offset: int, fingerprint: bytes, rotated: bool = False) -> None:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise CollectorError(f"{self.name} is not a regular file")
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd
        self._waiting = None
        self._gen = generation
        self._dev, self._ino = st.st_dev, st.st_ino
        self.offset = self._cursor = offset
        self._partial.clear()
        self._fp = fingerprint
        self._rotated = rotated
        self._rotated_idle = False

    def _resume(self) -> None:
        """Open where the committed state says, wherever that file is now."""
        state = self.committed
        if state is None or state.ino == 0:
            self._open_path(state.generation if state is not None else 0)
            return
        fingerprint = bytes.fromhex(state.fingerprint)
        found = self._find_sibling(lambda st: (st.st_dev, st.st_ino) == (state.dev, state.ino), state, fingerprint)
        if found is not None:
            fd, at_path = found
            self._adopt(fd, state.generation, state.offset, fingerprint, rotated=not at_path)
            return
        # Not by inode: perhaps a copytruncate copy of it (same bytes before the offset).
        found = self._find_sibling(_any, state, fingerprint, include_path=False) if fingerprint else None
        if found is not None:
            self._adopt(found[0], state.generation, state.offset, fingerprint, rotated=True)
            logger.info("%s: resuming in the rotated copy of generation %d", self.name, state.generation)
            return
        logger.warning(
            "%s: the file read up to offset %d is gone; continuing with the current file (lines in between are lost)",
            self.name,
            state.offset,
        )
        self._open_path(state.generation + 1)

    def _find_sibling(
        self,
        match: Callable[[os.stat_result], bool],
        state: FileState,
        fingerprint: bytes,
        *,
        include_path: bool = True,
    ) -> tuple[int, bool] | None:
        """An open fd of the path or a rotated sibling (newest first) that passes ``match`` and has our content."""
        candidates: list[tuple[float, Path, bool]] = []
        if include_path:
            candidates.append((float("inf"), self.path, True))
        try:
            with os.scandir(self.path.parent) as entries:
                for entry in entries:
                    if entry.name != self.path.name and entry.name.startswith(self.path.name):
                        if not entry.name.endswith(_COMPRESSED) and entry.is_file(follow_symlinks=False):
                            candidates.append((entry.stat().st_mtime, Path(entry.path), False))
        except FileNotFoundError:
            return None
        for _, candidate, at_path in sorted(candidates, key=lambda c: c[0], reverse=True):
            try:
                fd = os.open(candidate, os.O_RDONLY)
            except OSError:
                continue
            st = os.fstat(fd)
            if match(st) and st.st_size >= state.offset and _same_content(fd, state.offset, fingerprint):
                return fd, at_path
            os.close(fd)
        return None

    # reading -----------------------------------------------------------------------------
    def poll(self, received_at: float) -> tuple[list[SpoolItem], bool]:
        """New complete lines (as records) and whether more is waiting to be read right away."""
        self.received_at = received_at
        items: list[SpoolItem] = []
        if self._fd is None:
            self._resume()
            if self._fd is None:
                return items, False
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size < self._cursor or not _same_content(self._fd, self.offset, self._fp):
            self._truncated()
            assert self._fd is not None
        if not self._rotated:
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) != (self._dev, self._ino):
                    self._rotated = True
            except FileNotFoundError:
                pass  # deleted or between rename and create: keep reading what we have
        more = self._read(items)
        if self._rotated and not more:
            if not self._rotated_idle:
                self._rotated_idle = True  # give the writer one poll to finish with the old file
                return items, False
            self._finish_line(items)
            logger.info("%s: rotated; switching to the new file (generation %d)", self.name, self._gen + 1)
            old_fd = self._fd
            self._fd = None
            os.close(old_fd)
            self._open_path(self._gen + 1)
            more = self._fd is not None
        return items, more

    def _truncated(self) -> None:
        """The open file shrank or its content changed: copytruncate. Finish from the copy if found."""
        assert self._fd is not None
        state = FileState(self._gen, self._dev, self._ino, self.offset, self._fp.hex())
        found = self._find_sibling(_any, state, self._fp, include_path=False) if self._fp else None
        if found is not None:
            logger.info("%s: truncated in place; finishing from its copy first", self.name)
            self._adopt(found[0], self._gen, self.offset, self._fp, rotated=True)
            return
        if self.offset:
            logger.warning(
                "%s: truncated at offset %d and no copy found; reading from the start", self.name, self.offset
            )
        fd = os.dup(self._fd)
        self._adopt(fd, self._gen + 1, 0, b"")

    def _read(self, items: list[SpoolItem]) -> bool:
        """Read one chunk; complete lines become records. True if the chunk was full (more to read)."""
        assert self._fd is not None
        data = os.pread(self._fd, READ_CHUNK, self._cursor)
        if not data:
            return False
        self._rotated_idle = False
        start = self._cursor
        pos = 0
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                room = self.max + 1 - len(self._partial)
                if room > 0:
                    self._partial += data[pos : pos + room]
                break
            if self._partial:
                room = self.max + 1 - len(self._partial)
                line = (
                    bytes(self._partial) + data[pos : pos + min(room, nl - pos)] if room > 0 else bytes(self._partial)
                )
                self._partial.clear()
            else:
                line = data[pos:nl]
            length = start + nl - self.offset
            self._emit(items, line, length)
            self.offset = start + nl + 1
            pos = nl + 1
        self._cursor = start + len(data)
        consumed = self.offset - start
        if consumed > 0:
            self._fp = data[consumed - _FINGERPRINT : consumed] if consumed >= _FINGERPRINT else self._refresh_fp()
        return len(data) == READ_CHUNK

    def _refresh_fp(self) -> bytes:
        assert self._fd is not None
        n = min(_FINGERPRINT, self.offset)
        return os.pread(self._fd, n, self.offset - n)

    def _finish_line(self, items: list[SpoolItem]) -> None:
        """The file was rotated away: its last line will never get a newline; take it as is."""
        if self._cursor > self.offset:
            self._emit(items, bytes(self._partial), self._cursor - self.offset)
            self.offset = self._cursor
            self._partial.clear()

    def _emit(self, items: list[SpoolItem], line: bytes, length: int) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
            length -= 1
        if not line:
            return
        record = RawRecord(
            raw=line[: self.max],
            received_at=self.received_at,
            origin=f"file:{self.name}:{self._gen}:{self.offset}",
            transport="file",
            source_name=self.name,
            dataset_hint=self.source.dataset,
            host_hint=self.source.host,
        )
        reject = f"line longer than {self.max} bytes (got {length})" if length > self.max else None
        items.append(SpoolItem(record, reject))

    # confirming --------------------------------------------------------------------------
    def commit(self) -> FileState | None:
        """The records returned so far are in the spool: this is the state to save."""
        if self._fd is None:
            if self._waiting is not None:
                self.committed = FileState(self._waiting, 0, 0, 0)
            return self.committed
        self.committed = FileState(self._gen, self._dev, self._ino, self.offset, self._fp.hex())
        return self.committed

    def reset(self) -> None:
        """The last records could not be spooled: read them again from the committed state."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        self.reset()


def load_states(path: Path) -> dict[str, FileState]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except orjson.JSONDecodeError as exc:
        raise CollectorError(
            f"file tail state {path} is not valid JSON ({exc}); remove it to re-read the files"
        ) from exc
    files = data.get("files", {}) if isinstance(data, dict) else {}
    return {name: FileState.from_json(entry) for name, entry in files.items()}


def save_states(path: Path, states: dict[str, FileState], *, fsync: bool) -> None:
    body = {"version": 1, "files": {name: asdict(state) for name, state in states.items()}}
    write_file_atomically(path, orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS), fsync=fsync)


class SpoolAppender(Protocol):
    """What the tail service needs of the spool."""

    def append(self, items: Iterable[SpoolItem | RawRecord]) -> int: ...

    def sync(self) -> None: ...


class FileTailService:
    """Polls every configured file in one thread and spools new lines."""

    def __init__(
        self,
        sources: Sequence[FileSource],
        spool: SpoolAppender,
        state_path: Path,
        *,
        poll_interval: float = 0.25,
        max_line_bytes: int = MAX_LINE_BYTES,
        fsync_state: bool = True,
    ) -> None:
        self.spool = spool
        self.state_path = state_path
        self.poll_interval = poll_interval
        self.fsync_state = fsync_state
        states = load_states(state_path)
        self.tailers = [FileTailer(s, states.get(str(s.path)), max_line_bytes=max_line_bytes) for s in sources]
        self._states = {name: state for name, state in states.items()}
        self.received = 0
        self.blocked = False  # the spool refused the last lines: the files wait where they are
        self._unsaved = False  # the state file could not be written; try again at the next poll
        self._read_errors: dict[str, str] = {}  # file -> the read error last logged for it
        self._last_error_log = -_QUIET_SECONDS
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self, received_at: float) -> tuple[int, bool]:
        """One pass over every file; returns (records spooled, whether any file has more right now).

        When the spool refuses the lines of a file, that file is not advanced (its lines are read
        again from the saved state later) and ``blocked`` is set, so the caller waits longer.
        """
        total = 0
        more_any = False
        changed = self._unsaved
        blocked = False
        for tailer in self.tailers:
            try:
                items, more = tailer.poll(received_at)
            except (OSError, CollectorError) as exc:
                if self._read_errors.get(tailer.name) != str(exc):  # once per distinct error, not per poll
                    self._read_errors[tailer.name] = str(exc)
                    logger.warning("%s: cannot read: %s", tailer.name, exc)
                tailer.reset()
                continue
            self._read_errors.pop(tailer.name, None)
            if items:
                try:
                    self.spool.append(items)
                except (OSError, CollectorError):
                    # The spool reported why (collection health); this file waits where it is.
                    tailer.reset()
                    blocked = True
                    continue
                total += len(items)
            state = tailer.commit()
            if state is not None and self._states.get(tailer.name) != state:
                self._states[tailer.name] = state
                changed = True
            more_any = more_any or more
        if changed:
            self._save()
        if blocked != self.blocked:
            self.blocked = blocked
            logger.info("file tailing %s", "waits for the spool" if blocked else "goes on: the spool takes lines again")
        self.received += total
        return total, more_any and not blocked

    def _save(self) -> None:
        try:
            if self.fsync_state:
                self.spool.sync()  # the saved offsets must never be ahead of what is on disk
            save_states(self.state_path, self._states, fsync=self.fsync_state)
        except OSError as exc:
            # The lines are spooled; only a restart before the next save would read them again
            # (the same event ids: the store keeps them once).
            self._unsaved = True
            self._log_error("could not save the file tail state (retrying at the next poll): %s", exc)
            return
        self._unsaved = False

    def _log_error(self, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= _QUIET_SECONDS:
            self._last_error_log = now
            logger.warning(message, *args, exc_info=exc_info)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="file-tail", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wait = self.poll_interval
        while not self._stop.is_set():
            try:
                _, more = self.poll_once(time.time())
            except Exception as exc:  # a bug must not stop tailing: logged (bounded) and retried
                self._log_error("file tailing failed; retrying: %s", exc, exc_info=exc)
                more = False
            if self.blocked:
                wait = min(wait * 2, max(_BACKOFF_MAX, self.poll_interval))
            else:
                wait = self.poll_interval
            if not more:
                self._stop.wait(wait)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for tailer in self.tailers:
            tailer.close()


__all__ = ["FileState", "FileTailService", "FileTailer", "load_states", "save_states"]
