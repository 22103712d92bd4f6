"""What the ingest path costs before any parsing: the CPU floor per event on this machine.

The syslog benchmark's target (≥ 50,000 events/s on one core) leaves 20 µs of CPU per event for
everything. This script measures the parts of that budget that do not depend on how lines are
parsed, each on its own, with the real code on real files:

- the SQLite write of ready rows (no Python work per event but building the parameter list), on the
  store's own connection settings, step by step: the bare table, + the unique event id the
  idempotent write needs, + the four indexes (time, dataset, institution, ingest time), + the
  full-text index on ``message`` (= the store's real schema and ``insert_event_rows``);
- turning the normalised events into rows (``event_rows``: one ``orjson.dumps`` per document);
- normalising the lines (``Normalizer.normalize``), for comparison.

Rows come from the real sshd lines of ``OpenSSH_2k.log`` (SENTINEL_TEST_DATA or ../shared/data;
generated lines of the same shape otherwise), normalised by the real normaliser, each made unique.
CPU time (``time.process_time``) per event, median of ``--runs`` runs, each on a fresh database.

    .venv/bin/python benchmarks/ingest_floor.py [--events 60000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.syslog_ingest import chunks
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from collectors.syslog_framing import FrameDecoder
from sentinel.events import Event
from sentinel.gc_tuning import tune_for_service
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore
from sentinel.store.sqlite_writes import (
    ROWS_PER_STATEMENT,
    Row,
    _insert_statement,
    event_rows,
    insert_event_rows,
)

BATCH = 5000  # the spool's default batch: one transaction per batch, as the drain writes
# What each step drops from the real schema; the last step is the schema itself.
STEPS: list[tuple[str, list[str]]] = [
    (
        "table + rowid only",
        [
            "DROP TRIGGER events_fts_delete",
            "DROP TABLE events_fts",
            "DROP TABLE events",
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, ts INTEGER NOT NULL, "
            "ingested INTEGER NOT NULL, dataset TEXT NOT NULL, org TEXT, message TEXT, doc TEXT NOT NULL)",
        ],
    ),
    (
        "+ unique event id",
        [
            "DROP TRIGGER events_fts_delete",
            "DROP TABLE events_fts",
            "DROP INDEX events_ts",
            "DROP INDEX events_dataset_ts",
            "DROP INDEX events_org_ts",
            "DROP INDEX events_ingested",
        ],
    ),
    ("+ time, dataset, institution, ingest indexes", ["DROP TRIGGER events_fts_delete", "DROP TABLE events_fts"]),
    ("+ full-text index (the store's schema)", []),
]


def normalised_events(count: int) -> tuple[list[Event], float]:
    """``count`` unique sshd events from the real normaliser, and its CPU µs per event."""
    normalizer = Normalizer(Inventory([]), observer_hostname="bench")
    decoder = FrameDecoder(8192)
    records = [
        RawRecord(frame, time.time(), "syslog:127.0.0.1", "tcp", "127.0.0.1", "syslog-tcp:514")
        for chunk in chunks(count, 64 * 1024)
        for frame, _ in decoder.feed(chunk)
    ]
    started = time.process_time()
    events = [normalizer.normalize(record) for record in records]
    return events, (time.process_time() - started) / count * 1e6


def insert_plain(conn: sqlite3.Connection, rows: Sequence[Row]) -> int:
    """``insert_event_rows`` without the full-text step, for the schemas that have no FTS table."""
    created = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[start : start + ROWS_PER_STATEMENT]
        created += conn.execute(_insert_statement(len(part)), list(chain.from_iterable(part))).rowcount
    return created


def sqlite_cost(folder: Path, rows: list[Row], drop: list[str]) -> float:
    """CPU µs per row to write ``rows`` in batches into a fresh store with ``drop`` applied to its schema."""
    path = folder / f"floor-{time.monotonic_ns()}.db"
    store = SqliteStore(path)
    store.setup()
    insert: Callable[[sqlite3.Connection, Sequence[Row]], int] = insert_plain if drop else insert_event_rows
    try:
        with store.connections.locked_writer("benchmark schema") as conn:
            for statement in drop:
                conn.execute(statement)
        started = time.process_time()
        created = 0
        for start in range(0, len(rows), BATCH):
            with store.connections.write("benchmark write") as conn:
                created += insert(conn, rows[start : start + BATCH])
        cpu = time.process_time() - started
    finally:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert created == len(rows), (created, len(rows))
    return cpu / len(rows) * 1e6


def rows_cost(events: list[Event]) -> tuple[list[Row], float]:
    rows: list[Row] = []
    started = time.process_time()
    for start in range(0, len(events), BATCH):
        part, failed = event_rows(events[start : start + BATCH])
        assert not failed, failed[:3]
        rows.extend(part)
    return rows, (time.process_time() - started) / len(events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tune_for_service()
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} cpus")
    normalise: list[float] = []
    to_rows: list[float] = []
    steps: dict[str, list[float]] = {label: [] for label, _ in STEPS}
    with tempfile.TemporaryDirectory(prefix="sentinel-floor-") as tmp:
        # one untimed round first: the first database and the first batches pay for warming caches
        warm_rows, _ = rows_cost(normalised_events(min(args.events, 10_000))[0])
        for _label, drop in STEPS:
            sqlite_cost(Path(tmp), warm_rows, drop)
        for run in range(args.runs):
            events, normalise_us = normalised_events(args.events)
            rows, rows_us = rows_cost(events)
            del events
            normalise.append(normalise_us)
            to_rows.append(rows_us)
            for label, drop in STEPS:
                steps[label].append(sqlite_cost(Path(tmp), rows, drop))
            print(
                f"  run {run + 1}: normalise {normalise_us:.1f}, rows {rows_us:.1f}, SQLite "
                + ", ".join(f"{values[-1]:.1f}" for values in steps.values())
                + " µs CPU per event"
            )
    print(f"medians of {args.runs} runs, {args.events:,} events each, µs of CPU per event:")
    print(f"  {'normalise (parse + ECS document)':>52}: {statistics.median(normalise):6.2f}")
    print(f"  {'events to rows (orjson per document)':>52}: {statistics.median(to_rows):6.2f}")
    previous = 0.0
    for label, values in steps.items():
        median = statistics.median(values)
        print(f"  {'SQLite ' + label:>52}: {median:6.2f}  ({median - previous:+.2f})")
        previous = median
    floor = statistics.median(to_rows) + previous
    print(
        f"RESULT rows + SQLite with the store's schema: {floor:.1f} µs CPU per event, before the socket, the spool "
        f"and any parsing; a 50,000 events/s budget is 20.0 µs for all of it"
    )


if __name__ == "__main__":
    main()
