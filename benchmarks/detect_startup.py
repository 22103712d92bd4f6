"""Detection start-up: rules loaded and the engine built, cold (empty rule cache) and warm; ``rules import``.

What ``sentinel serve`` and ``sentinel detect`` do before matching anything: load the configured
rules (the shipped pack plus the rule folders) through the compiled rule cache and build the
detection engine. Each figure is a fresh child process (interpreter start and imports included),
timed from its start until the engine is built; CPU seconds are the child's own (user + system).

- cold: the rule cache is empty (first start after an install or upgrade: every rule compiled);
- warm: the cache holds every rule file (any later start);
- import: ``sentinel rules import`` of the Windows folder into an empty rules folder and cache.

The rule folders are the SigmaHQ-shaped Windows corpus (``benchmarks/detect_corpus.py --out DIR``,
kept outside the project) and the public Linux rules in ../shared/data.

    python benchmarks/detect_startup.py --windows /tmp/sigma-windows [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(config: Path) -> None:
    """In the child: load the rules and build the engine, then report what it took."""
    from sentinel.config import load_settings
    from sentinel.detect.engine.rule_loading import load_rules, rule_cache
    from sentinel.detect.engine.runner import DetectionEngine
    from sentinel.inventory import Inventory
    from sentinel.store.sqlite import SqliteStore

    settings = load_settings(config)
    cache = rule_cache(settings)
    pack = load_rules(settings)
    store = SqliteStore(settings.resolved_data_dir() / "sentinel.db")
    store.setup()
    engine = DetectionEngine(store, pack, settings.detect, Inventory([]))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = os.stat(cache.folder) if cache is not None and cache.folder.exists() else None
    print(
        json.dumps(
            {
                "cpu": usage.ru_utime + usage.ru_stime,
                "rules": len(engine.rules),
                "refused": len(engine.load_errors),
                "rss_mb": usage.ru_maxrss / 1024,
                "cache": stats is not None,
            }
        )
    )


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system) of a child process, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, timeout=900)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        print(out.stdout[-2000:], out.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{cmd[:4]} failed ({out.returncode})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def write_config(folder: Path, rules_dirs: list[Path]) -> Path:
    config = folder / "sentinel.yaml"
    dirs = ", ".join(json.dumps(str(d)) for d in rules_dirs)
    config.write_text(f"data_dir: ./data\ninventory: inventory.yaml\ndetect:\n  rules_dirs: [{dirs}]\n")
    (folder / "inventory.yaml").write_text("institutions: []\n")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env_data = os.environ.get("SENTINEL_TEST_DATA")
    parser.add_argument("--data", type=Path, default=Path(env_data) if env_data else ROOT.parent / "shared" / "data")
    parser.add_argument("--windows", type=Path, help="the SigmaHQ-shaped Windows rule folder (required)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.windows is None:
        parser.error("--windows is required (make the corpus with benchmarks/detect_corpus.py)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    work = Path(tempfile.mkdtemp(prefix="sentinel-detect-startup-"))
    try:
        config = write_config(work, [args.windows.resolve(), (args.data / "sigma-rules-linux").resolve()])
        cache = work / "data" / "cache"
        start = [sys.executable, __file__, "--child", str(config)]
        figures: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
        info: dict[str, Any] = {}
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            for kind in ("cold", "warm"):
                wall, cpu, out = timed(start, env)
                info = json.loads(out.strip().splitlines()[-1])
                figures[kind].append((wall, cpu))
                print(f"  {kind}: {wall:.2f} s wall, {cpu:.2f} s CPU, {info['rules']} rules", flush=True)
        imports: list[tuple[float, float]] = []
        sentinel = str(Path(sys.executable).parent / "sentinel")
        for _ in range(args.runs):
            target = work / "import"
            shutil.rmtree(target, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
            (target / "rules").mkdir(parents=True)
            import_config = write_config(target, [target / "rules"])
            command = [sentinel, "--config", str(import_config), "rules", "import", str(args.windows)]
            wall, cpu, out = timed(command, env)
            imports.append((wall, cpu))
            print(f"  import: {wall:.2f} s wall, {cpu:.2f} s CPU: {out.strip().splitlines()[-1]}", flush=True)
        print(
            f"\n{info['rules']} rules ({info['refused']} refused): Windows corpus {args.windows}, Linux, shipped pack; "
            f"median of {args.runs} runs, each a new process (interpreter start and imports included)"
        )
        for kind, values in (*figures.items(), ("rules import (Windows folder)", imports)):
            walls = [w for w, _ in values]
            cpus = [c for _, c in values]
            print(f"  {kind}: {statistics.median(cpus):.2f} s CPU, {statistics.median(walls):.2f} s wall")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
