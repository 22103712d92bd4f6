"""Normalising a mix of services with every decoder loaded: CPU µs per event, and how it scales.

    python benchmarks/decoders_mixed.py [--lines 100000] [--runs 5] [--copies 4]

The corpus is every log line of fail2ban's annotated test logs (SENTINEL_TEST_DATA or ../shared/data:
about 1,100 lines of 72 services: syslog lines of known programs, messages of programs no parser
claims, whole lines of the services' own files) and every sample line of the shipped decoders,
repeated to N lines, each with its own origin and receive time. Each run normalises the corpus:

- ``library``: the shipped library, as ``sentinel serve`` runs by default;
- ``library xC``: the library plus C-1 renamed copies of every decoder (their programs and
  prefilter texts never occur), so C times as many decoders; dispatch that tried every decoder's
  patterns would cost about C times as much;
- ``no decoders``: the Python parsers alone (what the same lines cost before decoders).

Prints the median CPU time (``time.process_time``) per event of each, beside the wall-clock rate,
and the share of events each dispatch path classified. CPU time is the steadier figure on a shared
machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.decoders.dispatch import DecoderSet
from collectors.decoders.loader import load_decoders
from collectors.normalize import Normalizer
from collectors.parsers import install_decoders
from collectors.records import RawRecord
from sentinel.errors import ParseError
from sentinel.inventory import Institution, Inventory


def corpus() -> list[str]:
    root = Path(os.environ.get("SENTINEL_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    folder = root / "fail2ban-testlogs"
    lines: list[str] = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name != "COPYING":
                text = path.read_text(encoding="utf-8")
                lines.extend(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    for decoder in load_decoders(()).decoders:
        lines.extend(sample.line for sample in decoder.samples)
    return lines


def with_copies(copies: int) -> DecoderSet:
    """The library and ``copies - 1`` renamed copies of each decoder, whose programs and texts never occur."""
    library = load_decoders(()).decoders
    out = list(library)
    for n in range(1, copies):
        for d in library:
            out.append(
                dataclasses.replace(
                    d,
                    id=f"{d.id}-copy{n}",
                    programs=tuple(f"{p.rstrip('*')}~copy{n}" + ("*" if p.endswith("*") else "") for p in d.programs),
                    formats=tuple(f"{f}~copy{n}" for f in d.formats),
                    prefilter=tuple(f"{t}~copy{n}~" for t in d.prefilter),
                )
            )
    return DecoderSet(out)


def run(records: list[RawRecord], normalizer: Normalizer) -> tuple[float, float, Counter[str]]:
    paths: Counter[str] = Counter()
    wall = time.perf_counter()
    cpu = time.process_time()
    for record in records:
        try:
            event = normalizer.normalize(record)
        except ParseError:
            paths["dead letter"] += 1
            continue
        paths["classified" if "action" in event.doc["event"] else "not classified"] += 1
    return time.process_time() - cpu, time.perf_counter() - wall, paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--copies", type=int, default=4, help="the library is also timed this many times over")
    args = parser.parse_args()
    lines = [line.encode("utf-8") for line in corpus()]
    start_at = time.time()
    records = [
        RawRecord(lines[i % len(lines)], start_at + i * 2e-5, f"10.1.2.3#{i}", "udp", "10.1.2.3")
        for i in range(args.lines)
    ]
    inst = Institution(id="bench", name="Bench", timezone="Africa/Dar_es_Salaam", networks=["10.0.0.0/8"])
    normalizer = Normalizer(Inventory([inst]), observer_hostname="bench")
    library = DecoderSet(load_decoders(()).decoders)
    sets = {
        "library": library,
        f"library x{args.copies}": with_copies(args.copies),
        "no decoders": DecoderSet(()),
    }
    print(
        f"{len(records):,} lines ({len(lines):,} distinct, of about 75 services); "
        f"{len(library.decoders)} decoders in the library; median of {args.runs} runs"
    )
    previous = install_decoders(library)
    try:
        for name, decoders in sets.items():
            install_decoders(decoders)
            run(records[: min(5000, len(records))], normalizer)  # warm the caches of this set
            cpus, walls = [], []
            paths: Counter[str] = Counter()
            for _ in range(args.runs):
                cpu, wall, paths = run(records, normalizer)
                cpus.append(cpu)
                walls.append(wall)
            cpu_us = statistics.median(cpus) / len(records) * 1e6
            rate = len(records) / statistics.median(walls)
            share = ", ".join(f"{k} {v / len(records):.0%}" for k, v in sorted(paths.items()))
            print(
                f"{name:>14} ({len(decoders.decoders):3d} decoders): {cpu_us:6.2f} µs CPU per event "
                f"({rate:,.0f} events/s wall); {share}"
            )
    finally:
        install_decoders(previous)


if __name__ == "__main__":
    main()
