"""Matcher throughput: many Sigma rules over many events (events/s, peak memory, median of runs).

Two workloads, both built from real third-party data (../shared/data):

- linux: loghub (OpenSSH, Linux) and fail2ban test log lines, normalised to ECS by
  ``collectors.normalize.Normalizer``, repeated to ``--events``; rules: all SigmaHQ Linux rules
  (plus any extra rule folders given with ``--rules``, e.g. Sentinel's own pack).
- windows: every sigma-regression JSON event (through ``collectors.windows``), repeated;
  rules: all sigma-regression Windows rules.

Only ``RuleIndex.match`` is timed (events are built before the clock starts): events per CPU-second
of this process (the figure to compare on a shared machine) and per wall-second. Peak memory is
tracemalloc's peak during matching (Python allocations, not RSS). Example:

    .venv/bin/python benchmarks/detect_throughput.py --events 200000 --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collectors.normalize import Normalizer  # noqa: E402
from collectors.records import RawRecord  # noqa: E402
from collectors.windows.event_json import events_from_json_text  # noqa: E402
from sentinel.detect.matching.index import RuleIndex  # noqa: E402
from sentinel.detect.rulebook.sigma import SigmaRule, load_sigma_paths  # noqa: E402
from sentinel.errors import SentinelError  # noqa: E402
from sentinel.events import Event  # noqa: E402
from sentinel.inventory import Inventory  # noqa: E402


def linux_events(data: Path) -> list[Event]:
    normalizer = Normalizer(Inventory([]))
    received = datetime(2025, 6, 1, tzinfo=UTC).timestamp()
    files = [data / "loghub" / "OpenSSH_2k.log", data / "loghub" / "Linux_2k.log"]
    files += sorted(p for p in (data / "fail2ban-testlogs").iterdir() if p.is_file() and p.name != "COPYING")
    events: list[Event] = []
    for path in files:
        for n, line in enumerate(path.read_bytes().splitlines()):
            if not line.strip() or line.startswith(b"#"):
                continue
            record = RawRecord(raw=line, received_at=received, origin=f"{path.name}:{n}", transport="file")
            try:
                events.append(normalizer.normalize(record))
            except SentinelError:
                continue
    return events


def windows_events(data: Path) -> list[Event]:
    events: list[Event] = []
    for path in sorted((data / "sigma-regression").rglob("*.json")):
        events.extend(e for e in events_from_json_text(path.read_text(encoding="utf-8")) if isinstance(e, Event))
    return events


def repeat(events: Sequence[Event], total: int) -> list[Event]:
    # The same Event objects repeated: matching never mutates them, and per-event field caches
    # are built afresh for each, so a repeat costs what a new event costs.
    return [events[i % len(events)] for i in range(total)]


def measure(name: str, index: RuleIndex, events: list[Event], runs: int) -> None:
    rates, cpu_rates, hits = [], [], 0
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        hits = sum(1 for _ in index.match(events))
        cpu_rates.append(len(events) / (time.process_time() - cpu))
        rates.append(len(events) / (time.perf_counter() - start))
    tracemalloc.start()
    sum(1 for _ in index.match(events[: min(len(events), 50_000)]))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # CPU time is the figure to compare on a shared machine; wall time counts other processes too
    print(
        f"{name}: {len(index.rules)} rules ({len(index.unsupported)} unsupported), {len(events):,} events, "
        f"{hits:,} matches; median {statistics.median(cpu_rates):,.0f} events per CPU-second "
        f"(min {min(cpu_rates):,.0f}, max {max(cpu_rates):,.0f}), {statistics.median(rates):,.0f} events/s wall, "
        f"{runs} runs; peak traced memory while matching 50k events {peak / 1e6:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--events", type=int, default=200_000, help="events per workload (repeated input)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rules", type=Path, action="append", default=[], help="extra rule folders (linux)")
    parser.add_argument("--only", choices=("linux", "windows"))
    args = parser.parse_args()
    if args.only != "windows":
        rules, errors = load_sigma_paths([args.data / "sigma-rules-linux", *args.rules])
        base = linux_events(args.data)
        print(f"linux: {len(base):,} distinct events from loghub + fail2ban; {len(errors)} rule load errors")
        index = RuleIndex([r for r in rules if isinstance(r, SigmaRule)])
        measure("linux", index, repeat(base, args.events), args.runs)
    if args.only != "linux":
        rules, errors = load_sigma_paths([args.data / "sigma-regression-rules"])
        base = windows_events(args.data)
        print(f"windows: {len(base):,} distinct sigma-regression events; {len(errors)} rule load errors")
        index = RuleIndex([r for r in rules if isinstance(r, SigmaRule)])
        measure("windows", index, repeat(base, args.events), args.runs)


if __name__ == "__main__":
    main()
