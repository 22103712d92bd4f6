"""UDP syslog loss by send rate: what the real service received, what the kernel dropped.

    python benchmarks/udp_loss.py [--rates 2000,5000,10000,20000,40000] [--seconds 3] [--runs 3]
                                  [--rcvbuf BYTES]

Starts the real ``sentinel serve`` (UDP syslog on loopback; ``--rcvbuf`` sets the listener's
``receive_buffer_bytes``, default the service's 8 MiB). For each rate it sends ``--seconds`` worth
of unique sshd lines, paced in slots of 1 ms, waits until the service has spooled what it will,
and reads: datagrams received (the service's counter), the kernel's drops on the listener's socket
(the ``drops`` column of ``/proc/net/udp``, which ``sentinel status`` shows as udp_kernel_drops) and
the service's CPU time per datagram. Loss = sent - received; it should equal the kernel's drops
(the receiver itself drops only while the spool cannot write). Medians of ``--runs`` runs per rate.
On a loaded machine the knee moves: the CPU-time column says how much each datagram costs.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.service_process import ServiceProcess  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")


def kernel_drops(port: int) -> int:
    """The drops column of the /proc/net/udp entry bound to ``port`` on loopback."""
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        for row in Path(name).read_text().splitlines()[1:]:
            fields = row.split()
            if int(fields[1].split(":")[1], 16) == port:
                return int(fields[12])
    raise SystemExit(f"no UDP socket on port {port} in /proc/net/udp")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def received(service: ServiceProcess) -> int:
    return int(service.stats().get("received", 0))


def settle(service: ServiceProcess, seconds: float = 30.0) -> int:
    """The received counter once it stops moving (the service saves it every few seconds)."""
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = received(service)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since > 6.0:
            break
        time.sleep(0.5)
    return last


def one_rate(service: ServiceProcess, rate: int, seconds: float, first: int) -> tuple[float, int, int, int, float]:
    """(achieved rate, sent, lost, kernel drops, service CPU µs per datagram) for one rate."""
    port = service.ports["syslog_udp"]
    count = int(rate * seconds)
    before_received = settle(service)
    before_drops = kernel_drops(port)
    before_cpu = cpu_seconds(service.pid)
    per_slot = max(1, rate // 1000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        started = time.perf_counter()
        sent = 0
        while sent < count:
            for n in range(first + sent, first + min(sent + per_slot, count)):
                sock.sendto(
                    b"<38>Oct 11 22:14:15 web01 sshd[4242]: Failed password for root from 203.0.113.9 "
                    b"port 22 ssh2 seq=%d" % n,
                    ("127.0.0.1", port),
                )
            sent = min(sent + per_slot, count)
            slot_end = started + sent / rate
            pause = slot_end - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        elapsed = time.perf_counter() - started
    got = settle(service) - before_received
    drops = kernel_drops(port) - before_drops
    cpu = cpu_seconds(service.pid) - before_cpu
    return count / elapsed, count, count - got, drops, cpu / max(got, 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="2000,5000,10000,20000,40000")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rcvbuf", type=int, default=None, help="the listener's receive_buffer_bytes")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="sentinel-udp-loss-") as tmp:
        options = {"receive_buffer_bytes": args.rcvbuf} if args.rcvbuf else None
        service = ServiceProcess(Path(tmp), udp=True, udp_options=options)
        service.start()
        heads = ("rate/s", "achieved", "sent", "lost", "loss %", "kernel drops", "µs CPU/dgram")
        print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (8, 9, 7, 7, 7, 13, 13), strict=True)))
        first = 0
        try:
            for rate in rates:
                results = []
                for _ in range(args.runs):
                    results.append(one_rate(service, rate, args.seconds, first))
                    first += int(rate * args.seconds)
                achieved = statistics.median(r[0] for r in results)
                sent = results[0][1]
                lost = int(statistics.median(r[2] for r in results))
                drops = int(statistics.median(r[3] for r in results))
                cpu = statistics.median(r[4] for r in results)
                loss = 100 * lost / sent
                row = f"{rate:>8} {achieved:>9.0f} {sent:>7} {lost:>7} {loss:>6.1f}% {drops:>13} {cpu:>13.1f}"
                print(row, flush=True)
        finally:
            service.stop()
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
