"""The whole collection runtime in-process: real sockets and files in, a real SQLite store out."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from collectors.runtime import CollectorRuntime
from sentinel.config import Settings, load_settings
from sentinel.inventory import Inventory, parse_inventory
from sentinel.status import COLLECTOR_STATS_ID
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument

pytestmark = pytest.mark.timeout(120)

INVENTORY = """
institutions:
  - id: local
    name: Loopback
    networks: [127.0.0.0/8, "::1/128"]
"""


def make_settings(
    tmp: Path, files: list[dict[str, str]] | None = None, spool: dict[str, object] | None = None
) -> Settings:
    config = tmp / "sentinel.yaml"
    body = {
        "data_dir": str(tmp / "data"),
        "listeners": {
            "syslog": [
                {"protocol": "tcp", "host": "::", "port": 0},
                {"protocol": "udp", "host": "::", "port": 0},
                {"protocol": "tcp", "host": "127.0.0.1", "port": 0},
            ],
            "files": files or [],
        },
        "spool": {"batch_wait_seconds": 0.01, **(spool or {})},
    }
    config.write_bytes(orjson.dumps(body))  # JSON is YAML
    return load_settings(config, environ={})


class Service:
    def __init__(
        self, tmp: Path, files: list[dict[str, str]] | None = None, spool: dict[str, object] | None = None
    ) -> None:
        self.settings = make_settings(tmp, files, spool)
        self.store = SqliteStore(tmp / "data" / "sentinel.db")
        self.store.setup()
        inventory: Inventory = parse_inventory(YamlDocument.parse(INVENTORY, "inventory.yaml"))
        self.runtime = CollectorRuntime(
            self.settings, inventory, self.store, stats_interval=0.1, tail_poll_interval=0.05
        )
        self.runtime.start()

    def wait_for_text(self, text: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.store.search_events(EventQuery(text=text), Scope.everything(), limit=100)
            if found.total >= count or time.monotonic() > deadline:
                return [e.doc for e in found.events]
            time.sleep(0.05)

    def close(self) -> None:
        self.runtime.stop()
        self.store.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    s = Service(tmp_path)
    yield s
    s.close()


def test_bound_ports_and_ports_file(service: Service) -> None:
    ports = service.runtime.bound_ports
    assert set(ports) == {"syslog_tcp", "syslog_udp", "syslog_tcp_2"}
    assert all(p > 0 for p in ports.values())
    path = service.runtime.write_ports_file({"api": 8080})
    assert orjson.loads(path.read_bytes()) == {**ports, "api": 8080}


@pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger not installed")
def test_logger_tcp_line_is_searchable(service: Service) -> None:
    port = service.runtime.bound_ports["syslog_tcp"]
    subprocess.run(
        [
            "logger",
            "--tcp",
            "-n",
            "127.0.0.1",
            "-P",
            str(port),
            "-t",
            "sshd",
            "-i",
            "Failed password for root from 198.51.100.7 port 4242 ssh2",
        ],
        check=True,
        timeout=30,
    )
    docs = service.wait_for_text("198.51.100.7")
    assert len(docs) == 1
    doc = docs[0]
    assert doc["organization"] == {"id": "local", "name": "Loopback"}
    assert doc["source"]["ip"] == "198.51.100.7"  # type: ignore[index]
    assert doc["event"]["dataset"] == "system.auth"  # type: ignore[index]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM], ids=["tcp", "udp"])
def test_python_sender_rfc3164_and_rfc5424(service: Service, host: str, kind: int) -> None:
    port = service.runtime.bound_ports["syslog_tcp" if kind == socket.SOCK_STREAM else "syslog_udp"]
    tag = f"{'tcp' if kind == socket.SOCK_STREAM else 'udp'}{host.replace(':', '')}"
    old = f"<38>Oct 11 22:14:15 web01 sshd[77]: Invalid user rfc3164{tag} from 203.0.113.9 port 22"
    new = f"<38>1 2024-03-01T10:00:00.000+03:00 web01 sshd 77 - - Invalid user rfc5424{tag} from 203.0.113.9"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.connect((host, port))
            framed = new.encode()
            s.sendall(old.encode() + b"\n" + str(len(framed)).encode() + b" " + framed)
        else:
            s.sendto(old.encode(), (host, port))
            s.sendto(new.encode(), (host, port))
    first = service.wait_for_text(f"rfc3164{tag}")
    second = service.wait_for_text(f"rfc5424{tag}")
    assert len(first) == 1 and len(second) == 1
    assert second[0]["@timestamp"] == "2024-03-01T07:00:00.000Z"
    assert second[0]["log"]["syslog"]["version"] == "1"  # type: ignore[index]
    assert first[0]["host"] == {"hostname": "web01"}


def test_same_line_resent_after_reconnect_is_one_event(service: Service) -> None:
    port = service.runtime.bound_ports["syslog_tcp_2"]
    line = b"<38>Oct 11 22:14:15 web01 sshd[77]: Accepted password for resend-check from 192.0.2.4 port 1 ssh2\n"
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(line)
    service.wait_for_text("resend-check")
    deadline = time.monotonic() + 30
    while service.runtime.stats().duplicates < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.runtime.stats().duplicates == 2
    assert len(service.wait_for_text("resend-check")) == 1


def test_file_source_lines_are_stored(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"Oct 11 22:14:15 web01 sshd[1]: Failed password for admin from 198.51.100.20 port 5 ssh2\n")
    s = Service(tmp_path, files=[{"path": str(log)}])
    try:
        docs = s.wait_for_text("198.51.100.20")
        assert len(docs) == 1
        assert docs[0]["log"]["file"]["path"] == str(log)  # type: ignore[index]
    finally:
        s.close()


def test_stop_stores_everything_and_saves_stats(tmp_path: Path) -> None:
    s = Service(tmp_path)
    port = s.runtime.bound_ports["syslog_tcp"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"".join(b"<13>Oct 11 22:14:15 h app: stop-check %d\n" % n for n in range(2000)))
    deadline = time.monotonic() + 30
    while s.runtime.stats().received < 2000 and time.monotonic() < deadline:
        time.sleep(0.02)
    s.close()
    assert s.runtime.stats().received == 2000
    store = SqliteStore(tmp_path / "data" / "sentinel.db")
    try:
        assert store.count_events(EventQuery(text="stop-check"), Scope.everything()) == 2000
        doc = store.get_document("state", COLLECTOR_STATS_ID, Scope.everything())
        assert doc is not None and doc.body["stored"] == 2000 and doc.body["spool_depth"] == 0
    finally:
        store.close()


def test_under_the_free_space_floor_records_are_refused_and_the_state_says_why(tmp_path: Path) -> None:
    s = Service(tmp_path, spool={"min_free_mb": 100_000_000})  # a floor of 100 TB: this disk is under it
    try:
        port = s.runtime.bound_ports["syslog_tcp"]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"<13>Oct 11 22:14:15 h app: under the floor\n")
        deadline = time.monotonic() + 30
        while len(s.runtime.health.state().problems) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        kinds = {p.kind for p in s.runtime.health.state().problems}
        assert kinds == {"disk_low", "spool_unwritable"}
        figures = s.runtime.stats()
        assert figures.receivers["held_records"] == 1  # held, TCP paused: not accepted into the spool
        assert figures.spool_refused >= 1
        assert figures.collection["status"] == "degraded"
        assert s.store.count_events(EventQuery(), Scope.everything()) == 0
    finally:
        s.close()
