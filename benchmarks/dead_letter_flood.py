"""A flood of unreadable records through the drain: how fast garbage is kept as dead letters.

Binary data or TLS sent to a plain syslog port must not hold up good lines behind it for long.
Each run spools ``--records`` binary records (control bytes, made unique by a counter) into a fresh
spool and SQLite store, then times the real ``Drain`` until the spool is empty and checks every
record became a dead letter. Prints dead letters per second (wall) and µs of CPU per record for each
run, then the medians.

    python benchmarks/dead_letter_flood.py [--records 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.drain import Drain
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from collectors.spool import Spool
from collectors.syslog_framing import FrameDecoder
from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore


def one_run(records: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        settings = Settings.model_validate({"data_dir": tmp})
        spool = Spool(Path(tmp) / "spool", settings.spool)
        spool.open()
        store = SqliteStore(Path(tmp) / "sentinel.db")
        store.setup()
        drain = Drain(spool, store, Normalizer(Inventory([]), observer_hostname="bench"), settings.spool)
        data = b"".join(bytes(range(1, 9)) + b"%d\n" % n for n in range(records))
        template = RawRecord(b"", time.time(), "syslog:127.0.0.1", "tcp", "127.0.0.1", "syslog-tcp:514")
        spool.append_frames(*spool.encode_lines(template, FrameDecoder(8192).feed(data)))
        started, cpu = time.perf_counter(), time.process_time()
        while drain.run_once(0):
            pass
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        kept = store.count_documents("dead_letters", Scope.everything())
        spool.close()
        store.close()
    if kept != records:
        raise SystemExit(f"expected {records} dead letters, found {kept}")
    return records / wall, cpu / records * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = []
    for n in range(args.runs):
        rate, cpu_us = one_run(args.records)
        results.append((rate, cpu_us))
        print(f"run {n + 1}: {rate:,.0f} dead letters/s, {cpu_us:.1f} µs CPU per record")
    print(
        f"{args.records:,} binary records → dead letters: median {statistics.median(r for r, _ in results):,.0f}/s, "
        f"median {statistics.median(c for _, c in results):.1f} µs CPU per record"
    )


if __name__ == "__main__":
    main()
