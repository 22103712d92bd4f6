"""Syslog receivers: asyncio UDP and TCP listeners that put every record in the spool, unparsed.

TCP streams are split by ``syslog_framing`` (octet counting or newlines, detected per frame,
bounded memory). Parsing happens later, in the drain: receivers only frame and spool, in one
write per event-loop turn.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from collectors.records import RawRecord
from collectors.spool_format import encode_lines
from collectors.syslog_framing import INVALID_OCTET_COUNT, TRUNCATED_FRAME, Frame, FrameDecoder, too_long
from sentinel.config import SyslogListener
from sentinel.errors import CollectorError

logger = logging.getLogger(__name__)

_BATCH_LIMIT = 5000  # records buffered in the loop before a synchronous spool write
_UDP_RCVBUF = 8 * 1024 * 1024


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
    """Where receivers put records: the spool (``append_frames`` takes encoded frames)."""

    def append_frames(self, data: bytes, count: int) -> int: ...


class _Batcher:
    """Collects encoded records during one turn of the event loop and spools them in one write.

    The flush is scheduled with ``call_soon``, so it runs after every socket that was ready in
    this turn has been read: batching without adding a timer's latency.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: FrameSink) -> None:
        self._loop = loop
        self._sink = sink
        self._parts: list[bytes] = []
        self._count = 0
        self._scheduled = False
        self.received = 0

    def add(self, template: RawRecord, frames: Sequence[Frame]) -> None:
        data, count = encode_lines(template, frames)
        if not count:
            return
        self._parts.append(data)
        self._count += count
        if self._count >= _BATCH_LIMIT:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._count:
            return
        data, count = b"".join(self._parts), self._count
        self._parts = []
        self._count = 0
        try:
            self._sink.append_frames(data, count)
        except (OSError, CollectorError):
            # Disk full or spool closed: nothing else can keep these records. Say so loudly.
            logger.exception("could not spool %d received syslog records; they are lost", count)
            return
        self.received += count


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
        self._decoder = FrameDecoder(listener.max_line_bytes)
        self._source_name = source_name
        self._peer = "unknown"
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        peername = transport.get_extra_info("peername")
        self._peer = peer_address(str(peername[0])) if peername else "unknown"
        self._server.connections.add(transport)

    def data_received(self, data: bytes) -> None:
        frames = self._decoder.feed(data)
        if frames:
            self._server.batcher.add(_template("tcp", self._peer, self._source_name), frames)

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost handles what is left

    def connection_lost(self, exc: Exception | None) -> None:
        frames = self._decoder.close()
        if frames:
            self._server.batcher.add(_template("tcp", self._peer, self._source_name), frames)
        if self._transport is not None:
            self._server.connections.discard(self._transport)


class _UdpEndpoint(asyncio.DatagramProtocol):
    def __init__(self, server: SyslogServer, listener: SyslogListener, source_name: str) -> None:
        self._server = server
        self._max = listener.max_line_bytes
        self._source_name = source_name

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        # One datagram is one message (RFC 5426); a trailing terminator is not part of it.
        data = data.rstrip(b"\r\n\x00")
        if not data:
            return
        frame: Frame = (data, None) if len(data) <= self._max else (data[: self._max], too_long(self._max, len(data)))
        self._server.batcher.add(_template("udp", peer_address(str(addr[0])), self._source_name), [frame])

    def error_received(self, exc: Exception) -> None:
        logger.warning("syslog UDP listener %s: %s", self._source_name, exc)


@dataclass(frozen=True, slots=True)
class BoundListener:
    protocol: Literal["udp", "tcp"]
    host: str
    port: int


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
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RCVBUF)
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


class SyslogServer:
    """All configured syslog listeners on one asyncio loop."""

    def __init__(self, listeners: Sequence[SyslogListener], sink: FrameSink) -> None:
        self.listeners = list(listeners)
        self.sink = sink
        self.bound: list[BoundListener] = []
        self.connections: set[asyncio.BaseTransport] = set()
        self._servers: list[asyncio.Server] = []
        self._endpoints: list[asyncio.BaseTransport] = []
        self._batcher: _Batcher | None = None

    @property
    def batcher(self) -> _Batcher:
        assert self._batcher is not None, "the server is not started"
        return self._batcher

    @property
    def received(self) -> int:
        return self._batcher.received if self._batcher is not None else 0

    async def start(self) -> list[BoundListener]:
        loop = asyncio.get_running_loop()
        self._batcher = _Batcher(loop, self.sink)
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
                    transport, _ = await loop.create_datagram_endpoint(
                        functools.partial(_UdpEndpoint, self, listener, name), sock=sock
                    )
                    self._endpoints.append(transport)
                self.bound.append(BoundListener(listener.protocol, listener.host, port))
                logger.info("syslog %s listening on %s port %d", listener.protocol, listener.host, port)
        except BaseException:
            await self.stop()
            raise
        return self.bound

    async def stop(self) -> None:
        """Stop listening, close every connection (spooling what each had), flush."""
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
            self._batcher.flush()


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
