"""Syslog receivers: asyncio UDP and TCP listeners that put every record in the spool, unparsed.

TCP streams are split by ``syslog_framing`` (octet counting or newlines, detected per frame,
bounded memory). Parsing happens later, in the drain: receivers only frame and spool, in one
write per event-loop turn.

When the spool cannot take records (disk full, under the free-space floor, write errors), the
records already read are held and retried with backoff, and every TCP connection stops being
read: the kernel's buffers fill, TCP's window closes and senders wait and buffer on their side
instead of losing data. UDP has no way to hold a sender back: datagrams that arrive meanwhile
are dropped and counted, as are the kernel's own drops (``/proc/net/udp``), for ``sentinel status``.

A TCP connection that sends nothing for ``idle_timeout_seconds`` is closed, and one address holds
at most ``max_connections_per_source`` connections; a line left unterminated by a closing sender
is kept, tagged partial.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from collectors.records import RawRecord
from collectors.syslog_framing import INVALID_OCTET_COUNT, TRUNCATED_FRAME, Frame, FrameDecoder, too_long
from sentinel.config import SyslogListener
from sentinel.errors import CollectorError

logger = logging.getLogger(__name__)

_BATCH_LIMIT = 5000  # records buffered in the loop before a synchronous spool write
_RETRY_FIRST = 0.05  # seconds before the first new attempt to spool held records
_RETRY_MAX = 2.0
_STOP_RETRY_SECONDS = 5.0  # at stop, how long held records are retried before they are given up
_REFUSAL_LOG_SECONDS = 60.0  # refused connections are logged at most this often
# Sets a socket buffer beyond net.core.rmem_max (needs CAP_NET_ADMIN); Python's socket module lacks the name.
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform.startswith("linux") else None)


def peer_address(address: str) -> str:
    """The sender's IP as text; an IPv4 client of a dual-stack socket shows as plain IPv4."""
    if address.startswith("::ffff:"):
        try:
            mapped = ipaddress.IPv6Address(address.split("%", 1)[0]).ipv4_mapped
        except ValueError:
            return address
        if mapped is not None:
            return str(mapped)
    return address


class FrameSink(Protocol):
    """Where receivers put records: the spool (frames encoded with its seed, then appended)."""

    def encode_lines(
        self, template: RawRecord, lines: Sequence[Frame], *, partial: bool = False
    ) -> tuple[bytes, int]: ...

    def append_frames(self, data: bytes, count: int) -> int: ...


class _Batcher:
    """Collects encoded records during one turn of the event loop and spools them in one write.

    The flush is scheduled with ``call_soon``, so it runs after every socket that was ready in
    this turn has been read: batching without adding a timer's latency. When the spool refuses,
    the records are held, TCP reading is paused (``on_blocked``) and the write is retried with
    backoff until it succeeds (``on_unblocked``).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: FrameSink, server: SyslogServer) -> None:
        self._loop = loop
        self._sink = sink
        self._server = server
        self._parts: list[bytes] = []
        self._count = 0
        self._scheduled = False
        self._retry: asyncio.TimerHandle | None = None
        self._pause = _RETRY_FIRST
        self.blocked = False  # the spool refused the last write: records are held
        self.received = 0

    @property
    def held(self) -> int:
        """Records waiting for the spool (all of them while blocked)."""
        return self._count

    def add(self, template: RawRecord, frames: Sequence[Frame], *, partial: bool = False) -> None:
        data, count = self._sink.encode_lines(template, frames, partial=partial)
        if not count:
            return
        self._parts.append(data)
        self._count += count
        if self.blocked:
            return  # the retry timer writes them with the rest
        if self._count >= _BATCH_LIMIT:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> bool:
        """Write what is held; False when the spool refused (the records stay held)."""
        self._scheduled = False
        if not self._count:
            return True
        data = b"".join(self._parts)
        self._parts = [data]
        try:
            self._sink.append_frames(data, self._count)
        except (OSError, CollectorError):
            # The spool reported why (collection health); hold the records and hold the senders back.
            if not self.blocked:
                self.blocked = True
                self._server.pause_reading()
            self._schedule_retry()
            return False
        self.received += self._count
        self._parts = []
        self._count = 0
        if self.blocked:
            self.blocked = False
            self._pause = _RETRY_FIRST
            self._server.resume_reading()
        return True

    def _schedule_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        self._retry = self._loop.call_later(self._pause, self._retry_now)
        self._pause = min(self._pause * 2, _RETRY_MAX)

    def _retry_now(self) -> None:
        self._retry = None
        self.flush()

    async def drain_at_stop(self) -> None:
        """At stop: write what is held, retrying for a while; then say how many are lost."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        deadline = time.monotonic() + _STOP_RETRY_SECONDS
        while not self.flush() and time.monotonic() < deadline:
            if self._retry is not None:
                self._retry.cancel()
                self._retry = None
            await asyncio.sleep(0.2)
        if self._count:
            logger.error("stopping: %d received syslog records could not be spooled and are lost", self._count)
            if self._retry is not None:
                self._retry.cancel()
                self._retry = None


