"""TCP syslog under backpressure: the rate a sender gets before, during and after a full disk.

    python benchmarks/tcp_backpressure.py [--lines 300000] [--full-seconds 5] [--runs 3]

Starts the real ``sentinel serve`` (TCP syslog on loopback) and one sender that writes ``--lines``
unique sshd lines as fast as TCP takes them. A third of the way in, the service's disk "fills"
(``RLIMIT_FSIZE`` on the process: every write that grows a file fails, as on a full disk) for
``--full-seconds``, then space returns. Prints, per run: the rate TCP accepted from the sender
before (lines/s), what the sender could still push once the spool refused (the kernel's socket
buffers and the records the receiver holds, in lines), the rate while full (0: held back, not
dropped), the rate after, the service's CPU per line stored, and that every line sent was stored
exactly once. Medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.udp_loss import cpu_seconds  # noqa: E402
from tests.support.faults import limit_file_size_of  # noqa: E402
from tests.support.service_process import ServiceProcess, line  # noqa: E402


class Sender(threading.Thread):
    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.port, self.count, self.sent = port, count, 0
        self.samples: list[tuple[float, int]] = []

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=300) as s:
            for first in range(0, self.count, 500):
                s.sendall(b"".join(line(n) for n in range(first, min(first + 500, self.count))))
                self.sent = min(first + 500, self.count)
                self.samples.append((time.monotonic(), self.sent))


def rate_between(samples: list[tuple[float, int]], start: float, end: float) -> float:
    inside = [(t, n) for t, n in samples if start <= t <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return 0.0
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def one_run(lines: int, full_seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sentinel-tcp-bp-") as tmp:
        service = ServiceProcess(Path(tmp), spool={"min_free_mb": 0})
        service.start()
        try:
            cpu_before = cpu_seconds(service.pid)
            sender = Sender(service.ports["syslog_tcp"], lines)
            started = time.monotonic()
            sender.start()
            while sender.sent < lines // 3:
                time.sleep(0.01)
            segment = sorted((service.data / "spool").glob("*.seg"))[-1]
            full_at = time.monotonic()
            limit_file_size_of(service.pid, segment.stat().st_size + 65536)
            sent_at_full = sender.sent
            while service.healthz()[0] != 503:
                time.sleep(0.05)
            time.sleep(full_seconds)
            pushed_while_full = sender.sent - sent_at_full
            freed_at = time.monotonic()
            limit_file_size_of(service.pid, None)
            sender.join(600)
            done_at = time.monotonic()
            stored = service.wait_for_count(lines, timeout=600)
            stored_at = time.monotonic()
            cpu = cpu_seconds(service.pid) - cpu_before
            seqs = service.stored_sequence_numbers()
        finally:
            service.stop()
    exact = sorted(seqs) == list(range(lines))
    return {
        "before": rate_between(sender.samples, started, full_at),
        "pushed_while_full": pushed_while_full,
        "during": rate_between(sender.samples, freed_at - full_seconds / 2, freed_at),
        "after": rate_between(sender.samples, freed_at, done_at),
        "end_to_end": lines / (stored_at - started - (freed_at - full_at)),
        "cpu_us_per_line": cpu / max(stored, 1) * 1e6,
        "exact": float(exact and stored == lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--full-seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        r = one_run(args.lines, args.full_seconds)
        runs.append(r)
        print(
            f"run {n + 1}: accepted {r['before']:,.0f} lines/s before; {r['pushed_while_full']:,.0f} lines pushed "
            f"into socket buffers and held records once full, then {r['during']:,.0f} lines/s while full; "
            f"{r['after']:,.0f} lines/s after; {r['end_to_end']:,.0f} lines/s stored end to end (full time "
            f"excluded); {r['cpu_us_per_line']:.1f} µs service CPU per line; every line stored once: "
            f"{bool(r['exact'])}",
            flush=True,
        )
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"RESULT median: before {med['before']:,.0f} lines/s, while full {med['during']:,.0f} lines/s "
        f"(after {med['pushed_while_full']:,.0f} lines buffered), after {med['after']:,.0f} lines/s, "
        f"{med['cpu_us_per_line']:.1f} µs CPU/line; lost {sum(1 for r in runs if not r['exact'])} of {len(runs)} runs"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
