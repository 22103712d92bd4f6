"""The real ``sentinel serve`` as a subprocess on a temporary config (durability tests, benchmarks).

SQLite in a data directory of the caller's choosing (a small tmpfs for disk-full tests), syslog
on loopback (TCP, and UDP when asked), the API on a free port. Every wait is bounded in time.
Readings go through the store contract (WAL: fine while the service runs) and ``/healthz``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from sentinel.status import COLLECTOR_STATS_ID
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INVENTORY = "institutions:\n  - id: local\n    name: Loopback\n    networks: [127.0.0.0/8]\n"
SEQ = re.compile(r"seq=(\d+)")


class ServiceProcess:
    def __init__(
        self,
        tmp: Path,
        files: list[str] | None = None,
        *,
        data: Path | None = None,
        udp: bool = False,  # a UDP listener too (``udp_options``: its settings; ``syslog``: the TCP one's)
        spool: dict[str, Any] | None = None,
        syslog: dict[str, Any] | None = None,
        udp_options: dict[str, Any] | None = None,
    ) -> None:
        self.tmp = tmp
        self.data = data or tmp / "data"
        listeners = [{"protocol": "tcp", "host": "127.0.0.1", "port": 0, **(syslog or {})}]
        if udp:
            listeners.append({"protocol": "udp", "host": "127.0.0.1", "port": 0, **(udp_options or {})})
        config: dict[str, Any] = {
            "data_dir": str(self.data),
            "inventory": str(tmp / "inventory.yaml"),
            "listeners": {"syslog": listeners, "files": [{"path": f} for f in files or []]},
            "api": {"host": "127.0.0.1", "port": 0},
        }
        if spool:
            config["spool"] = spool
        (tmp / "inventory.yaml").write_text(INVENTORY)
        (tmp / "sentinel.yaml").write_bytes(orjson.dumps(config))
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.ports: dict[str, int] = {}

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> dict[str, int]:
        ports_file = self.data / "ports.json"
        ports_file.unlink(missing_ok=True)
        self.runs += 1
        log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sentinel.cli", "--config", str(self.tmp / "sentinel.yaml"), "serve"],
            cwd=self.tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited: {self.log_path.read_text()}")
            try:
                self.ports = dict(orjson.loads(ports_file.read_bytes()))
                return self.ports
            except (FileNotFoundError, orjson.JSONDecodeError):
                time.sleep(0.05)
        raise AssertionError("the service did not write ports.json within 60 s")

    @property
    def log_path(self) -> Path:
        return self.tmp / f"service-{self.runs}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        # Forget the dead process's figures, so a wait reads the next run's.
        store = SqliteStore(self.data / "sentinel.db")
        try:
            store.delete_document("state", COLLECTOR_STATS_ID)
        finally:
            store.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    # readings ----------------------------------------------------------------------------
    def healthz(self) -> tuple[int, dict[str, Any]]:
        answer = httpx.get(f"http://127.0.0.1:{self.ports['api']}/healthz", timeout=10)
        return answer.status_code, answer.json()

    def wait_for_health(self, code: int, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            got, body = self.healthz()
            if got == code or time.monotonic() > deadline:
                assert got == code, f"/healthz answered {got} {body}, not {code}"
                return body
            time.sleep(0.1)

    def status(self) -> dict[str, Any]:
        """What ``sentinel status --json`` prints for this service's configuration."""
        result = subprocess.run(
            [sys.executable, "-m", "sentinel.cli", "--config", str(self.tmp / "sentinel.yaml"), "status", "--json"],
            capture_output=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            check=True,
        )
        return dict(orjson.loads(result.stdout))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def stored_sequence_numbers(self) -> list[int]:
        """Every stored event's seq=N, read through the store contract."""
        store = SqliteStore(self.data / "sentinel.db")
        try:
            seqs: list[int] = []
            after = None
            while True:
                page = store.search_events(EventQuery(), Scope.everything(), limit=5000, order="asc", after=after)
                for event in page.events:
                    match = SEQ.search(event.message or "")
                    if match:
                        seqs.append(int(match.group(1)))
                if page.next_after is None or not page.events:
                    return seqs
                after = page.next_after
        finally:
            store.close()

    def count(self) -> int:
        store = SqliteStore(self.data / "sentinel.db")
        try:
            return store.count_events(EventQuery(), Scope.everything())
        finally:
            store.close()

    def dead_letters(self) -> int:
        store = SqliteStore(self.data / "sentinel.db")
        try:
            return store.count_documents("dead_letters", Scope.everything())
        finally:
            store.close()

    def stats(self) -> dict[str, Any]:
        """The running service's figures (its stats document, saved every few seconds)."""
        store = SqliteStore(self.data / "sentinel.db")
        try:
            doc = store.get_document("state", COLLECTOR_STATS_ID, Scope.everything())
        finally:
            store.close()
        return dict(doc.body) if doc is not None else {}

    def wait_for_count(self, expected: int, timeout: float = 120.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.count()
            if now >= expected:
                return now
            time.sleep(0.2)
        return self.count()

    def wait_until_replayed(self, timeout: float = 120.0) -> None:
        """Until the service reports an empty spool (its stats document, saved every few seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stats().get("spool_depth") == 0:
                return
            time.sleep(0.2)
        raise AssertionError("the spool was not replayed in time")


def line(n: int) -> bytes:
    return (
        b"<38>Oct 11 22:14:15 web01 sshd[4242]: Failed password for user%d from 203.0.113.9 port 22 ssh2 seq=%d\n"
        % (
            n % 97,
            n,
        )
    )
