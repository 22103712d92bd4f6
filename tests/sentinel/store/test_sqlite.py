"""SQLite specifics the contract does not cover: pragmas, schema, indexes and plans, processes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from sentinel.errors import StoreError
from sentinel.events import Event, new_event
from sentinel.store.base import UNCOUNTED, EventQuery, FieldFilter, Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.store.sqlite_schema import LATEST

PROJECT_ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2024, 5, 1, tzinfo=UTC)
ALL = Scope.everything()


def ev(n: int, *, seconds: int = 0, org: str = "org-a", dataset: str = "system.auth", message: str = "") -> Event:
    return new_event(
        event_id=f"ev-{n:06d}",
        timestamp=T0 + timedelta(seconds=seconds),
        dataset=dataset,
        fields={"organization": {"id": org}, "message": message or f"Failed password for root n{n}"},
        ingested=T0 + timedelta(seconds=seconds + 1),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "sentinel.db")
    s.setup()
    yield s
    s.close()


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, timeout=10)


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run code in a separate interpreter with the project importable (a second process)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# schema and pragmas -----------------------------------------------------------------------


def test_wal_and_pragmas(store: SqliteStore) -> None:
    with raw(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    conn.close()
    writer = store.connections.writer()
    assert writer.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert writer.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert writer.execute("PRAGMA page_size").fetchone()[0] == 16384  # a new database gets large pages
    reader = store.connections.reader()
    assert reader.execute("PRAGMA query_only").fetchone()[0] == 1
    assert reader is not writer


@pytest.mark.parametrize(("spool_fsync", "synchronous"), [("batch", 1), ("never", 1), ("always", 2)])
def test_commits_are_synced_when_the_spool_survives_power_loss(
    tmp_path: Path, spool_fsync: str, synchronous: int
) -> None:
    # The spool moves its checkpoint once the store has committed: with ``fsync: always`` that
    # commit must survive a power loss too, so the store syncs every commit (FULL = 2).
    from sentinel.config import Settings
    from sentinel.store import open_store

    settings = Settings.model_validate({"data_dir": str(tmp_path), "spool": {"fsync": spool_fsync}})
    store = open_store(settings)
    assert isinstance(store, SqliteStore)
    try:
        store.setup()
        assert store.connections.writer().execute("PRAGMA synchronous").fetchone()[0] == synchronous
    finally:
        store.close()


def test_setup_is_idempotent_and_versioned(store: SqliteStore) -> None:
    store.setup()
    store.setup()
    conn = raw(store.path)
    try:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, LATEST + 1))
    finally:
        conn.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as s:
        s.setup()
    conn = raw(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 0)", (LATEST + 1,))
    conn.close()
    with SqliteStore(path) as s, pytest.raises(StoreError, match="newer"):
        s.setup()


def test_indexes_exist(store: SqliteStore) -> None:
    conn = raw(store.path)
    try:
        index_columns = {
            name: [r[2] for r in conn.execute(f"PRAGMA index_info('{name}')")]
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")
        }
    finally:
        conn.close()
    assert index_columns["events_ts"] == ["ts"]
    assert index_columns["events_dataset_ts"] == ["dataset", "ts"]
    assert index_columns["events_org_ts"] == ["org", "ts"]
    assert index_columns["events_ingested"] == ["ingested"]
    assert ["id"] in index_columns.values()  # the unique id that makes writes idempotent


def _plans(store: SqliteStore, query: EventQuery, scope: Scope) -> list[str]:
    """The query plan of every SELECT the store really runs for a search."""
    statements: list[str] = []
    conn = store.connections.reader()
    conn.set_trace_callback(statements.append)
    try:
        store.search_events(query, scope, limit=5)
    finally:
        conn.set_trace_callback(None)
    plans = []
    for sql in statements:
        if sql.startswith("SELECT") and "FROM events AS e" in sql:
            plans.append(" | ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql)))
    assert len(plans) == 2  # the count and the page
    return plans


@pytest.mark.parametrize(
    ("query", "scope", "index"),
    [
        (EventQuery(start=T0, end=T0 + timedelta(seconds=30)), ALL, "events_ts"),
        (EventQuery(start=T0, datasets=("nginx.access",)), ALL, "events_dataset_ts"),
        (EventQuery(start=T0), Scope.institution("org-b"), "events_org_ts"),
        (EventQuery(start=T0, time_field="event.ingested"), ALL, "events_ingested"),
        (EventQuery(filters=(FieldFilter("@timestamp", "gte", T0),)), ALL, "events_ts"),
        (EventQuery(filters=(FieldFilter("event.dataset", "eq", "nginx.access"),)), ALL, "events_dataset_ts"),
    ],
)
def test_searches_use_the_indexes(store: SqliteStore, query: EventQuery, scope: Scope, index: str) -> None:
    store.write_events(
        [ev(n, seconds=n, org=f"org-{'ab'[n % 2]}", dataset=("system.auth", "nginx.access")[n % 2]) for n in range(300)]
    )
    for plan in _plans(store, query, scope):
        assert index in plan, plan
        assert "SCAN e" not in plan, plan  # no full table scan


def test_full_text_uses_the_fts_index(store: SqliteStore) -> None:
    store.write_events([ev(n, seconds=n) for n in range(50)])
    for plan in _plans(store, EventQuery(text="password"), ALL):
        assert "events_fts VIRTUAL TABLE" in plan, plan


# full-text index consistency --------------------------------------------------------------


def _fts_hits(path: Path, word: str) -> int:
    conn = raw(path)
    try:
        return int(
            conn.execute("SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", (f'"{word}"',)).fetchone()[0]
        )
    finally:
        conn.close()


def test_fts_follows_inserts_duplicates_and_retention(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db", retention_chunk=7) as store:
        store.setup()
        store.write_events([ev(n, seconds=n, message=f"alpha line {n}") for n in range(50)])
        store.write_events([ev(n, seconds=n, message=f"alpha line {n}") for n in range(50)])  # all duplicates
        store.write_events([ev(n, seconds=n, message=f"beta line {n}") for n in range(50, 60)])
        assert _fts_hits(store.path, "alpha") == 50  # a duplicate adds no index entry
        statements: list[str] = []
        store.connections.writer().set_trace_callback(statements.append)
        assert store.delete_events_before(T0 + timedelta(seconds=50)) == 50
        store.connections.writer().set_trace_callback(None)
        assert _fts_hits(store.path, "alpha") == 0
        assert _fts_hits(store.path, "beta") == 10
        # chunks of 7: 8 transactions (the last one finds 1), so the write lock is let go in between
        assert statements.count("BEGIN IMMEDIATE") == 8
        assert statements.count("COMMIT") == 8
    conn = raw(tmp_path / "s.db")
    try:
        conn.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")  # raises if corrupt
    finally:
        conn.close()


# concurrency: threads and processes -------------------------------------------------------


def test_reads_do_not_wait_for_an_open_write(store: SqliteStore) -> None:
    store.write_events([ev(1)])
    other = raw(store.path)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock and has not committed
        other.execute(
            "INSERT INTO events (id, ts, ingested, dataset, org, message, doc) "
            "VALUES ('x', 0, 0, 'd', NULL, NULL, '{}')"
        )
        # the store's reader sees the last commit, immediately, without the uncommitted row
        assert store.count_events(EventQuery(), ALL) == 1
        other.execute("COMMIT")
        assert store.count_events(EventQuery(), ALL) == 2
    finally:
        other.close()


def test_a_held_write_lock_gives_a_clear_error(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db", busy_timeout=0.05) as store:
        store.setup()
        other = raw(store.path)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreError, match="locked"):
                store.write_events([ev(1)])
            other.execute("ROLLBACK")
            assert store.write_events([ev(1)]).created == 1  # nothing was lost or half-written
        finally:
            other.close()


def test_many_threads_write_and_read(store: SqliteStore) -> None:
    errors: list[BaseException] = []
    per_thread, batches = 200, 5

    def work(t: int) -> None:
        try:
            for b in range(batches):
                base = t * 10_000 + b * per_thread
                result = store.write_events([ev(base + i, seconds=i) for i in range(per_thread)])
                assert result.created == per_thread
                assert store.count_events(EventQuery(), ALL) >= per_thread
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert store.count_events(EventQuery(), ALL) == 4 * per_thread * batches
    assert store.connections.readers == 5  # one reader connection per thread that read: 4 workers and this one


def test_a_second_process_writes_while_this_one_reads_and_writes(store: SqliteStore) -> None:
    batches, per_batch = 20, 500
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                from datetime import UTC, datetime, timedelta
                from pathlib import Path
                from sentinel.events import new_event
                from sentinel.store.sqlite import SqliteStore
                t0 = datetime(2024, 5, 1, tzinfo=UTC)
                with SqliteStore(Path({str(store.path)!r})) as s:
                    s.setup()
                    for b in range({batches}):
                        evs = [new_event(event_id=f"child-{{b}}-{{i}}", timestamp=t0 + timedelta(seconds=i),
                                         dataset="child", fields={{"message": "from child"}})
                               for i in range({per_batch})]
                        assert s.write_events(evs).created == {per_batch}
                """
            ),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []
    mine = 0
    # Read and write while the child writes; bounded by count, not time.
    for n in range(200):
        seen.append(store.count_events(EventQuery(datasets=("child",)), ALL))
        if n % 10 == 0:
            mine += store.write_events([ev(n * 100 + i, seconds=i) for i in range(100)]).created
        if child.poll() is not None:
            break
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert seen == sorted(seen)  # each read sees a committed prefix, never goes back
    assert store.count_events(EventQuery(datasets=("child",)), ALL) == batches * per_batch
    assert store.count_events(EventQuery(datasets=("system.auth",)), ALL) == mine


