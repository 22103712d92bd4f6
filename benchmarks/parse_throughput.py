"""Normaliser throughput on real sshd lines: prints lines/s and µs/line (median of 5 runs).

Usage: .venv/bin/python benchmarks/parse_throughput.py [--lines N]
Reads ../shared/data/loghub/OpenSSH_2k.log (or SENTINEL_TEST_DATA); repeats it to N lines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.inventory import Institution, Inventory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(os.environ.get("SENTINEL_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    source = root / "loghub" / "OpenSSH_2k.log"
    lines = source.read_bytes().splitlines()
    start_at = time.time()
    # Origins and receive times differ per line as a receiver's would (sender address + sequence; a
    # new receive time every 20 µs, i.e. 50,000 lines/s), all built before timing.
    records = [
        RawRecord(
            raw=lines[i % len(lines)],
            received_at=start_at + i * 2e-5,
            origin=f"10.1.2.3#{i}",
            transport="udp",
            peer="10.1.2.3",
        )
        for i in range(args.lines)
    ]
    inventory = Inventory([Institution(id="moh", name="Ministry of Health", networks=["10.1.0.0/16"])])
    normalizer = Normalizer(inventory, observer_hostname="bench")
    wall_rates, cpu_rates = [], []
    for _ in range(args.runs):
        wall, cpu = time.perf_counter(), time.process_time()
        for record in records:
            normalizer.normalize(record)
        cpu_rates.append(len(records) / (time.process_time() - cpu))
        wall_rates.append(len(records) / (time.perf_counter() - wall))
    print(f"sshd lines (loghub OpenSSH_2k, {len(records)} per run, {args.runs} runs, one core)")
    # CPU time is what one core can do; wall time also counts waiting for a shared CPU.
    for label, rates in (("cpu", cpu_rates), ("wall", wall_rates)):
        median = statistics.median(rates)
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"  {label:4} median {median:,.0f} lines/s = {1e6 / median:.2f} µs/line  (runs: {runs})")


if __name__ == "__main__":
    main()
