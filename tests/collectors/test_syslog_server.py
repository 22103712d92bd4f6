"""Syslog receivers on real UDP/TCP sockets: IPv4, IPv6, dual stack, logger, many clients, bad input."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.spool import Spool, SpoolItem
from collectors.syslog_server import TRUNCATED_FRAME, SyslogServer, SyslogThread, peer_address
from sentinel.config import SpoolSettings, SyslogListener

pytestmark = pytest.mark.timeout(120)

LIMIT = 1024


def test_peer_address_unmaps_ipv4() -> None:
    assert peer_address("::ffff:10.1.2.3") == "10.1.2.3"
    assert peer_address("::1") == "::1"
    assert peer_address("192.0.2.1") == "192.0.2.1"


# real sockets --------------------------------------------------------------------------------
class Receiver:
    """A running server writing to a real spool; ``wait_for`` reads what arrived."""

    def __init__(self, tmp: Path, listeners: list[SyslogListener]) -> None:
        self.spool = Spool(tmp / "spool", SpoolSettings(fsync="never"))
        self.spool.open()
        self.thread = SyslogThread(SyslogServer(listeners, self.spool))
        self.bound = self.thread.start()
        self.items: list[SpoolItem] = []

    def port(self, protocol: str) -> int:
        return next(b.port for b in self.bound if b.protocol == protocol)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[SpoolItem]:
        deadline = time.monotonic() + timeout
        while len(self.items) < count and time.monotonic() < deadline:
            self.items.extend(self.spool.read_batch(10_000, wait_seconds=0.05).items)
        return self.items

    def close(self) -> None:
        self.thread.stop()
        self.spool.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(
        tmp_path,
        [
            SyslogListener(protocol="tcp", host="::", port=0, max_line_bytes=LIMIT),
            SyslogListener(protocol="udp", host="::", port=0, max_line_bytes=LIMIT),
        ],
    )
    yield r
    r.close()


def send_tcp(port: int, data: bytes, host: str = "127.0.0.1") -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect((host, port))
        s.sendall(data)


def send_udp(port: int, data: bytes, host: str = "127.0.0.1") -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.sendto(data, (host, port))


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_tcp_and_udp_over_ipv4_and_ipv6(receiver: Receiver, host: str) -> None:
    send_tcp(receiver.port("tcp"), b"<34>Oct 11 22:14:15 web sshd[1]: tcp line\n", host)
    send_udp(receiver.port("udp"), b"<165>1 2003-10-11T22:14:15.003Z web sshd 1 - - udp line\n", host)
    items = receiver.wait_for(2)
    by_transport = {i.record.transport: i.record for i in items}
    assert by_transport["tcp"].raw == b"<34>Oct 11 22:14:15 web sshd[1]: tcp line"
    assert by_transport["udp"].raw == b"<165>1 2003-10-11T22:14:15.003Z web sshd 1 - - udp line"
    for record in by_transport.values():
        assert record.peer == host
        assert record.origin == f"syslog:{host}"
        assert all(i.reject is None for i in items)


def test_ipv4_only_listener(tmp_path: Path) -> None:
    r = Receiver(tmp_path, [SyslogListener(protocol="tcp", host="127.0.0.1", port=0)])
    try:
        send_tcp(r.port("tcp"), b"<34>v4 only\n")
        assert [i.record.raw for i in r.wait_for(1)] == [b"<34>v4 only"]
    finally:
        r.close()


def test_fifty_concurrent_tcp_clients(receiver: Receiver) -> None:
    port = receiver.port("tcp")
    lines_each = 200

    def client(n: int) -> None:
        data = b"".join(f"<34>Oct 11 22:14:15 host app: client {n} line {i}\n".encode() for i in range(lines_each))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            for start in range(0, len(data), 1000):  # many small writes, interleaved with other clients
                s.sendall(data[start : start + 1000])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    items = receiver.wait_for(50 * lines_each)
    raws = {i.record.raw for i in items}
    assert len(items) == 50 * lines_each
    assert raws == {
        f"<34>Oct 11 22:14:15 host app: client {n} line {i}".encode() for n in range(50) for i in range(lines_each)
    }


@pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger not installed")
@pytest.mark.parametrize(
    "mode",
    [["--tcp"], ["--tcp", "--octet-count"], ["--udp"], ["--tcp", "--rfc3164"], ["--udp", "--rfc5424"]],
    ids=lambda m: " ".join(m),
)
def test_util_linux_logger(receiver: Receiver, mode: list[str]) -> None:
    protocol = "udp" if "--udp" in mode else "tcp"
    text = f"sentinel logger test {' '.join(mode)}"
    subprocess.run(
        ["logger", *mode, "-n", "127.0.0.1", "-P", str(receiver.port(protocol)), "-t", "sshd", text],
        check=True,
        timeout=30,
    )
    items = receiver.wait_for(1)
    assert len(items) == 1
    assert items[0].record.raw.endswith(text.encode())
    assert b"sshd" in items[0].record.raw
    assert items[0].reject is None


def test_bad_input_is_a_dead_letter_and_the_server_keeps_serving(receiver: Receiver) -> None:
    port = receiver.port("tcp")
    send_tcp(port, bytes(range(256)) * 4 + b"\n")  # binary garbage: the drain decides (a record here)
    big = b"<34>" + b"x" * (1024 * 1024) + b"\n"
    send_tcp(port, big)
    send_tcp(port, b"<34>bad utf8 \xff\xfe\n")
    send_tcp(port, b"500 <34>cut short")
    send_udp(receiver.port("udp"), b"<34>" + b"u" * 5000)
    send_tcp(port, b"<34>still serving\n")
    items = receiver.wait_for(7)
    rejects = [i.reject for i in items if i.reject]
    assert f"line longer than {LIMIT} bytes (got {len(big) - 1})" in rejects
    assert f"line longer than {LIMIT} bytes (got 5004)" in rejects
    assert any(r.startswith(TRUNCATED_FRAME) for r in rejects)
    raws = [i.record.raw for i in items if i.reject is None]
    assert b"<34>still serving" in raws
    assert b"<34>bad utf8 \xff\xfe" in raws
    assert all(len(i.record.raw) <= LIMIT for i in items)


def test_listen_error_names_the_port(tmp_path: Path) -> None:
    from sentinel.errors import CollectorError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spool = Spool(tmp_path / "spool", SpoolSettings())
        spool.open()
        thread = SyslogThread(SyslogServer([SyslogListener(protocol="tcp", host="127.0.0.1", port=port)], spool))
        with pytest.raises(CollectorError, match=f"port {port}"):
            thread.start()
        spool.close()
