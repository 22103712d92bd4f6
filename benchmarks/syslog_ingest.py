"""End-to-end syslog ingest: TCP sender process → collector runtime → durable in SQLite.

    python benchmarks/syslog_ingest.py [--lines 200000] [--runs 5] [--fsync batch] [--profile]

Each run is a fresh process with a fresh data directory: it starts ``CollectorRuntime`` (spool,
drain, TCP listener on loopback) on a real SQLite store, starts a separate sender process that
sends N sshd lines (the loghub OpenSSH lines from SENTINEL_TEST_DATA / ../shared/data, each
made unique by its pid field; generated lines if the data is absent) as fast as TCP allows,
and measures from the first byte sent until the store has confirmed all N events. It prints
events/s and the service process's peak RSS per run, then the median of the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_PID = re.compile(rb"sshd\[\d+\]")


def sample_lines() -> list[bytes]:
    configured = os.environ.get("SENTINEL_TEST_DATA")
    data = Path(configured) if configured else ROOT.parent / "shared" / "data"
    path = data / "loghub" / "OpenSSH_2k.log"
    if path.is_file():
        return [line for line in path.read_bytes().splitlines() if line.strip()]
    # No shared data: generated lines of the same shapes (documentation address ranges).
    return [
        b"Mar 3 10:00:01 bastion sshd[1]: Failed password for invalid user admin from 203.0.113.%d port %d ssh2"
        % (n % 250, 40000 + n)
        for n in range(500)
    ] + [b"Mar 3 10:00:02 bastion sshd[1]: Invalid user oracle from 198.51.100.%d" % n for n in range(250)]


def sender(port: int, count: int) -> None:
    """Send ``count`` unique lines over one TCP connection in 256 KB writes."""
    lines = sample_lines()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        chunk: list[bytes] = []
        size = 0
        for n in range(count):
            line = b"<38>" + _PID.sub(b"sshd[%d]" % n, lines[n % len(lines)], count=1) + b"\n"
            chunk.append(line)
            size += len(line)
            if size >= 256 * 1024:
                sock.sendall(b"".join(chunk))
                chunk, size = [], 0
        if chunk:
            sock.sendall(b"".join(chunk))


def one_run(count: int, fsync: str, profile: bool) -> dict[str, float]:
    """One measured run in this (fresh) process; returns the figures."""
    from collectors.runtime import CollectorRuntime
    from sentinel.config import Settings
    from sentinel.inventory import Inventory
    from sentinel.store.sqlite import SqliteStore

    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        settings = Settings.model_validate(
            {
                "data_dir": tmp,
                "listeners": {"syslog": [{"protocol": "tcp", "host": "127.0.0.1", "port": 0}]},
                "spool": {"fsync": fsync},
            }
        )
        store = SqliteStore(Path(tmp) / "sentinel.db")
        store.setup()
        runtime = CollectorRuntime(settings, Inventory([]), store, observer_hostname="bench")
        runtime.start()
        port = runtime.bound_ports["syslog_tcp"]
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()  # profiles this thread only; see --profile help
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--send", str(port), str(count)])
        deadline = time.monotonic() + 600
        spooled_at = None
        while time.monotonic() < deadline:
            stats = runtime.stats()
            if spooled_at is None and stats.received >= count:
                spooled_at = time.perf_counter() - started
            if stats.stored + stats.duplicates + stats.dead_letters >= count:
                break
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        spooled = spooled_at if spooled_at is not None else elapsed
        proc.wait(60)
        stats = runtime.stats()
        runtime.stop()
        store.close()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(ROOT / "benchmarks" / "syslog_ingest.prof"))
    return {
        "events": stats.stored,
        "duplicates": stats.duplicates,
        "dead_letters": stats.dead_letters,
        "seconds": round(elapsed, 3),
        "events_per_second": round(count / elapsed, 1),
        # received and in the spool (on disk) while the drain runs alongside: the receivers' share
        "spooled_per_second": round(count / spooled, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fsync", choices=["always", "batch", "never"], default="batch")
    parser.add_argument("--profile", action="store_true", help="run once under py-spy if installed, else cProfile")
    parser.add_argument("--send", nargs=2, type=int, metavar=("PORT", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        sender(*args.send)
        return
    if args.one_run:
        print(json.dumps(one_run(args.lines, args.fsync, args.profile)))
        return
    runs = 1 if args.profile else args.runs
    results = []
    for n in range(runs):
        out = subprocess.run(
            [sys.executable, __file__, "--one-run", "--lines", str(args.lines), "--fsync", args.fsync]
            + (["--profile"] if args.profile else []),
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(f"run {n + 1}: {result}")
    rates = [r["events_per_second"] for r in results]
    print(
        f"syslog TCP → SQLite, {args.lines} sshd lines, fsync={args.fsync}: "
        f"median {statistics.median(rates):,.0f} events/s (min {min(rates):,.0f}, max {max(rates):,.0f}); "
        f"peak RSS {max(r['peak_rss_mb'] for r in results)} MB; "
        f"received into the spool: median {statistics.median(r['spooled_per_second'] for r in results):,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