def _template(transport: Literal["udp", "tcp"], peer: str, source_name: str) -> RawRecord:
    return RawRecord(
        raw=b"",
        received_at=time.time(),
        origin=f"syslog:{peer}",
        transport=transport,
        peer=peer,
        source_name=source_name,
    )


class _TcpConnection(asyncio.Protocol):
    def __init__(self, server: SyslogServer, listener: SyslogListener, source_name: str) -> None:
        self._server = server
        self._listener = listener
        self._decoder = FrameDecoder(listener.max_line_bytes)
        self._source_name = source_name
        self._peer = "unknown"
        self._transport: asyncio.Transport | None = None
        self._refused = False
        self.last_active = 0.0
        self.idle_timeout = listener.idle_timeout_seconds

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peername = transport.get_extra_info("peername")
        self._peer = peer_address(str(peername[0])) if peername else "unknown"
        if not self._server.admit(self._peer, self._listener):
            self._refused = True
            transport.abort()
            return
        self.last_active = self._server.loop_time()
        self._server.connections[transport] = self
        if self._server.paused:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self.last_active = self._server.loop_time()
        frames = self._decoder.feed(data)
        if frames:
            self._server.batcher.add(_template("tcp", self._peer, self._source_name), frames)

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost handles what is left

    def close_idle(self) -> None:
        assert self._transport is not None
        self._server.idle_closed += 1
        self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        frames = self._decoder.close()
        if frames:
            template = _template("tcp", self._peer, self._source_name)
            if self._decoder.partial_tail:
                # The sender stopped mid-line (or without a final newline): keep it, tagged partial.
                if len(frames) > 1:
                    self._server.batcher.add(template, frames[:-1])
                self._server.batcher.add(template, frames[-1:], partial=True)
            else:
                self._server.batcher.add(template, frames)
        if self._transport is not None:
            self._server.connections.pop(self._transport, None)
            self._server.release(self._peer)


class _UdpEndpoint(asyncio.DatagramProtocol):
    def __init__(self, server: SyslogServer, listener: SyslogListener, source_name: str) -> None:
        self._server = server
        self._max = listener.max_line_bytes
        self._source_name = source_name

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        batcher = self._server.batcher
        if batcher.blocked:
            self._server.udp_dropped += 1  # the spool cannot take it and UDP cannot wait: counted
            return
        # One datagram is one message (RFC 5426); a trailing terminator is not part of it.
        data = data.rstrip(b"\r\n\x00")
        if not data:
            return
        frame: Frame = (data, None) if len(data) <= self._max else (data[: self._max], too_long(self._max, len(data)))
        batcher.add(_template("udp", peer_address(str(addr[0])), self._source_name), [frame])

    def error_received(self, exc: Exception) -> None:
        logger.warning("syslog UDP listener %s: %s", self._source_name, exc)


@dataclass(frozen=True, slots=True)
class BoundListener:
    protocol: Literal["udp", "tcp"]
    host: str
    port: int


