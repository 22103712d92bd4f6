"""Memory under a flood of malformed syslog: the real service's RSS before, at peak and after.

    python benchmarks/fuzz_memory.py [--frames 100000] [--runs 3]

Each run starts the real ``sentinel serve`` (fresh data directory, UDP and TCP syslog on loopback),
sends 5,000 good lines (the steady state), then ``--frames`` malformed frames, half as UDP
datagrams (paced at about 10,000/s) and half over four TCP connections: binary garbage, invalid
UTF-8, control characters, dates at the edges of the range, numbers beyond 64 bits, broken
structured data, huge fields, lines over the size limit, bad octet counts
(``tests/support/fuzz_frames.py``). It waits until every frame is an event, a dead letter or a
counted UDP drop, and prints the RSS (steady, peak, after), the accounting, the time, and the
service log's size and tracebacks. The acceptance: RSS after within 50 MB of steady, no traceback.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fuzz_frames import FuzzRun, fuzz_service  # noqa: E402
from tests.support.service_process import ServiceProcess  # noqa: E402


def one_run(frames: int) -> FuzzRun:
    with tempfile.TemporaryDirectory(prefix="sentinel-fuzz-") as tmp:
        service = ServiceProcess(Path(tmp), udp=True)
        service.start()
        try:
            return fuzz_service(service, frames)
        finally:
            service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: list[FuzzRun] = []
    for n in range(args.runs):
        run = one_run(args.frames)
        runs.append(run)
        print(
            f"run {n + 1}: {run.frames:,} frames in {run.seconds:.1f} s -> {run.events:,} events + "
            f"{run.dead_letters:,} dead letters + {run.udp_dropped:,} UDP drops "
            f"(missing {run.frames - run.events - run.dead_letters - run.udp_dropped}); RSS steady "
            f"{run.rss_steady_mb:.0f} MB, peak {run.rss_peak_mb:.0f} MB, after {run.rss_after_mb:.0f} MB "
            f"(+{run.rss_after_mb - run.rss_steady_mb:.0f} MB); log {run.log_lines} lines, "
            f"{run.tracebacks} tracebacks",
            flush=True,
        )
    growth = [r.rss_after_mb - r.rss_steady_mb for r in runs]
    print(
        f"RESULT RSS growth after {args.frames:,} malformed frames: median {statistics.median(growth):+.0f} MB "
        f"(max {max(growth):+.0f} MB); peak median {statistics.median(r.rss_peak_mb for r in runs):.0f} MB; "
        f"tracebacks {sum(r.tracebacks for r in runs)}"
    )


if __name__ == "__main__":
    main()
