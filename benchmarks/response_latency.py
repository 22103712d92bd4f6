"""Response latency: an sshd line on the syslog socket → the Slack request at the (local) Slack API.

    python benchmarks/response_latency.py [--trials 20] [--rule-interval 1] [--job-interval 1]

Starts the real ``sentinel serve`` as a subprocess (fresh data directory, every shipped rule and
playbook, UDP syslog on loopback, Slack ``base_url`` pointed at a local server that speaks the
Slack Web API, from ``tests/support/slack_server.py``). Each trial uses a new source address: it
sends nine "Failed password" lines, waits for them to be stored, then sends the tenth, which makes
the SSH brute-force correlation (10 in 15 minutes) fire, and measures from sending that tenth
line until ``chat.postMessage`` naming the address arrives at the Slack server: syslog → spool →
store → detection (rule interval) → alert → brute-force playbook (job interval) → incident +
outbox → delivery worker (poll interval) → Slack. Prints every latency, the median and p95.
Bounded: ``--trials`` trials, each waiting at most ``--timeout`` seconds; loopback only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.slack_server import SlackServer  # noqa: E402

TZ = ZoneInfo("Africa/Dar_es_Salaam")  # the institution's time zone: syslog stamps are local time
THRESHOLD = 10  # the shipped SSH brute-force rule: at least 10 failures from one source in 15 minutes


def config_text(slack: SlackServer, rule_interval: int, job_interval: float) -> str:
    return f"""\
data_dir: ./data
inventory: inventory.yaml
listeners:
  syslog:
    - {{protocol: udp, host: 127.0.0.1, port: 0}}
api: {{host: 127.0.0.1, port: 0}}
detect: {{interval_seconds: {rule_interval}, ingest_delay_seconds: 0}}
playbooks: {{interval_seconds: {job_interval}}}
notify: {{poll_seconds: {job_interval}}}
slack: {{token: {slack.token}, channel: "#soc", base_url: "{slack.base_url}"}}
"""


def line(ip: str, n: int) -> bytes:
    stamp = datetime.now(TZ).strftime("%b %d %H:%M:%S")
    return f"<38>{stamp} bench01 sshd[{4000 + n}]: Failed password for root from {ip} port {40000 + n} ssh2".encode()


def posted_for(slack: SlackServer, ip: str) -> bool:
    return any(ip in json.dumps(r.args) for r in list(slack.requests) if r.api == "chat.postMessage")


def wait_for_ports(path: Path, process: subprocess.Popen[bytes], seconds: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise SystemExit(f"sentinel serve exited with {process.returncode}; see its log")
        if time.monotonic() > deadline:
            raise SystemExit("sentinel serve did not start in time")
        time.sleep(0.1)
    ports: dict[str, int] = json.loads(path.read_bytes())
    return ports


def stop_service(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean stop), then SIGKILL if it has not stopped within 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def latency_figures(latencies: list[float]) -> str:
    """``median … p95 … min … max …`` of trial latencies in seconds (nearest-rank p95)."""
    ordered = sorted(latencies)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return (
        f"median {statistics.median(ordered):.2f} s   p95 {p95:.2f} s   "
        f"min {ordered[0]:.2f} s   max {ordered[-1]:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rule-interval", type=int, default=1, help="detect.interval_seconds")
    parser.add_argument("--job-interval", type=float, default=1.0, help="playbook job and outbox poll, seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a trial may wait for Slack")
    args = parser.parse_args()

    slack = SlackServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="sentinel-latency-"))
    (tmp / "sentinel.yaml").write_text(config_text(slack, args.rule_interval, args.job_interval))
    (tmp / "inventory.yaml").write_text(
        "institutions:\n  - {id: local, name: Loopback Institution, networks: [127.0.0.0/8]}\n"
    )
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
    try:
        ports = wait_for_ports(tmp / "data" / "ports.json", process)
        udp_port = next(v for k, v in ports.items() if "udp" in k)
        time.sleep(2.0)  # let the first rule and job runs pass (first checkpoints)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for trial in range(args.trials):
                ip = f"198.51.100.{trial + 1}"
                for n in range(THRESHOLD - 1):
                    sock.sendto(line(ip, n), ("127.0.0.1", udp_port))
                # Stored and seen by a rule run; the random part spreads the tenth line over the phases of
                # the rule, playbook and outbox intervals, so the figures are not one lucky alignment.
                time.sleep(1.5 + random.random() * max(args.rule_interval, args.job_interval))
                started = time.perf_counter()
                sock.sendto(line(ip, THRESHOLD - 1), ("127.0.0.1", udp_port))
                deadline = started + args.timeout
                while not posted_for(slack, ip) and time.perf_counter() < deadline:
                    time.sleep(0.01)
                if posted_for(slack, ip):
                    latencies.append(time.perf_counter() - started)
                    print(f"trial {trial + 1:2d} {ip:>15}: {latencies[-1]:.2f} s", flush=True)
                else:
                    missed += 1
                    print(f"trial {trial + 1:2d} {ip:>15}: no Slack message within {args.timeout:.0f} s", flush=True)
    finally:
        stop_service(process)
        slack.stop()
    if not latencies:
        raise SystemExit(f"no trial completed; see {log_path}")
    print(
        f"\nsyslog line -> Slack request, {len(latencies)} trial(s) ({missed} missed), rule interval "
        f"{args.rule_interval} s, playbook/outbox interval {args.job_interval} s:\n"
        f"  {latency_figures(latencies)}   (goal p95 <= 10 s)\n  service log: {log_path}"
    )


if __name__ == "__main__":
    main()