def test_a_reader_process_sees_the_writes(store: SqliteStore) -> None:
    store.write_events([ev(n, seconds=n) for n in range(25)])
    result = run_python(
        f"""
        from pathlib import Path
        from sentinel.store.base import EventQuery, Scope
        from sentinel.store.sqlite import SqliteStore
        with SqliteStore(Path({str(store.path)!r})) as s:
            print(s.count_events(EventQuery(text="password"), Scope.institution("org-a")))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "25"


# lifecycle --------------------------------------------------------------------------------


def test_close_closes_every_connection(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    store.write_events([ev(1)])
    connections: list[sqlite3.Connection] = []

    def read() -> None:
        store.count_events(EventQuery(), ALL)
        connections.append(store.connections.reader())

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    connections.append(store.connections.writer())
    store.close()
    store.close()  # twice is fine
    for conn in connections:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    with pytest.raises(StoreError, match="closed"):
        store.count_events(EventQuery(), ALL)
    with pytest.raises(StoreError, match="closed"):
        store.write_events([ev(2)])


def test_setup_creates_the_data_directory(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "a" / "b" / "sentinel.db") as store:
        store.setup()
        assert store.write_events([ev(1)]).created == 1


# bad input --------------------------------------------------------------------------------


def test_events_that_cannot_be_stored_are_reported_one_by_one(store: SqliteStore) -> None:
    naive = ev(2)
    naive.timestamp = naive.timestamp.replace(tzinfo=None)
    numeric_org = ev(3)
    numeric_org.doc["organization"] = {"id": 42}
    no_dataset = ev(4)
    no_dataset.dataset = ""
    result = store.write_events([ev(1), naive, numeric_org, no_dataset, ev(5)])
    assert result.created == 2
    reasons = dict(result.failed)
    assert set(reasons) == {"ev-000002", "ev-000003", "ev-000004"}
    assert "time zone" in reasons["ev-000002"]
    assert "organization.id" in reasons["ev-000003"]
    assert "dataset" in reasons["ev-000004"]


def test_naive_query_times_are_refused(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="timezone"):
        store.count_events(EventQuery(start=datetime(2024, 5, 1)), ALL)
    with pytest.raises(StoreError, match="timezone"):
        store.delete_events_before(datetime(2024, 5, 1))


def test_after_must_come_from_a_search(store: SqliteStore) -> None:
    for bad in [("x", "y"), (1,), "1,abc", (True, "x")]:
        with pytest.raises(StoreError, match="after"):
            store.search_events(EventQuery(), ALL, after=bad)  # type: ignore[arg-type]


def test_pages_without_a_total_are_the_same_pages(store: SqliteStore) -> None:
    store.write_events([ev(n, seconds=n // 2) for n in range(25)])  # ties on time, broken by id
    counted, uncounted = [], []
    for with_total, pages in ((True, counted), (False, uncounted)):
        after = None
        while True:
            page = store.search_events(EventQuery(), ALL, limit=7, order="asc", after=after, with_total=with_total)
            pages.append((page.total, [e.id for e in page.events], page.next_after))
            if page.next_after is None:
                break
            after = page.next_after
    assert [p[1:] for p in counted] == [p[1:] for p in uncounted]
    assert {p[0] for p in counted} == {25}
    assert {p[0] for p in uncounted} == {UNCOUNTED}
    assert [e for p in uncounted for e in p[1]] == [f"ev-{n:06d}" for n in range(25)]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_several_datasets_page_in_time_order_without_sorting_the_range(
    store: SqliteStore, order: Literal["asc", "desc"]
) -> None:
    datasets = ("system.auth", "nginx.access", "system.syslog")
    store.write_events([ev(n, seconds=n // 3, dataset=datasets[n * 7 % 3]) for n in range(60)])  # ties on time
    query = EventQuery(start=T0, datasets=("system.syslog", "system.auth", "system.syslog"))
    ids: list[str] = []
    after = None
    while True:
        page = store.search_events(query, ALL, limit=7, order=order, after=after, with_total=False)
        ids += [e.id for e in page.events]
        if page.next_after is None:
            break
        after = page.next_after
    wanted = sorted(
        ((e.timestamp, e.id) for e in store.search_events(EventQuery(start=T0), ALL, limit=100).events
         if e.dataset != "nginx.access"),
        reverse=order == "desc",
    )  # fmt: skip
    assert ids == [i for _, i in wanted] and len(ids) == 40
    statements: list[str] = []
    conn = store.connections.reader()
    conn.set_trace_callback(statements.append)
    try:
        store.search_events(query, ALL, limit=5, order=order, after=after)
    finally:
        conn.set_trace_callback(None)
    (page_sql,) = [s for s in statements if s.startswith("SELECT e.id")]
    plan = " | ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + page_sql))
    assert "MERGE (UNION ALL)" in plan and "events_dataset_ts" in plan, plan
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # no sort of the whole range per page


# file modes ---------------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual 022 umask, under which files are created readable by every local user."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_and_shm_are_the_service_user_s_alone(tmp_path: Path, open_umask: None) -> None:
    data = tmp_path / "data"
    store = SqliteStore(data / "sentinel.db")
    store.setup()
    try:
        store.write_events([ev(1)])
        store.create_document("outbox", "n1", {"state": "pending"}, institution_id="org-a")
        files = {p.name: mode(p) for p in data.iterdir()}
        # Were 0644 (and the directory 0755): every institution's events and working ack links, to any local user.
        assert files == {"sentinel.db": 0o600, "sentinel.db-wal": 0o600, "sentinel.db-shm": 0o600}
        assert mode(data) == 0o700
    finally:
        store.close()


def test_files_made_before_are_tightened_at_setup(tmp_path: Path, open_umask: None) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    conn = raw(data / "sentinel.db")  # a database of an earlier version: 0644, with its WAL
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    assert mode(data / "sentinel.db") == 0o644 and mode(data / "sentinel.db-wal") == 0o644
    store = SqliteStore(data / "sentinel.db")
    store.setup()
    try:
        assert {p.name: mode(p) for p in data.iterdir()} == {
            "sentinel.db": 0o600,
            "sentinel.db-wal": 0o600,
            "sentinel.db-shm": 0o600,
        }
        assert mode(data) == 0o700
    finally:
        store.close()
        conn.close()


def test_an_integer_beyond_64_bits_is_stored_as_its_text(store: SqliteStore) -> None:
    event = new_event(
        event_id="big-number",
        timestamp=T0,
        dataset="system.auth",
        fields={"source": {"port": 99999999999999999999999}, "process": {"pid": -(2**70)}, "message": "m"},
        ingested=T0,
    )
    result = store.write_events([event])
    assert (result.created, result.failed) == (1, [])
    (stored,) = store.search_events(EventQuery(), ALL).events
    assert stored.doc["source"]["port"] == "99999999999999999999999"
    assert stored.doc["process"]["pid"] == str(-(2**70))


# housekeeping: the WAL's size, space given back after retention -----------------------------
def big_event(n: int, *, days_ago: int) -> Event:
    return new_event(
        event_id=f"big-{n:07d}",
        timestamp=T0 - timedelta(days=days_ago),
        dataset="system.auth",
        fields={"message": f"Failed password for root n{n} " + "x" * 2000},
        ingested=T0,
    )


def test_retention_gives_the_space_back_in_steps(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sentinel.db")
    store.setup()
    try:
        for start in range(0, 6000, 1000):
            store.write_events([big_event(n, days_ago=100 if n < 5000 else 1) for n in range(start, start + 1000)])
        with store.connections.read("checkpoint") as conn:
            assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental, for every new database
        with store.connections.locked_writer("checkpoint") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = (tmp_path / "sentinel.db").stat().st_size
        assert store.delete_events_before(T0 - timedelta(days=90)) == 5000
        with store.connections.locked_writer("checkpoint") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = (tmp_path / "sentinel.db").stat().st_size
        assert after < before / 2
        assert store.count_events(EventQuery(), ALL) == 1000
        assert store.search_events(EventQuery(text="n5999"), ALL).total == 1
    finally:
        store.close()


def test_the_wal_stays_near_its_limit_while_readers_hold_snapshots(tmp_path: Path) -> None:
    from sentinel.store.sqlite_connections import Connections

    path = tmp_path / "sentinel.db"
    store = SqliteStore(path)
    limit = 2 * 1024 * 1024
    # A small limit, a passive checkpoint after every 1 MB, the size checked after every commit.
    store.connections = Connections(
        path, wal_limit_bytes=limit, wal_autocheckpoint_bytes=1024 * 1024, wal_check_seconds=0
    )
    store.setup()
    stop = threading.Event()

    def reader() -> None:
        # A reader busy half of the time (the engine, the API): passive checkpoints rarely find
        # the WAL free to reset, so without the TRUNCATE checkpoint it would only grow.
        other = sqlite3.connect(path, isolation_level=None)
        while not stop.is_set():
            other.execute("BEGIN")
            other.execute("SELECT count(*) FROM events").fetchone()
            stop.wait(0.02)
            other.execute("COMMIT")
            stop.wait(0.02)
        other.close()

    thread = threading.Thread(target=reader)
    thread.start()
    largest = 0
    try:
        batch = 200  # about 1.3 MB of WAL per commit
        for start in range(0, 4000, batch):
            store.write_events([big_event(n, days_ago=1) for n in range(start, start + batch)])
            largest = max(largest, (tmp_path / "sentinel.db-wal").stat().st_size)
    finally:
        stop.set()
        thread.join(10)
        store.close()
    assert store.connections.wal_truncations > 0
    assert largest <= limit + 1024 * 1024 * 2  # the limit, plus at most what one commit adds before the check
