"""Syslog receivers on real UDP/TCP sockets: IPv4, IPv6, dual stack, logger, many clients, bad input."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collectors.records import RawRecord
from collectors.spool import Spool, SpoolItem
from collectors.syslog_server import TRUNCATED_FRAME, SyslogServer, SyslogThread, kernel_udp_drops, peer_address
from sentinel.config import SpoolSettings, SyslogListener
from tests.support.faults import file_size_limit

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
        self.spool = Spool(tmp / "spool", SpoolSettings(fsync="never", min_free_mb=0))
        self.spool.open()
        self.server = SyslogServer(listeners, self.spool)
        self.thread = SyslogThread(self.server)
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


# resources running out ----------------------------------------------------------------------
def wait_until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_tcp_senders_are_held_back_while_the_spool_refuses_and_nothing_is_lost(receiver: Receiver) -> None:
    filler = RawRecord(raw=b"<34>" + b"f" * 60_000, received_at=1.0, origin="syslog:test", transport="tcp")
    receiver.spool.append([filler] * 16)  # about 1 MB, so that the test's other files stay under the limit
    receiver.items.extend(receiver.spool.read_batch(100).items)
    (segment,) = (receiver.spool.directory).glob("*.seg")
    total = 200_000  # about 9 MB: more than the kernel's socket buffers hold
    data = b"".join(b"<34>Oct 11 22:14:15 host app: held back %d\n" % n for n in range(total))
    sent = [0]

    def sender() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            s.settimeout(60)
            s.connect(("127.0.0.1", receiver.port("tcp")))
            for start in range(0, len(data), 4096):
                s.sendall(data[start : start + 4096])  # blocks while the window is closed
                sent[0] = start + 4096

    with file_size_limit(segment.stat().st_size + 100):  # the next write of the spool fails: "disk full"
        thread = threading.Thread(target=sender)
        thread.start()
        assert wait_until(lambda: receiver.server.paused)
        for _ in range(50):
            send_udp(receiver.port("udp"), b"<34>udp while full")
        assert wait_until(lambda: receiver.server.udp_dropped == 50)
        time.sleep(0.5)
        stuck = sent[0]
        time.sleep(0.5)
        assert sent[0] == stuck < len(data)  # the sender waits (TCP window closed): nothing is taken from it
        assert thread.is_alive()
        assert receiver.spool.unavailable == "File too large"
    thread.join(60)  # the limit is gone: the held records go in, reading resumes, the sender finishes
    assert not thread.is_alive()
    items = receiver.wait_for(16 + total)
    lines = [i.record.raw for i in items[16:]]
    assert lines == [b"<34>Oct 11 22:14:15 host app: held back %d" % n for n in range(total)]
    assert not receiver.server.paused
    assert receiver.server.figures()["udp_dropped"] == 50


def test_a_sender_that_disconnects_mid_line_leaves_a_partial_record(receiver: Receiver) -> None:
    send_tcp(receiver.port("tcp"), b"<34>whole line\n<34>cut in the midd")
    items = receiver.wait_for(2)
    assert [(i.record.raw, i.partial) for i in items] == [(b"<34>whole line", False), (b"<34>cut in the midd", True)]


def test_an_idle_connection_is_closed_and_its_fragment_kept_partial(tmp_path: Path) -> None:
    r = Receiver(tmp_path, [SyslogListener(protocol="tcp", host="127.0.0.1", port=0, idle_timeout_seconds=0.3)])
    try:
        with socket.create_connection(("127.0.0.1", r.port("tcp")), timeout=10) as s:
            s.sendall(b"<34>before going quiet\n<34>half a li")
            assert s.recv(100) == b""  # the server closed it
        items = r.wait_for(2)
        assert [(i.record.raw, i.partial) for i in items] == [
            (b"<34>before going quiet", False),
            (b"<34>half a li", True),
        ]
        assert r.server.figures()["tcp_idle_closed"] == 1
    finally:
        r.close()


def test_one_address_holds_at_most_the_configured_connections(tmp_path: Path) -> None:
    r = Receiver(tmp_path, [SyslogListener(protocol="tcp", host="127.0.0.1", port=0, max_connections_per_source=3)])
    try:
        port = r.port("tcp")
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        assert wait_until(lambda: r.server.figures()["tcp_connections"] == 3)
        refused = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        for s in refused:
            try:
                assert s.recv(10) == b""
            except ConnectionResetError:
                pass  # closed at once: what a refusal looks like from the sender
            s.close()
        assert r.server.figures()["tcp_refused_connections"] == 2
        held[0].close()
        assert wait_until(lambda: r.server.figures()["tcp_connections"] == 2)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as again:
            again.sendall(b"<34>admitted again\n")
        assert [i.record.raw for i in r.wait_for(1)] == [b"<34>admitted again"]
        for s in held[1:]:
            s.close()
    finally:
        r.close()


def test_kernel_udp_drops_are_read_for_our_sockets() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:
        quiet.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        quiet.bind(("127.0.0.1", 0))
        inode = os.fstat(quiet.fileno()).st_ino
        assert kernel_udp_drops({inode}) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for _ in range(200):  # nobody reads: the buffer fills and the kernel drops the rest
                sender.sendto(b"x" * 512, quiet.getsockname())
        drops = kernel_udp_drops({inode})
        assert drops is not None and drops > 100


def may_force_buffers() -> bool:
    """Whether this process may set socket buffers beyond net.core.rmem_max (CAP_NET_ADMIN)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, 33, 1 << 20)  # SO_RCVBUFFORCE
        except OSError:
            return False
    return True


def test_the_udp_receive_buffer_is_the_configured_size(tmp_path: Path) -> None:
    size = 3 * 1024 * 1024
    r = Receiver(tmp_path, [SyslogListener(protocol="udp", host="127.0.0.1", port=0, receive_buffer_bytes=size)])
    try:
        (endpoint,) = r.server._endpoints
        sock = endpoint.get_extra_info("socket")
        got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
        if may_force_buffers():
            assert got == size  # SO_RCVBUFFORCE: beyond net.core.rmem_max
        else:
            assert 0 < got <= size  # capped by net.core.rmem_max (and said so in the log)
    finally:
        r.close()
