"""Detection latency: an sshd line on the syslog socket → its alert stored, with the configuration
``sentinel init`` writes, under a background load of syslog traffic.

    python benchmarks/detect_latency.py [--trials 20] [--load 5000] [--rule-interval N]

Starts the real ``sentinel serve`` with the ``sentinel.yaml`` that ``sentinel init`` writes (only the
listener and API are moved to free loopback ports; ``--rule-interval N`` instead runs the old way,
every N seconds re-reading the rules' windows, for comparison). A sender thread keeps ``--load``
lines per second of real syslog traffic (loghub's OpenSSH and Linux logs, replayed with today's
time) flowing to the UDP listener during the whole run. Each trial uses a new source address: nine
"Failed password" lines, a pause, then the tenth, which makes the SSH brute-force correlation (10
in 15 minutes) fire; the time is measured from sending the tenth line until the alert naming that
address is in the store (read from this process through the store's own reader, as the API would):
syslog → spool → store → rule run → alert. Prints every latency, the median and p95 (goal: ≤ 2 s)
and the background lines stored per second. Bounded in trials and time; loopback only.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.response_latency import (  # noqa: E402
    THRESHOLD,
    TZ,
    latency_figures,
    line,
    stop_service,
    wait_for_ports,
)
from sentinel.store.base import EventQuery, FieldFilter, Scope  # noqa: E402
from sentinel.store.sqlite import SqliteStore  # noqa: E402

RULE = "ssh_brute_force"
DATA = Path(os.environ.get("SENTINEL_TEST_DATA") or ROOT.parent / "shared" / "data")


def background_lines(data: Path) -> list[bytes]:
    """Real syslog lines, their time replaced by now when sent: loghub's Linux log (system noise) with
    one line in ten from its OpenSSH log (mostly internet password guessing, so rules match too)."""
    picked: dict[str, list[bytes]] = {}
    for name in ("OpenSSH_2k.log", "Linux_2k.log"):
        picked[name] = []
        for raw in (data / "loghub" / name).read_bytes().splitlines():
            parts = raw.split(b" ", 3)
            if len(parts) == 4 and parts[3]:
                picked[name].append(parts[3])  # "host program[pid]: message", without the old time
    ssh, system = picked["OpenSSH_2k.log"], picked["Linux_2k.log"]
    return [ssh[n // 10] if n % 10 == 0 else system[n % len(system)] for n in range(10 * len(ssh))]


class Background(threading.Thread):
    """Sends ``rate`` syslog lines per second (in 10 ms slices) until stopped."""

    def __init__(self, port: int, rate: int, lines: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.port, self.rate, self.lines = port, rate, lines
        self.sent = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        per_slice = max(1, self.rate // 100)
        n = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            next_at = time.perf_counter()
            while not self.stopped.is_set():
                stamp = datetime.now(TZ).strftime("%b %d %H:%M:%S").encode()
                for _ in range(per_slice):
                    sock.sendto(b"<38>" + stamp + b" " + self.lines[n % len(self.lines)], ("127.0.0.1", self.port))
                    n += 1
                self.sent = n
                next_at += 0.01
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)


def alert_for(store: SqliteStore, ip: str) -> bool:
    alerts = store.find_documents("alerts", Scope.everything(), [FieldFilter("state", "eq", "open")], limit=10_000)
    return any(ip in str(a.body.get("group_key")) for a in alerts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--load", type=int, default=5000, help="background syslog lines per second")
    parser.add_argument(
        "--rule-interval", type=int, help="instead of the init configuration: re-read windows every N seconds"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a trial may wait for its alert")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sentinel-detect-latency-"))
    sentinel = str(Path(sys.executable).parent / "sentinel")
    subprocess.run([sentinel, "init", str(tmp)], check=True, capture_output=True)
    config = yaml.safe_load((tmp / "sentinel.yaml").read_text())  # what ``sentinel init`` writes ...
    config["listeners"] = {"syslog": [{"protocol": "udp", "host": "127.0.0.1", "port": 0}]}  # ... on free ports
    config["api"] = {**config.get("api", {}), "host": "127.0.0.1", "port": 0}
    if args.rule_interval is not None:
        config["detect"].update(follow_ingest=False, interval_seconds=args.rule_interval, ingest_delay_seconds=0)
    (tmp / "sentinel.yaml").write_text(yaml.safe_dump(config))
    (tmp / "inventory.yaml").write_text("institutions:\n  - {id: local, name: Loopback, networks: [127.0.0.0/8]}\n")
    detect = config["detect"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    log_path = tmp / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sentinel, "--config", str(tmp / "sentinel.yaml"), "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    latencies: list[float] = []
    missed = 0
    store: SqliteStore | None = None
    background: Background | None = None
    stored_rate = 0.0
    try:
        ports = wait_for_ports(tmp / "data" / "ports.json", process)
        udp_port = next(v for k, v in ports.items() if "udp" in k)
        store = SqliteStore(tmp / "data" / "sentinel.db")
        time.sleep(2.0)  # the first rule runs set their checkpoints
        if args.load > 0:
            background = Background(udp_port, args.load, background_lines(DATA))
            background.start()
            time.sleep(3.0)  # the load is flowing before the first trial
        load_started, stored_before = time.perf_counter(), store.count_events(EventQuery(), Scope.everything())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for trial in range(args.trials):
                ip = f"198.51.100.{trial + 1}"
                for n in range(THRESHOLD - 1):
                    sock.sendto(line(ip, n), ("127.0.0.1", udp_port))
                time.sleep(1.5 + random.random() * (args.rule_interval or 1))  # spread over the phase of a step
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
        if background is not None:
            stored = store.count_events(EventQuery(), Scope.everything()) - stored_before
            stored_rate = stored / (time.perf_counter() - load_started)
    finally:
        if background is not None:
            background.stopped.set()
        if store is not None:
            store.close()
        stop_service(process)
    if not latencies:
        raise SystemExit(f"no trial completed; see {log_path}")
    mode = (
        f"re-reading windows every {args.rule_interval} s"
        if args.rule_interval is not None
        else f"sentinel init configuration (follow_ingest {detect.get('follow_ingest')}, "
        f"interval {detect.get('interval_seconds')} s)"
    )
    print(
        f"\nsyslog line -> alert stored, {len(latencies)} trial(s) ({missed} missed), {mode}, background "
        f"{args.load} lines/s sent, {stored_rate:,.0f} events/s stored:\n  {latency_figures(latencies)}   "
        f"(goal p95 <= 2 s)\n  service log: {log_path}"
    )


if __name__ == "__main__":
    main()
