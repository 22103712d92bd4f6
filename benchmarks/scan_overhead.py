"""Overhead of Sentinel's scan wrapper over the same nmap command run bare.

Starts a loopback listener with an SSH-like banner, then times (median of N runs each):
- bare:    ``nmap -oX - <profile args> 127.0.0.1`` via subprocess (what an operator would run);
- wrapper: ``ScanRunner.run`` (python-nmap + our XML parse) and the same plus building ECS
  events with policy fields (what ``sentinel scan`` does before storing).

    .venv/bin/python benchmarks/scan_overhead.py [--runs 7]

Goal: wrapper overhead ≤ 10 % of the bare nmap time.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.scan.policy import PolicyContext, load_eol
from collectors.scan.runner import ScanRunner
from collectors.scan.targets import validate_target
from collectors.scan.xml_events import ScanContext, report_events
from sentinel.config import ScanSettings
from sentinel.inventory import Institution


def banner_listener(stop: threading.Event) -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.sendall(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n")
                    conn.settimeout(1)
                    conn.recv(256)
                except OSError:
                    pass
        sock.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    stop = threading.Event()
    port = banner_listener(stop)
    settings = ScanSettings(
        profiles={"bench": ScanSettings.Profile(kind="services", ports=[port, 1], timing=4, host_timeout_seconds=60)}
    )
    runner = ScanRunner(settings)
    target = validate_target("127.0.0.1", Institution(id="lo", name="Loopback", networks=["127.0.0.0/8"]))
    args = runner.arguments("bench")
    bare_cmd = ["nmap", "-oX", "-", *args, "127.0.0.1"]
    policy = PolicyContext.for_institution(settings, "lo", load_eol())
    runner.run([target], "bench")  # warm-up: page cache, the scanner pool
    subprocess.run(bare_cmd, capture_output=True, check=True)
    bare: list[float] = []
    wrapped: list[float] = []
    full: list[float] = []
    for _ in range(opts.runs):  # interleaved, so drift in machine load hits both alike
        t0 = time.perf_counter()
        subprocess.run(bare_cmd, capture_output=True, check=True)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = runner.run([target], "bench")
        wrapped.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = runner.run([target], "bench")
        events = report_events(result.report, ScanContext(scan_id="bench", institution_id="lo", policy=policy))
        full.append(time.perf_counter() - t0)
    stop.set()
    open_ports = sum(1 for e in events if e.dataset == "nmap.port")
    b, w, f = statistics.median(bare), statistics.median(wrapped), statistics.median(full)
    print(f"command: {' '.join(bare_cmd)}  ({opts.runs} runs each, {open_ports} open port found)")
    print(f"bare nmap           median {b * 1000:8.1f} ms  (min {min(bare) * 1000:.1f}, max {max(bare) * 1000:.1f})")
    print(f"ScanRunner.run      median {w * 1000:8.1f} ms  overhead {100 * (w - b) / b:+.1f} %")
    print(f"runner + ECS events median {f * 1000:8.1f} ms  overhead {100 * (f - b) / b:+.1f} %")


if __name__ == "__main__":
    main()
