"""Kill -9 the real service mid-stream, restart it: every line stored exactly once.

The service runs as a subprocess (``python -m sentinel.cli serve``) on a temp config with
SQLite in tmp. Plain syslog has no acknowledgement, so the honest client re-sends after a
reconnect; deterministic ids make that exactly-once. Every wait is bounded in time.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from sentinel.status import COLLECTOR_STATS_ID
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

INVENTORY = "institutions:\n  - id: local\n    name: Loopback\n    networks: [127.0.0.0/8]\n"
SEQ = re.compile(r"seq=(\d+)")


class ServiceProcess:
    def __init__(self, tmp: Path, files: list[str] | None = None) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        config = {
            "data_dir": str(self.data),
            "inventory": str(tmp / "inventory.yaml"),
            "listeners": {
                "syslog": [{"protocol": "tcp", "host": "127.0.0.1", "port": 0}],
                "files": [{"path": f} for f in files or []],
            },
            "api": {"host": "127.0.0.1", "port": 0},
        }
        (tmp / "inventory.yaml").write_text(INVENTORY)
        (tmp / "sentinel.yaml").write_bytes(orjson.dumps(config))
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> dict[str, int]:
        ports_file = self.data / "ports.json"
        ports_file.unlink(missing_ok=True)
        self.runs += 1
        log = open(self.tmp / f"service-{self.runs}.log", "wb")
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
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
                raise AssertionError(f"service exited: {(self.tmp / f'service-{self.runs}.log').read_text()}")
            try:
                return dict(orjson.loads(ports_file.read_bytes()))
            except (FileNotFoundError, orjson.JSONDecodeError):
                time.sleep(0.05)
        raise AssertionError("the service did not write ports.json within 60 s")

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

    def stored_sequence_numbers(self) -> list[int]:
        """Every stored event's seq=N, read through the store contract (WAL: fine while it runs)."""
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
            store = SqliteStore(self.data / "sentinel.db")
            try:
                doc = store.get_document("state", COLLECTOR_STATS_ID, Scope.everything())
            finally:
                store.close()
            if doc is not None and doc.body["spool_depth"] == 0:
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


def test_sigkill_mid_stream_then_resend_gives_exactly_once(tmp_path: Path) -> None:
    total = 100_000
    service = ServiceProcess(tmp_path)
    try:
        port = service.start()["syslog_tcp"]
        sent = 0
        error: list[BaseException] = []

        def sender() -> None:
            nonlocal sent
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                    for start in range(0, total, 100):
                        s.sendall(b"".join(line(n) for n in range(start, min(start + 100, total))))
                        sent = min(start + 100, total)
                        time.sleep(0.01)  # paced (about 10,000 lines/s) so the kill lands mid-stream
            except OSError as exc:  # the service was killed under us: expected
                error.append(exc)

        thread = threading.Thread(target=sender)
        thread.start()
        # Kill once the store has confirmed some batches, while the sender is still sending.
        deadline = time.monotonic() + 120
        while service.count() < 5000 and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        stored_before_kill = service.count()
        service.kill()
        thread.join(60)
        assert not thread.is_alive()
        assert sent < total, "the kill came after everything was sent; the test proves nothing"

        # Restart: the spool is replayed from the checkpoint. One TCP stream is spooled and
        # stored in order, so what is stored must be exactly a prefix: a gap would be a loss.
        port = service.start()["syslog_tcp"]
        service.wait_until_replayed()
        replayed = sorted(service.stored_sequence_numbers())
        assert replayed == list(range(len(replayed))), "records lost or duplicated inside the received stream"
        assert len(replayed) >= stored_before_kill > 0

        # The client cannot know what arrived: it re-sends everything.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            for start in range(0, total, 2000):
                s.sendall(b"".join(line(n) for n in range(start, min(start + 2000, total))))
        assert service.wait_for_count(total) == total
        time.sleep(1.0)  # a late duplicate would show up here
        seqs = service.stored_sequence_numbers()
        assert len(seqs) == total
        assert sorted(seqs) == list(range(total))
    finally:
        service.stop()
    log = (tmp_path / "service-2.log").read_text()
    print(
        f"sent before kill={sent}, stored before kill>={stored_before_kill}, after replay={len(replayed)}; "
        f"{re.findall('replaying.*', log)}"
    )


def append_lines(path: Path, start: int, stop: int) -> None:
    with open(path, "ab") as fh:
        for chunk in range(start, stop, 1000):
            fh.write(b"".join(line(n) for n in range(chunk, min(chunk + 1000, stop))))


def test_file_tail_survives_rename_rotation_kill_and_copytruncate(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "auth.log"
    log.write_bytes(b"")
    service = ServiceProcess(tmp_path, files=[str(log)])
    try:
        service.start()
        append_lines(log, 0, 20_000)
        os.rename(log, logs / "auth.log.1")  # rename rotation while running
        append_lines(logs / "auth.log.1", 20_000, 21_000)  # the writer has not reopened yet
        append_lines(log, 21_000, 40_000)
        assert service.wait_for_count(25_000) >= 25_000  # the tailer switched to the new file
        for start in range(40_000, 50_000, 1000):  # kill mid-stream
            append_lines(log, start, start + 1000)
        service.kill()
        append_lines(log, 50_000, 60_000)  # written while the service is down
        os.rename(logs / "auth.log.1", logs / "auth.log.2")  # copytruncate while down
        shutil.copyfile(log, logs / "auth.log.1")
        with open(log, "r+b") as fh:
            fh.truncate(0)
        append_lines(log, 60_000, 70_000)
        service.start()
        append_lines(log, 70_000, 80_000)
        assert service.wait_for_count(80_000) == 80_000
        time.sleep(1.0)
        seqs = service.stored_sequence_numbers()
        assert len(seqs) == 80_000
        assert sorted(seqs) == list(range(80_000))
    finally:
        service.stop()
