"""Whole-engine detection throughput: the real ``DetectionEngine`` catching up over a real SQLite store.

Two workloads, built from real third-party data (../shared/data, or SENTINEL_TEST_DATA):

- linux: loghub (OpenSSH, Linux) and fail2ban lines normalised by ``collectors.normalize.Normalizer``,
  multiplied to ``--events`` (default 1,000,000) with distinct event ids and timestamps spread evenly
  over ``--hours``; rules: every SigmaHQ Linux rule (``sigma-rules-linux``) plus the shipped pack.
- windows: every sigma-regression JSON event (``collectors.windows``), multiplied to
  ``--windows-events`` (default 200,000); rules: the sigma-regression rules plus the shipped pack.

The store is built once per workload (``write_events`` in batches; not part of the figure) and kept
in ``--store-dir`` (a temporary folder unless given, so a later invocation can reuse it). Each run is a
separate child process (so its peak RSS is the engine's own): it resets checkpoints, alerts and rule
health, puts every rule's checkpoint at the start of the span and times ``engine.catch_up`` to the end
of the span with the default detect settings. Printed per workload: events in the span ÷ wall
seconds and ÷ CPU seconds of the catch-up, alerts stored, rule errors, peak RSS; median of ``--runs``.

    .venv/bin/python benchmarks/detect_engine.py --runs 3
    .venv/bin/python benchmarks/detect_engine.py --only linux --events 200000 --store-dir /tmp/bench-store
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.detect_throughput import linux_events, windows_events  # noqa: E402
from sentinel.config import DetectSettings  # noqa: E402
from sentinel.detect.engine.checkpoints import Checkpoint, Checkpoints  # noqa: E402
from sentinel.detect.engine.health import HealthRecorder  # noqa: E402
from sentinel.detect.engine.runner import DetectionEngine  # noqa: E402
from sentinel.detect.rulebook.pack import load_configured_pack  # noqa: E402
from sentinel.events import Event, format_timestamp, make_event_id, to_millis  # noqa: E402
from sentinel.gc_tuning import tune_for_service  # noqa: E402
from sentinel.inventory import Inventory  # noqa: E402
from sentinel.store.base import EventQuery, Scope  # noqa: E402
from sentinel.store.sqlite import SqliteStore  # noqa: E402

START = datetime(2025, 6, 2, tzinfo=UTC)
BATCH = 5000
RULE_FOLDERS = {"linux": "sigma-rules-linux", "windows": "sigma-regression-rules"}
RESET = ("checkpoints", "alerts", "rule_health", "outbox")


def default_data() -> Path:
    env = os.environ.get("SENTINEL_TEST_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def build(db: Path, workload: str, data: Path, total: int, hours: float) -> None:
    marker = db.with_suffix(".built.json")
    wanted = {"workload": workload, "events": total, "hours": hours}
    if db.exists() and marker.exists() and json.loads(marker.read_text()) == wanted:
        print(f"{workload}: reusing {db}")
        return
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), marker):
        path.unlink(missing_ok=True)
    base = linux_events(data) if workload == "linux" else windows_events(data)
    started = time.perf_counter()
    store = SqliteStore(db)
    store.setup()
    created = 0
    # Built and written a batch at a time, so building never holds a million documents at once.
    for first in range(0, total, BATCH):
        created += store.write_events(copies(base, first, min(BATCH, total - first), total, hours)).created
    store.close()
    marker.write_text(json.dumps(wanted))
    print(
        f"{workload}: built {created:,} events from {len(base):,} distinct ones over {hours} h "
        f"in {time.perf_counter() - started:.0f} s (not part of the figures)"
    )


def copies(base: Sequence[Event], first: int, count: int, total: int, hours: float) -> list[Event]:
    """Events ``first`` to ``first + count`` of ``total``: the base events over and over, each copy with
    its own id and time (spread evenly over ``hours``)."""
    step = timedelta(hours=hours) / total
    out: list[Event] = []
    for n in range(first, first + count):
        i = n % len(base)
        ts = START + step * n
        doc: dict[str, Any] = orjson.loads(orjson.dumps(base[i].doc))
        event_id = make_event_id(f"bench:{n // len(base)}", base[i].id)
        doc["@timestamp"] = format_timestamp(ts)
        doc.setdefault("event", {})["id"] = event_id
        out.append(Event(id=event_id, timestamp=ts, dataset=base[i].dataset, doc=doc))
    return out


def reset(store: SqliteStore) -> None:
    for collection in RESET:
        while docs := store.find_documents(collection, Scope.everything(), limit=5000):
            for doc in docs:
                store.delete_document(collection, doc.id)


def dump_alerts(store: SqliteStore, path: Path) -> None:
    """Every stored alert, one JSON document per line in id order (to compare two versions' alerts)."""
    docs = store.find_documents("alerts", Scope.everything(), limit=1_000_000)
    with path.open("wb") as out:
        for doc in sorted(docs, key=lambda d: d.id):
            out.write(orjson.dumps(doc.body, option=orjson.OPT_SORT_KEYS) + b"\n")


def engine_run(db: Path, workload: str, data: Path, hours: float, dump: Path | None = None) -> dict[str, Any]:
    """One catch-up over the whole span, in this (child) process."""
    store = SqliteStore(db)
    reset(store)
    pack = load_configured_pack([data / RULE_FOLDERS[workload]])
    tune_for_service()  # rules loaded: as ``sentinel serve`` does after start-up
    settings = DetectSettings()
    end = START + timedelta(hours=hours)
    now = end + timedelta(seconds=settings.ingest_delay_seconds + settings.interval_seconds)
    engine = DetectionEngine(store, pack, settings, Inventory([]), health=HealthRecorder(store), clock=lambda: now)
    book = Checkpoints(store)
    start_ms = to_millis(START)
    for rule_id in engine.rules:
        book.save(Checkpoint(rule_id, start_ms, start_ms), start_ms, now)
    events = store.count_events(EventQuery(start=START, end=end + timedelta(hours=1)), Scope.everything())
    wall, cpu = time.perf_counter(), time.process_time()
    reports = engine.catch_up(now)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    alerts = store.count_documents("alerts", Scope.everything())
    if dump is not None:
        dump_alerts(store, dump)
    store.close()
    return {
        "rules": len(engine.rules),
        "load_errors": len(engine.load_errors),
        "events": events,
        "wall": wall,
        "cpu": cpu,
        "alerts": alerts,
        "steps": len(reports),
        "errors": sorted({r.rule_id for r in reports if r.error}),
        "matches": sum(r.matches for r in reports),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(
    db: Path, workload: str, data: Path, hours: float, runs: int, timeout: float, dump: Path | None = None
) -> None:
    results = []
    for run in range(runs):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            workload,
            "--db",
            str(db),
            "--data",
            str(data),
            "--hours",
            str(hours),
        ]
        if dump is not None and run == 0:
            cmd += ["--dump-alerts", str(dump.with_name(f"{dump.name}.{workload}.jsonl"))]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{workload}: engine run failed ({out.returncode})")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(
            f"  run: {r['events'] / r['wall']:,.0f} events/s wall, {r['events'] / r['cpu']:,.0f} events/s CPU, "
            f"{r['wall']:.1f} s, {r['alerts']} alerts, {len(r['errors'])} rules with errors, "
            f"peak RSS {r['rss_mb']:.0f} MB",
            flush=True,
        )
    first = results[0]
    walls = [r["events"] / r["wall"] for r in results]
    cpus = [r["events"] / r["cpu"] for r in results]
    print(
        f"{workload}: {first['rules']} rules ({first['load_errors']} load errors), {first['events']:,} events "
        f"over {hours} h, {first['steps']} rule steps, {first['matches']:,} matches, {first['alerts']} alerts; "
        f"median {statistics.median(walls):,.0f} events/s wall (min {min(walls):,.0f}, max {max(walls):,.0f}), "
        f"{statistics.median(cpus):,.0f} events/s CPU, {runs} runs; "
        f"peak RSS {max(r['rss_mb'] for r in results):.0f} MB"
    )
    if first["errors"]:
        print(f"  rules with errors: {', '.join(first['errors'][:10])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--events", type=int, default=1_000_000, help="linux events in the store")
    parser.add_argument("--windows-events", type=int, default=200_000)
    parser.add_argument("--hours", type=float, default=12.0, help="event time the linux events span")
    parser.add_argument("--windows-hours", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("linux", "windows"))
    parser.add_argument("--store-dir", type=Path, help="keep (and reuse) the built stores here")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one engine run may take")
    parser.add_argument("--dump-alerts", type=Path, help="write the first run's alerts to DUMP.<workload>.jsonl")
    parser.add_argument("--child", choices=("linux", "windows"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(engine_run(args.db, args.child, args.data, args.hours, args.dump_alerts)))
        return
    folder = args.store_dir or Path(tempfile.mkdtemp(prefix="sentinel-detect-engine-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        plans = [("linux", args.events, args.hours), ("windows", args.windows_events, args.windows_hours)]
        for workload, total, hours in plans:
            if args.only and workload != args.only:
                continue
            db = folder / f"{workload}.db"
            build(db, workload, args.data, total, hours)
            measure(db, workload, args.data, hours, args.runs, args.timeout, args.dump_alerts)
    finally:
        if args.store_dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