def _set_receive_buffer(sock: socket.socket, listener: SyslogListener) -> None:
    """Ask for the configured UDP receive buffer; beyond ``net.core.rmem_max`` only a privileged
    process gets it (``SO_RCVBUFFORCE``). Says so once when the kernel gave less."""
    wanted = listener.receive_buffer_bytes
    try:
        if _SO_RCVBUFFORCE is None:
            raise PermissionError
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, wanted)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    got = got // 2 if sys.platform.startswith("linux") else got  # Linux reports twice the size it holds
    if got < wanted:
        logger.warning(
            "syslog UDP %s port %s: the kernel gave a %d-byte receive buffer, not the %d asked "
            "(raise net.core.rmem_max, or run with CAP_NET_ADMIN); bursts beyond it are dropped by the kernel",
            listener.host,
            listener.port,
            got,
            wanted,
        )


def _bind(listener: SyslogListener) -> socket.socket:
    """A bound socket; ``::`` is dual-stack (IPv4 clients too), other hosts are what they say."""
    host = listener.host or "::"
    kind = socket.SOCK_STREAM if listener.protocol == "tcp" else socket.SOCK_DGRAM
    infos = socket.getaddrinfo(host, listener.port, type=kind, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        else:
            _set_receive_buffer(sock, listener)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if host == "::" else 1)
        sock.bind(address)
        if kind == socket.SOCK_STREAM:
            sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise CollectorError(
            f"cannot listen for syslog on {listener.protocol} {host} port {listener.port}: {exc}"
        ) from exc
    return sock


def kernel_udp_drops(inodes: set[int], proc_net: Path = Path("/proc/net")) -> int | None:
    """Datagrams the kernel dropped on these sockets (receive buffer full): the ``drops`` column of
    ``/proc/net/udp`` and ``udp6``. None where that is not available (not Linux)."""
    if not inodes:
        return 0
    total = 0
    found = False
    for name in ("udp", "udp6"):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            if len(fields) >= 13 and fields[9].isdigit() and int(fields[9]) in inodes:
                total += int(fields[12])
                found = True
    return total if found else None


