"""SQLite connections for one database file, shared by many threads and processes.

One writer connection behind a lock (writes come from many threads: collectors, the engine,
the API), and one reader connection per thread, so API reads never wait for the writer: WAL
lets readers see the last commit while a write is in progress. Every write is a short
``BEGIN IMMEDIATE`` transaction and ``busy_timeout`` is set, so a second process writing the
same file (``sentinel ingest`` while the service runs) waits its turn instead of failing.

A reader connection lives until ``close()``; a service has a bounded pool of threads, so the
number of readers is bounded too.

The WAL is checkpointed every ``WAL_AUTOCHECKPOINT_BYTES`` of writes. A checkpoint cannot reset
the WAL while a reader still uses its older frames, so under sustained reads and writes the file
can outgrow ``journal_size_limit``: after a write, at most once a second, a WAL larger than the
limit gets a TRUNCATE checkpoint that waits briefly for readers (it is tried again later if they
hold on), which brings it back to empty.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentinel.errors import StoreClosed, StoreError

log = logging.getLogger(__name__)

PAGE_SIZE = 16384
WAL_LIMIT_BYTES = 64 * 1024 * 1024  # journal_size_limit: the WAL is kept to about this
# A passive checkpoint every ~40 MB of WAL: bulk writes dirty the same index pages batch after
# batch, and fewer checkpoints copy (and fsync) them fewer times; well under the limit.
WAL_AUTOCHECKPOINT_BYTES = 40 * 1024 * 1024
_WAL_CHECK_SECONDS = 1.0
_TRUNCATE_WAIT_MS = 500  # how long a TRUNCATE checkpoint waits for readers before trying later


class Connections:
    def __init__(
        self,
        path: Path,
        *,
        busy_timeout: float = 10.0,
        sync_commits: bool = False,
        wal_limit_bytes: int = WAL_LIMIT_BYTES,
        wal_autocheckpoint_bytes: int = WAL_AUTOCHECKPOINT_BYTES,
        wal_check_seconds: float = _WAL_CHECK_SECONDS,
    ) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.sync_commits = sync_commits
        self.wal_limit_bytes = wal_limit_bytes
        self.wal_autocheckpoint_bytes = wal_autocheckpoint_bytes
        self.wal_check_seconds = wal_check_seconds
        self._write_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._wal = Path(f"{path}-wal")
        self._wal_checked = 0.0
        self.wal_truncations = 0  # TRUNCATE checkpoints run because the WAL outgrew its limit

    @property
    def readers(self) -> int:
        """How many reader connections are open (one per thread that has read)."""
        return len(self._readers)

    def close(self) -> None:
        self._closed = True
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()

    def _connect(self, *, reader: bool) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosed(f"the store {self.path} is closed")
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. check_same_thread=False only so
        # close() may close every connection; each connection is still used by one thread.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            if reader:
                conn.execute("PRAGMA query_only = 1")
                conn.execute("PRAGMA cache_size = -16384")  # KiB
            else:
                # 16 KiB pages for a new database (a no-op for an existing one): an event row with its
                # document is over 1 KB, and bulk inserts into larger pages split and write fewer
                # pages; measured about a quarter less CPU per event written (benchmarks/store_write.py).
                conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
                # Also only for a new database: retention can give freed pages back to the file
                # system a step at a time (``incremental_vacuum``) instead of a blocking VACUUM.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode!r})")
                conn.execute("PRAGMA cache_size = -65536")  # KiB
                page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
                conn.execute(f"PRAGMA wal_autocheckpoint = {max(1, self.wal_autocheckpoint_bytes // page_size)}")
                conn.execute(f"PRAGMA journal_size_limit = {self.wal_limit_bytes}")
            # In WAL mode NORMAL loses no committed transaction on a process crash; only a power
            # loss may lose the last commits, and the file stays consistent. FULL syncs the WAL at
            # every commit, for deployments whose spool survives power loss (``spool.fsync: always``):
            # the spool moves its checkpoint once the store has committed, so the commit must last too.
            conn.execute("PRAGMA synchronous = FULL" if self.sync_commits else "PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def writer(self) -> sqlite3.Connection:
        """The writer connection; use it only while holding the write lock (``write``)."""
        if self._writer is None or self._closed:
            self._writer = self._connect(reader=False)
        return self._writer

    def reader(self) -> sqlite3.Connection:
        """This thread's reader connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._closed:
            conn = self._connect(reader=True)
            with self._readers_lock:
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn SQLite errors into ``StoreError`` naming the file and what was being done."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            hint = " (another process holds the write lock too long)" if "locked" in str(exc) else ""
            raise StoreError(f"{self.path}: could not {action}: {exc}{hint}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: could not {action}: {exc}") from exc

    @contextmanager
    def locked_writer(self, action: str) -> Iterator[sqlite3.Connection]:
        """The writer connection under the write lock, for work that manages its own transaction."""
        with self.errors(action), self._write_lock:
            yield self.writer()

    @contextmanager
    def write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One short write transaction on the writer connection."""
        with self.locked_writer(action) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._keep_wal_in_bounds(conn)

    def _keep_wal_in_bounds(self, conn: sqlite3.Connection) -> None:
        """After a commit (write lock held): a WAL over its limit gets a TRUNCATE checkpoint."""
        now = time.monotonic()
        if now - self._wal_checked < self.wal_check_seconds:
            return
        self._wal_checked = now
        try:
            size = os.stat(self._wal).st_size
        except OSError:
            return
        if size <= self.wal_limit_bytes:
            return
        conn.execute(f"PRAGMA busy_timeout = {_TRUNCATE_WAIT_MS}")
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError as exc:  # e.g. a full disk: the next write tries again
            log.debug("%s: WAL checkpoint not done: %s", self.path, exc)
            return
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        if not busy:
            self.wal_truncations += 1

    def give_space_back(self, pages_per_step: int = 1024) -> int:
        """Return free pages to the file system a step at a time (``pages_per_step`` per write
        transaction, so writers wait at most one step); returns the bytes given back.

        Only for a database created with ``auto_vacuum = INCREMENTAL`` (every database this
        version creates); an older one keeps its free pages for reuse.
        """
        given = 0
        while True:
            with self.locked_writer("give free space back") as conn:
                if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) != 2:
                    return given
                free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
                if not free:
                    return given
                step = min(free, pages_per_step)
                # executescript steps the pragma to its end (each step frees one page) in its own transaction.
                conn.executescript(f"PRAGMA incremental_vacuum({step})")
                given += step * int(conn.execute("PRAGMA page_size").fetchone()[0])
                self._keep_wal_in_bounds(conn)

    @contextmanager
    def read(self, action: str) -> Iterator[sqlite3.Connection]:
        """A read transaction on this thread's reader: one snapshot for every statement inside."""
        with self.errors(action):
            conn = self.reader()
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
