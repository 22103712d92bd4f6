"""Monthly reports at national scale: 200 institutions, one month, 2,000,000 events in SQLite → all 201
reports (each institution's and the national summary) as HTML and PDF, stored with their notices.

The month is written once (``tests.support.report_month``: events, scans, alerts and incidents through
Sentinel's own writers) into ``--store-dir`` (a temporary folder unless given; reused when it holds the
same month already). Each run is a child process (so its peak RSS is the reports' own) that removes the
reports and outbox of earlier runs, then makes every report with ``ReportPublisher.run_month`` (figures
from the store, HTML through the layout, PDF through WeasyPrint, one store write per report) and also
renders each report's HTML to a file, as ``sentinel report --format html`` does. Printed: wall and CPU
seconds, reports per minute, peak RSS; medians of ``--runs``. ``--workers N`` splits the institutions
over N processes (the national summary is made after them, from their stored figures).

    .venv/bin/python benchmarks/reports.py                     # 200 institutions x 10,000 events
    .venv/bin/python benchmarks/reports.py --institutions 20 --events 5000 --store-dir /tmp/report-bench
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboards.reports import ReportLayout  # noqa: E402
from sentinel.config import Settings  # noqa: E402
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack  # noqa: E402
from sentinel.inventory import Inventory, parse_inventory  # noqa: E402
from sentinel.reports import build_publisher  # noqa: E402
from sentinel.reports.period import Month  # noqa: E402
from sentinel.store.base import Scope  # noqa: E402
from sentinel.store.sqlite import SqliteStore  # noqa: E402
from sentinel.yamlfile import YamlDocument  # noqa: E402
from tests.support.report_month import MonthWriter, inventory_yaml  # noqa: E402

MONTH = Month(2026, 11)
AS_OF = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _inventory(n: int) -> str:
    return inventory_yaml([(f"inst{i:03d}", f"Institution {i:03d}", "sw" if i % 3 == 0 else "en") for i in range(n)])


def _settings(folder: Path) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": str(folder / "data"),
            "notify": {"soc_emails": ["soc@ega.go.tz"], "soc_contact": {"email": "soc@ega.go.tz"}},
        }
    )


def build(folder: Path, institutions: int, events: int) -> None:
    marker = folder / "month.json"
    wanted = {"institutions": institutions, "events": events, "month": str(MONTH)}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        print(f"reusing the month in {folder}")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("sentinel.db*"):
        stale.unlink()
    (folder / "inventory.yaml").write_text(_inventory(institutions))
    inventory = parse_inventory(YamlDocument.parse(_inventory(institutions), "inventory.yaml"))
    store = SqliteStore(folder / "sentinel.db")
    store.setup()
    started = time.perf_counter()
    try:
        MonthWriter(store, _settings(folder), load_rule_pack([builtin_rules_dir()], builtin=True)).write(
            [(i.id, i.timezone) for i in inventory], MONTH, events_per_institution=events, now=AS_OF
        )
    finally:
        store.close()
    marker.write_text(json.dumps(wanted))
    print(
        f"wrote {institutions * events:,} events for {institutions} institutions "
        f"in {time.perf_counter() - started:.0f} s"
    )


def _publisher(folder: Path, store: SqliteStore, inventory: Inventory):  # type: ignore[no-untyped-def]
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    return build_publisher(_settings(folder), store, inventory, pack.rules, ReportLayout(), clock=lambda: AS_OF)


def child(folder: Path, part: int, parts: int, national: bool, html_dir: Path) -> dict[str, float]:
    """Make this part's institution reports (and the national summary if asked); figures as JSON."""
    inventory = parse_inventory(YamlDocument.load(folder / "inventory.yaml"))
    store = SqliteStore(folder / "sentinel.db")
    layout = ReportLayout()
    publisher = _publisher(folder, store, inventory)
    mine = [inst for i, inst in enumerate(inventory) if i % parts == part]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    made = 0
    for institution in mine:
        figures, published = publisher.institution_report(institution, MONTH)
        (html_dir / f"{institution.id}.html").write_text(layout.html(figures), encoding="utf-8")
        made += published.created
    if national:
        figures, published = publisher.national_report(MONTH)
        (html_dir / "national.html").write_text(layout.html(figures), encoding="utf-8")
        made += published.created
    store.close()
    return {
        "wall": time.perf_counter() - wall0,
        "cpu": time.process_time() - cpu0,
        "made": made,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _reset(folder: Path) -> None:
    store = SqliteStore(folder / "sentinel.db")
    try:
        for collection in ("reports", "outbox"):
            for doc in store.find_documents(collection, Scope.everything(), limit=1_000_000):
                store.delete_document(collection, doc.id)
    finally:
        store.close()


def _spawn(folder: Path, part: int, parts: int, national: bool, html_dir: Path) -> subprocess.Popen[str]:
    args = [sys.executable, __file__, "--child", str(folder), str(part), str(parts), str(int(national)), str(html_dir)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)


def one_run(folder: Path, workers: int) -> dict[str, float]:
    _reset(folder)
    html_dir = Path(tempfile.mkdtemp(prefix="report-html-"))
    wall0 = time.perf_counter()
    procs = [_spawn(folder, p, workers, False, html_dir) for p in range(workers)]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    last = _spawn(folder, 0, 1, True, html_dir)  # the national summary, from the stored institution figures
    results.append(json.loads(last.communicate()[0].strip().splitlines()[-1]))
    wall = time.perf_counter() - wall0
    made = sum(r["made"] for r in results)
    htmls = len(list(html_dir.glob("*.html")))
    return {
        "wall": wall,
        "cpu": sum(r["cpu"] for r in results),
        "made": made,
        "html": htmls,
        "rss_mb": max(r["rss_mb"] for r in results),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        folder, part, parts, national, html_dir = sys.argv[2:7]
        print(json.dumps(child(Path(folder), int(part), int(parts), national == "1", Path(html_dir))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--institutions", type=int, default=200)
    parser.add_argument("--events", type=int, default=10_000, help="events per institution (default 10,000)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="processes making institution reports (default 2)")
    parser.add_argument("--store-dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.store_dir or Path(tempfile.mkdtemp(prefix="report-bench-"))
    build(folder, args.institutions, args.events)
    runs = [one_run(folder, args.workers) for _ in range(args.runs)]
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    made = runs[-1]["made"]
    print(
        f"reports: {made:.0f} made ({runs[-1]['html']:.0f} HTML files too) "
        f"from {args.institutions * args.events:,} events "
        f"in {wall:.1f} s wall ({made / wall * 60:.0f}/min), {cpu:.1f} s CPU ({cpu / made:.2f} s CPU per report), "
        f"workers {args.workers}, peak RSS {max(r['rss_mb'] for r in runs):.0f} MB per process; "
        f"median of {len(runs)} run(s); store {folder}"
    )
    if os.environ.get("REPORT_BENCH_KEEP") is None and args.store_dir is None:
        print("(pass --store-dir to keep the month for the next run)")


if __name__ == "__main__":
    main()
