"""SQLite connections for one database file, shared by many threads and processes.

One writer connection behind a lock (writes come from many threads: collectors, the engine,
the API), and one reader connection per thread, so API reads never wait for the writer: WAL
lets readers see the last commit while a write is in progress. Every write is a short
``BEGIN IMMEDIATE`` transaction and ``busy_timeout`` is set, so a second process writing the
same file (``sentinel ingest`` while the service runs) waits its turn instead of failing.

A reader connection lives until ``close()``; a service has a bounded pool of threads, so the
number of readers is bounded too.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentinel.errors import StoreError

PAGE_SIZE = 16384


class Connections:
    def __init__(self, path: Path, *, busy_timeout: float = 10.0, sync_commits: bool = False) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.sync_commits = sync_commits
        self._write_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

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
            raise StoreError(f"the store {self.path} is closed")
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
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode!r})")
                conn.execute("PRAGMA cache_size = -65536")  # KiB
                # Checkpoint every ~40 MB of WAL instead of 4 MB: bulk writes dirty the same index
                # pages batch after batch, and fewer checkpoints copy (and fsync) them fewer times.
                conn.execute("PRAGMA wal_autocheckpoint = 10000")
                conn.execute("PRAGMA journal_size_limit = 67108864")  # truncate the WAL back to 64 MB
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
