"""Detection latency: an sshd line on the syslog socket → its alert stored, with a 1-second rule interval.

    python benchmarks/detect_latency.py [--trials 20] [--rule-interval 1]

Starts the real ``sentinel serve`` (fresh data directory, the shipped rule pack, UDP syslog on
loopback). Each trial uses a new source address: nine "Failed password" lines, a pause, then the
tenth, which makes the SSH brute-force correlation (10 in 15 minutes) fire; the time is measured from
sending the tenth line until the alert naming that address is in the store (read from this process
through the store's own reader, as the API would): syslog → spool → store → rule run → alert.
Prints every latency, the median and p95 (goal: ≤ 5 s). Bounded in trials and time; loopback only.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.response_latency import THRESHOLD, latency_figures, line, stop_service, wait_for_ports  # noqa: E402
from sentinel.store.base import FieldFilter, Scope  # noqa: E402
from sentinel.store.sqlite import SqliteStore  # noqa: E402

RULE = "ssh_brute_force"


def alert_for(store: SqliteStore, ip: str) -> bool:
    alerts = store.find_documents("alerts", Scope.everything(), [FieldFilter("state", "eq", "open")], limit=10_000)
    return any(ip in str(a.body.get("group_key")) for a in alerts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rule-interval", type=int, default=1, help="detect.interval_seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a trial may wait for its alert")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sentinel-detect-latency-"))
    (tmp / "sentinel.yaml").write_text(
        "data_dir: ./data\ninventory: inventory.yaml\n"
        "listeners:\n  syslog:\n    - {protocol: udp, host: 127.0.0.1, port: 0}\n"
        "api: {host: 127.0.0.1, port: 0}\n"
        f"detect: {{interval_seconds: {args.rule_interval}, ingest_delay_seconds: 0}}\n"
    )
    (tmp / "inventory.yaml").write_text("institutions:\n  - {id: local, name: Loopback, networks: [127.0.0.0/8]}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    log_path = tmp / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "sentinel"), "--config", str(tmp / "sentinel.yaml"), "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    latencies: list[float] = []
    missed = 0
    store: SqliteStore | None = None
    try:
        ports = wait_for_ports(tmp / "data" / "ports.json", process)
        udp_port = next(v for k, v in ports.items() if "udp" in k)
        store = SqliteStore(tmp / "data" / "sentinel.db")
        time.sleep(2.0)  # the first rule runs set their checkpoints
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for trial in range(args.trials):
                ip = f"198.51.100.{trial + 1}"
                for n in range(THRESHOLD - 1):
                    sock.sendto(line(ip, n), ("127.0.0.1", udp_port))
                time.sleep(1.5 + random.random() * args.rule_interval)  # spread over the rule interval's phase
                started = time.perf_counter()
                sock.sendto(line(ip, THRESHOLD - 1), ("127.0.0.1", udp_port))
                deadline = started + args.timeout
                while not alert_for(store, ip) and time.perf_counter() < deadline:
                    time.sleep(0.01)
                if alert_for(store, ip):
                    latencies.append(time.perf_counter() - started)
                    print(f"trial {trial + 1:2d} {ip:>15}: {latencies[-1]:.2f} s", flush=True)
                else:
                    missed += 1
                    print(f"trial {trial + 1:2d} {ip:>15}: no alert within {args.timeout:.0f} s", flush=True)
    finally:
        if store is not None:
            store.close()
        stop_service(process)
    if not latencies:
        raise SystemExit(f"no trial completed; see {log_path}")
    print(
        f"\nsyslog line -> alert stored, {len(latencies)} trial(s) ({missed} missed), rule interval "
        f"{args.rule_interval} s:\n  {latency_figures(latencies)}   (goal p95 <= 5 s)\n  service log: {log_path}"
    )


if __name__ == "__main__":
    main()
