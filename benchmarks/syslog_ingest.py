"""End-to-end syslog ingest: TCP sender process → collector runtime → durable in SQLite.

    python benchmarks/syslog_ingest.py [--lines 200000] [--runs 5] [--fsync batch] [--profile]
    python benchmarks/syslog_ingest.py --stages [--lines 100000]
    add --gc default to either for CPython's default garbage-collector thresholds

Each run is a fresh process with a fresh data directory: it starts ``CollectorRuntime`` (spool,
drain, TCP listener on loopback) on a real SQLite store, starts a separate sender process that
sends N sshd lines (the loghub OpenSSH lines from SENTINEL_TEST_DATA / ../shared/data, each
made unique by its pid field; generated lines if the data is absent) as fast as TCP allows,
and measures from the first byte sent until the store has confirmed all N events. It prints
events/s and the service process's peak RSS per run, then the median of the runs.

``--stages`` runs every stage of the same path one after another in one thread, without the
socket, and prints the CPU time (``time.process_time``) per event of each: framing + spool
write, spool read + decode, normalising, the store write, the checkpoint. CPU time is the
steadier figure on a shared machine where wall time moves with the neighbours' load.
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


def chunks(count: int, size: int = 256 * 1024) -> list[bytes]:
    """``count`` unique syslog lines (newline framed) in chunks of about ``size`` bytes."""
    lines = sample_lines()
    out: list[bytes] = []
    chunk: list[bytes] = []
    used = 0
    for n in range(count):
        line = b"<38>" + _PID.sub(b"sshd[%d]" % n, lines[n % len(lines)], count=1) + b"\n"
        chunk.append(line)
        used += len(line)
        if used >= size:
            out.append(b"".join(chunk))
            chunk, used = [], 0
    if chunk:
        out.append(b"".join(chunk))
    return out


def sender(port: int, count: int) -> None:
    """Send ``count`` unique lines over one TCP connection in 256 KB writes."""
    data = chunks(count)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for chunk in data:
            sock.sendall(chunk)


def stages(count: int, fsync: str, batch_size: int | None, gc_mode: str = "service") -> None:
    """CPU time per event of each stage of the ingest path, run one after another in this thread."""
    from collectors.normalize import Normalizer
    from collectors.records import RawRecord
    from collectors.spool import Spool
    from collectors.syslog_framing import FrameDecoder
    from sentinel.config import Settings
    from sentinel.gc_tuning import tune_for_service
    from sentinel.inventory import Inventory
    from sentinel.store.sqlite import SqliteStore

    data = chunks(count, 64 * 1024)  # what one TCP read of the event loop typically holds
    cpu: dict[str, float] = {}

    def timed(stage: str, started: float) -> None:
        cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - started

    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        settings = Settings.model_validate({"data_dir": tmp, "spool": spool_settings(fsync, batch_size)})
        spool = Spool(Path(tmp) / "spool", settings.spool)
        spool.open()
        store = SqliteStore(Path(tmp) / "sentinel.db")
        store.setup()
        normalizer = Normalizer(Inventory([]), default_timezone=settings.timezone, observer_hostname="bench")
        if gc_mode == "service":
            tune_for_service()
        wall = time.perf_counter()
        t = time.process_time()
        decoder = FrameDecoder(8192)
        for chunk in data:
            template = RawRecord(b"", time.time(), "syslog:127.0.0.1", "tcp", "127.0.0.1", "syslog-tcp:514")
            spool.append_frames(*spool.encode_lines(template, decoder.feed(chunk)))
        timed("frame + spool write", t)
        stored = 0
        while True:
            t = time.process_time()
            batch = spool.read_batch(settings.spool.batch_size)
            timed("spool read + decode", t)
            if not batch.items:
                break
            t = time.process_time()
            events = [normalizer.normalize(item.record) for item in batch.items]
            timed("normalise", t)
            t = time.process_time()
            stored += store.write_events(events).created
            timed("store write", t)
            t = time.process_time()
            spool.commit(batch.end, len(batch.items))
            timed("checkpoint", t)
        wall = time.perf_counter() - wall
        spool.close()
        store.close()
    assert stored == count, (stored, count)
    total = sum(cpu.values())
    for stage, seconds in cpu.items():
        print(f"{stage:>22}: {seconds / count * 1e6:6.2f} µs CPU per event")
    print(
        f"{'all stages':>22}: {total / count * 1e6:6.2f} µs CPU per event = {count / total:,.0f} events per CPU-second "
        f"({count / wall:,.0f} events/s wall, one thread, batch {settings.spool.batch_size})"
    )


def spool_settings(fsync: str, batch: int | None) -> dict[str, object]:
    return {"fsync": fsync} | ({"batch_size": batch} if batch else {})


def one_run(
    count: int, fsync: str, profile: bool, batch: int | None = None, gc_mode: str = "service"
) -> dict[str, float]:
    """One measured run in this (fresh) process; returns the figures."""
    from collectors.runtime import CollectorRuntime
    from sentinel.config import Settings
    from sentinel.gc_tuning import tune_for_service
    from sentinel.inventory import Inventory
    from sentinel.store.sqlite import SqliteStore

    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        settings = Settings.model_validate(
            {
                "data_dir": tmp,
                "listeners": {"syslog": [{"protocol": "tcp", "host": "127.0.0.1", "port": 0}]},
                "spool": spool_settings(fsync, batch),
            }
        )
        store = SqliteStore(Path(tmp) / "sentinel.db")
        store.setup()
        runtime = CollectorRuntime(settings, Inventory([]), store, observer_hostname="bench")
        if gc_mode == "service":
            tune_for_service()  # as ``sentinel serve`` does after start-up
        runtime.start()
        port = runtime.bound_ports["syslog_tcp"]
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()  # profiles this thread only; see --profile help
        started = time.perf_counter()
        cpu_started = time.process_time()  # every thread of this process: receiver and drain
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
        cpu = time.process_time() - cpu_started
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
        # CPU time of the service process (receiver + drain threads), steadier than wall time
        # on a shared machine; the sender process is not counted
        "cpu_us_per_event": round(cpu / count * 1e6, 1),
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
    parser.add_argument("--batch", type=int, help="drain batch size (default: the spool settings' default)")
    parser.add_argument("--stages", action="store_true", help="CPU time per event of each stage, one thread")
    parser.add_argument(
        "--gc",
        choices=["service", "default"],
        default="service",
        help="garbage-collector settings: the service's (sentinel.gc_tuning, default) or CPython's defaults",
    )
    parser.add_argument("--send", nargs=2, type=int, metavar=("PORT", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        sender(*args.send)
        return
    if args.stages:
        stages(args.lines, args.fsync, args.batch, args.gc)
        return
    if args.one_run:
        print(json.dumps(one_run(args.lines, args.fsync, args.profile, args.batch, args.gc)))
        return
    runs = 1 if args.profile else args.runs
    results = []
    for n in range(runs):
        out = subprocess.run(
            [sys.executable, __file__, "--one-run", "--lines", str(args.lines), "--fsync", args.fsync, "--gc", args.gc]
            + (["--profile"] if args.profile else [])
            + (["--batch", str(args.batch)] if args.batch else []),
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
        f"median {statistics.median(r['cpu_us_per_event'] for r in results):.1f} µs CPU per event "
        f"(= {1e6 / statistics.median(r['cpu_us_per_event'] for r in results):,.0f} events per CPU-second); "
        f"peak RSS {max(r['peak_rss_mb'] for r in results)} MB; "
        f"received into the spool: median {statistics.median(r['spooled_per_second'] for r in results):,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
