"""Packet sensor throughput on the real masscan capture, against scapy's plain ``PcapReader``.

The masscan TCP sweep (../shared/data/pcaps/esnet-curated/masscan, 1,005 frames) is repeated to at
least ``--packets`` frames in a temporary pcap; each copy is shifted 120 s later, as if the scanner
came back every two minutes, so every copy is a new scan window and a new finding.

Timed, median of ``--runs`` runs:
- sensor: ``findings_from_pcap`` end to end (read the file, decode headers, all four detectors,
  findings built as ECS events);
- scapy: ``PcapReader`` dissecting every frame of the same file, nothing else (on the first
  ``--scapy-packets`` frames: at ~3,300 packets/s the whole file would take half a minute per run).
Peak memory: tracemalloc's peak during one extra sensor run (Python allocations), and the process's
maximum RSS at the end.

    .venv/bin/python benchmarks/sensor_throughput.py --packets 100000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import struct
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collectors.sensor.capture_reader import read_frames  # noqa: E402
from collectors.sensor.pcap_import import findings_from_pcap  # noqa: E402
from sentinel.config import SensorSettings  # noqa: E402

CAPTURE = "pcaps/esnet-curated/masscan/tcp_0_1000_20190821.pcap"
REPEAT_SHIFT = 120.0


def shared_data() -> Path:
    configured = os.environ.get("SENTINEL_TEST_DATA")
    path = Path(configured) if configured else ROOT.parent / "shared" / "data"
    if not path.is_dir():
        sys.exit(f"test data not found at {path}; set SENTINEL_TEST_DATA")
    return path


def write_repeated(source: Path, target: Path, at_least: int) -> int:
    frames = list(read_frames(source))
    copies = -(-at_least // len(frames))
    with target.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, frames[0][1]))
        for copy in range(copies):
            shift = copy * REPEAT_SHIFT
            for ts, _linktype, frame in frames:
                ts += shift
                sec = int(ts)
                f.write(struct.pack("<IIII", sec, round((ts - sec) * 1e6) % 1_000_000, len(frame), len(frame)))
                f.write(frame)
    return copies * len(frames)


def timed(runs: int, job: Callable[[], int]) -> tuple[list[float], list[float], int]:
    """(wall seconds, CPU seconds, result) per run. CPU time shows what wall time would be on an idle
    machine; the development machines are shared, so both are printed."""
    seconds, cpu, result = [], [], 0
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = job()
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return seconds, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=100_000, help="repeat the capture to at least this many frames")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scapy-packets", type=int, default=10_000, help="frames dissected by scapy per run")
    parser.add_argument("--scapy-runs", type=int, default=3)
    args = parser.parse_args()

    source = shared_data() / CAPTURE
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "masscan_repeated.pcap"
        total = write_repeated(source, path, args.packets)
        print(f"capture: {source.name} repeated to {total:,} frames ({path.stat().st_size / 1e6:.1f} MB)")
        settings = SensorSettings()

        def sensor() -> int:
            return sum(1 for _ in findings_from_pcap(path, settings))

        def decode_only() -> int:
            return sum(1 for _ in read_frames(path))

        seconds, cpu, findings = timed(args.runs, sensor)
        median = statistics.median(seconds)
        sensor_pps = total / median
        print(
            f"sensor (read + decode + 4 detectors + ECS events): median {median:.3f} s of {args.runs} runs "
            f"-> {sensor_pps:,.0f} packets/s wall, {total / statistics.median(cpu):,.0f} packets/s CPU; "
            f"{findings} findings (wall runs: {', '.join(f'{s:.3f}' for s in seconds)})"
        )
        seconds, _, _ = timed(args.runs, decode_only)
        print(f"file reading alone: {total / statistics.median(seconds):,.0f} frames/s")

        # Imported late (its import time is not the sensor's); scapy.all registers every layer, so
        # PcapReader really dissects Ethernet/IP/TCP instead of returning Raw blobs.
        from scapy.all import PcapReader

        def scapy_dissect() -> int:
            n = 0
            with PcapReader(str(path)) as reader:
                for _pkt in reader:
                    n += 1
                    if n >= args.scapy_packets:
                        break
            return n

        seconds, cpu, dissected = timed(args.scapy_runs, scapy_dissect)
        scapy_pps = dissected / statistics.median(seconds)
        print(
            f"scapy PcapReader (dissect only): {dissected:,} frames, median of {args.scapy_runs} runs "
            f"-> {scapy_pps:,.0f} packets/s wall, {dissected / statistics.median(cpu):,.0f} packets/s CPU"
        )
        print(f"speed-up (wall): sensor is {sensor_pps / scapy_pps:.1f}x scapy's PcapReader (goal: >= 10x)")

        tracemalloc.start()
        sensor()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak memory: {peak / 1e6:.1f} MB traced during a sensor run; process max RSS {rss_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
