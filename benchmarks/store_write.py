"""Bulk write throughput of ``SqliteStore.write_events`` for realistic sshd events.

Only the ``write_events`` calls are timed; the events are built before each run. Each run
writes ``--events`` new events in batches of ``--batch`` (the spool's default batch size) into
the same growing database, and the median of ``--runs`` runs is reported. A second pass with
full-text indexing switched off shows what FTS costs on write.

Events are built from the real lines of ``../shared/data/loghub/OpenSSH_2k.log`` (internet
brute force) when present, shaped as the sshd parser shapes them (ECS); otherwise from a few
built-in lines of the same kind.

    .venv/bin/python benchmarks/store_write.py [--events 50000] [--batch 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sentinel.events import Event, make_event_id, new_event
from sentinel.store import sqlite_writes
from sentinel.store.sqlite import SqliteStore

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INDEX_TEXT = sqlite_writes._INDEX_TEXT
FALLBACK = [
    "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
    "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
    "Dec 10 07:02:47 LabSZ sshd[24203]: Connection closed by 212.47.254.145 [preauth]",
    "Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for root from 112.95.230.3 port 49940 ssh2",
    "Dec 10 09:12:35 LabSZ sshd[24492]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
]
LINE = re.compile(r"^(\w{3} +\d+ [\d:]+) (\S+) (\w+)\[(\d+)\]: (.*)$")
IP = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})")
PORT = re.compile(r" port (\d+)")
USER = re.compile(r"(?:for|user) (?:invalid user )?(\S+) from")


def source_lines() -> list[str]:
    data = Path(os.environ.get("SENTINEL_TEST_DATA") or PROJECT_ROOT.parent / "shared" / "data")
    path = data / "loghub" / "OpenSSH_2k.log"
    if path.is_file():
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return FALLBACK


def to_event(line: str, n: int, base: datetime, ingested: datetime) -> Event:
    m = LINE.match(line)
    host, proc, pid, msg = (m.group(2), m.group(3), int(m.group(4)), m.group(5)) if m else ("unknown", "sshd", 0, line)
    fields: dict[str, Any] = {
        "message": msg,
        "host": {"hostname": host},
        "process": {"name": proc, "pid": pid},
        "log": {"syslog": {"facility": {"name": "auth"}, "severity": {"name": "info"}}},
        "observer": {"type": "syslog", "hostname": "sentinel-1"},
        "agent": {"type": "sentinel", "version": "0.1.0"},
        "organization": {"id": f"inst-{n % 200:03d}"},
        "event": {"kind": "event", "category": ["authentication"], "type": ["start"], "original": line},
        "related": {},
    }
    if (ip := IP.search(msg)) is not None:
        fields["source"] = {"ip": ip.group(1)}
        fields["related"]["ip"] = [ip.group(1)]
        if (port := PORT.search(msg)) is not None:
            fields["source"]["port"] = int(port.group(1))
    if (user := USER.search(msg)) is not None:
        fields["user"] = {"name": user.group(1)}
        fields["related"]["user"] = [user.group(1)]
    if "Failed" in msg or "Invalid" in msg:
        fields["event"]["outcome"] = "failure"
    elif "Accepted" in msg:
        fields["event"]["outcome"] = "success"
    return new_event(
        event_id=make_event_id("udp://10.0.0.1:514", f"{n}:{line}"),
        timestamp=base + timedelta(milliseconds=n * 7),
        dataset="system.auth",
        fields=fields,
        ingested=ingested,
    )


def build(lines: list[str], start: int, count: int) -> list[Event]:
    base = datetime(2024, 5, 1, tzinfo=UTC)
    ingested = datetime.now(UTC)
    return [to_event(lines[n % len(lines)], n, base, ingested) for n in range(start, start + count)]


def measure(
    path: Path, lines: list[str], events: int, batch: int, runs: int, fts: bool
) -> tuple[list[float], list[float]]:
    with SqliteStore(path) as store:
        store.setup()
        # Benchmark only: swap the statement that indexes new rows for a no-op to see what FTS costs.
        sqlite_writes._INDEX_TEXT = INDEX_TEXT if fts else "SELECT ?"
        rates, cpu_rates = [], []
        for run in range(runs):
            evs = build(lines, run * events, events)
            started, cpu_started = time.perf_counter(), time.process_time()
            created = 0
            for i in range(0, len(evs), batch):
                created += store.write_events(evs[i : i + batch]).created
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            assert created == events, (created, events)
            rates.append(events / elapsed)
            cpu_rates.append(events / cpu)
            print(
                f"  run {run + 1}: {events:,} events in {elapsed:.3f} s = {events / elapsed:,.0f} events/s "
                f"({events / cpu:,.0f} per CPU-second)"
            )
        # idempotency path: the last run again, all duplicates
        started = time.perf_counter()
        dup = sum(store.write_events(evs[i : i + batch]).duplicates for i in range(0, len(evs), batch))
        elapsed = time.perf_counter() - started
        print(f"  re-send of {dup:,} duplicates: {dup / elapsed:,.0f} events/s")
    size = path.stat().st_size + (Path(f"{path}-wal").stat().st_size if Path(f"{path}-wal").exists() else 0)
    print(f"  database: {size / 1e6:.1f} MB for {events * runs:,} events ({size / (events * runs):,.0f} bytes/event)")
    return rates, cpu_rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="events per run")
    parser.add_argument("--batch", type=int, default=5_000, help="events per write_events call")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-no-fts", action="store_true", help="do not measure without full-text indexing")
    args = parser.parse_args()
    lines = source_lines()
    sample = build(lines, 0, 1)[0]
    import orjson

    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} cpus")
    print(f"source: {len(lines)} sshd lines; mean stored doc ~{len(orjson.dumps(sample.doc))} bytes")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fts in (True, False) if not args.skip_no_fts else (True,):
            label = "with FTS" if fts else "without FTS indexing"
            print(f"{label}: {args.runs} runs x {args.events:,} events, batches of {args.batch:,}")
            results[label] = measure(Path(tmp) / f"bench-{int(fts)}.db", lines, args.events, args.batch, args.runs, fts)
    # On a shared machine wall-clock rates move with the neighbours' load; the per-CPU-second
    # rate (this process's own CPU time) is the steadier figure to compare changes with.
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    for label, (rates, cpu_rates) in results.items():
        median = statistics.median(rates)
        print(
            f"RESULT {label}: median {median:,.0f} events/s (min {min(rates):,.0f}, max {max(rates):,.0f}); "
            f"median {statistics.median(cpu_rates):,.0f} events per CPU-second"
        )
    if len(results) == 2:
        (with_fts, with_cpu), (without, without_cpu) = (
            (statistics.median(r), statistics.median(c)) for r, c in results.values()
        )
        print(
            f"RESULT FTS costs {100 * (1 - with_fts / without):.0f}% of wall-clock write throughput, "
            f"{100 * (1 - with_cpu / without_cpu):.0f}% per CPU-second"
        )


if __name__ == "__main__":
    main()