class SyslogServer:
    """All configured syslog listeners on one asyncio loop."""

    def __init__(self, listeners: Sequence[SyslogListener], sink: FrameSink) -> None:
        self.listeners = list(listeners)
        self.sink = sink
        self.bound: list[BoundListener] = []
        self.connections: dict[asyncio.Transport, _TcpConnection] = {}
        self.paused = False  # TCP reading is paused while the spool refuses records
        self.udp_dropped = 0
        self.refused_connections = 0
        self.idle_closed = 0
        self._per_source: Counter[str] = Counter()
        self._last_refusal_log = -_REFUSAL_LOG_SECONDS
        self._udp_inodes: set[int] = set()
        self._servers: list[asyncio.Server] = []
        self._endpoints: list[asyncio.BaseTransport] = []
        self._batcher: _Batcher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def batcher(self) -> _Batcher:
        assert self._batcher is not None, "the server is not started"
        return self._batcher

    @property
    def received(self) -> int:
        return self._batcher.received if self._batcher is not None else 0

    def loop_time(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def figures(self) -> dict[str, int]:
        """Receiver counters for ``sentinel status`` (read from another thread: plain ints)."""
        kernel = kernel_udp_drops(self._udp_inodes)
        return {
            "udp_dropped": self.udp_dropped,
            "udp_kernel_drops": -1 if kernel is None else kernel,
            "tcp_connections": len(self.connections),
            "tcp_refused_connections": self.refused_connections,
            "tcp_idle_closed": self.idle_closed,
            "held_records": self._batcher.held if self._batcher is not None else 0,
        }

    # backpressure ------------------------------------------------------------------------
    def pause_reading(self) -> None:
        self.paused = True
        for transport in list(self.connections):
            if not transport.is_closing():
                transport.pause_reading()
        logger.info("syslog TCP reading paused: %d connections wait for the spool", len(self.connections))

    def resume_reading(self) -> None:
        self.paused = False
        now = self.loop_time()
        for transport, connection in list(self.connections.items()):
            connection.last_active = now  # the wait was ours, not the sender's: the idle clock restarts
            if not transport.is_closing():
                transport.resume_reading()
        logger.info("syslog TCP reading resumed (%d connections)", len(self.connections))

    # connection limits -------------------------------------------------------------------
    def admit(self, peer: str, listener: SyslogListener) -> bool:
        if self._per_source[peer] >= listener.max_connections_per_source:
            self.refused_connections += 1
            now = time.monotonic()
            if now - self._last_refusal_log >= _REFUSAL_LOG_SECONDS:
                self._last_refusal_log = now
                logger.warning(
                    "syslog TCP: refused a connection from %s, which already holds %d (max_connections_per_source); "
                    "%d refused in all",
                    peer,
                    self._per_source[peer],
                    self.refused_connections,
                )
            return False
        self._per_source[peer] += 1
        return True

    def release(self, peer: str) -> None:
        self._per_source[peer] -= 1
        if self._per_source[peer] <= 0:
            del self._per_source[peer]

    def _sweep_idle(self) -> None:
        """Close connections that sent nothing for their listener's idle timeout (not while we paused them)."""
        self._sweep = None
        if not self.paused:
            now = self.loop_time()
            for transport, connection in list(self.connections.items()):
                if now - connection.last_active >= connection.idle_timeout and not transport.is_closing():
                    connection.close_idle()
        self._schedule_sweep()

    def _schedule_sweep(self) -> None:
        tcp = [listener.idle_timeout_seconds for listener in self.listeners if listener.protocol == "tcp"]
        if tcp and self._loop is not None:
            self._sweep = self._loop.call_later(min(max(min(tcp) / 4, 0.05), 5.0), self._sweep_idle)

    # lifecycle ---------------------------------------------------------------------------
    async def start(self) -> list[BoundListener]:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._batcher = _Batcher(loop, self.sink, self)
        try:
            for listener in self.listeners:
                sock = _bind(listener)
                port = int(sock.getsockname()[1])
                name = f"syslog-{listener.protocol}:{port}"
                if listener.protocol == "tcp":
                    server = await loop.create_server(
                        functools.partial(_TcpConnection, self, listener, name), sock=sock
                    )
                    self._servers.append(server)
                else:
                    self._udp_inodes.add(os.fstat(sock.fileno()).st_ino)
                    transport, _ = await loop.create_datagram_endpoint(
                        functools.partial(_UdpEndpoint, self, listener, name), sock=sock
                    )
                    self._endpoints.append(transport)
                self.bound.append(BoundListener(listener.protocol, listener.host, port))
                logger.info("syslog %s listening on %s port %d", listener.protocol, listener.host, port)
        except BaseException:
            await self.stop()
            raise
        self._schedule_sweep()
        return self.bound

    async def stop(self) -> None:
        """Stop listening, close every connection (spooling what each had), flush."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for server in self._servers:
            server.close()
        for endpoint in self._endpoints:
            endpoint.close()
        for transport in list(self.connections):
            transport.close()
        for server in self._servers:
            await server.wait_closed()
        for _ in range(100):  # let connection_lost callbacks run (they spool what each connection had)
            if not self.connections:
                break
            await asyncio.sleep(0.01)
        self._servers.clear()
        self._endpoints.clear()
        if self._batcher is not None:
            await self._batcher.drain_at_stop()


class SyslogThread:
    """Runs a ``SyslogServer`` on its own event loop in a background thread."""

    def __init__(self, server: SyslogServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="syslog-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self, timeout: float = 30.0) -> list[BoundListener]:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.server.start(), self._loop)
        try:
            return future.result(timeout)
        except BaseException:
            self._shutdown()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()


__all__ = [
    "INVALID_OCTET_COUNT",
    "TRUNCATED_FRAME",
    "BoundListener",
    "FrameDecoder",
    "SyslogServer",
    "SyslogThread",
    "peer_address",
    "too_long",
]
