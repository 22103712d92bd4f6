"""Live capture on one interface with a kernel BPF filter built from the enabled detectors.

The filter is compiled by libpcap (through scapy) and attached to the packet socket, so the kernel
drops every packet no detector wants before it is copied to user space; what passes is read as raw
bytes (scapy's ``recv_raw``, no dissection) and decoded by ``collectors.sensor.decode``.

Findings are handed to ``sink`` (the CLI writes them to the store) at least once a second; windows
are closed on the wall clock too, so a scan is reported when its window ends even if the link then
falls silent. The loop is bounded by ``duration``, ``max_frames`` and the ``stop`` event.
"""

from __future__ import annotations

import logging
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collectors.sensor.decode import LINKTYPE_ETHERNET, LINKTYPE_RAW
from collectors.sensor.engine import SensorEngine
from sentinel.errors import CollectorError
from sentinel.events import Event

log = logging.getLogger(__name__)

_IFACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}$")  # Linux interface names: at most 15 bytes, no '/'
POLL_SECONDS = 0.25
READ_BURST = 512  # frames read per wake-up before checking the clock again
FLUSH_SECONDS = 1.0
FINAL_DRAIN = 65536  # frames read after a stop at most: the socket buffer holds fewer


@dataclass(slots=True)
class LiveStats:
    frames: int = 0
    events: int = 0
    seconds: float = 0.0


def check_interface(iface: str) -> None:
    """Refuse a malformed or unknown interface name with a clear error."""
    if not _IFACE.match(iface):
        raise CollectorError(f"not a valid interface name: {iface!r}")
    try:
        socket.if_nametoindex(iface)
    except OSError as exc:
        raise CollectorError(f"no such network interface: {iface!r}") from exc


def open_listener(iface: str, bpf: str) -> Any:
    """A scapy layer-2 listening socket on ``iface`` with ``bpf`` attached in the kernel."""
    check_interface(iface)
    # Imported here: scapy takes a while to load and only live capture needs it. Importing
    # scapy.arch is what selects the platform's socket classes (conf.L2listen).
    import scapy.arch
    import scapy.layers.l2  # noqa: F401  (registers Ethernet framing; else scapy warns it cannot guess it)
    from scapy.config import conf
    from scapy.error import Scapy_Exception

    if conf.L2listen is None:
        raise CollectorError("scapy offers no layer-2 capture socket on this platform")
    try:
        return conf.L2listen(iface=iface, filter=bpf)
    except PermissionError as exc:
        raise CollectorError(f"capturing on {iface} needs root or CAP_NET_RAW: {exc}") from exc
    except (OSError, Scapy_Exception) as exc:
        raise CollectorError(f"cannot capture on {iface} with filter {bpf!r}: {exc}") from exc


# Linux ARPHRD_* hardware types -> pcap link types of the frames a packet socket returns.
_ARPHRD_LINKTYPES = {1: LINKTYPE_ETHERNET, 772: LINKTYPE_ETHERNET, 65534: LINKTYPE_RAW}


def _linktype(sock: Any) -> int:
    hatype = sock.ins.getsockname()[3]
    linktype = _ARPHRD_LINKTYPES.get(hatype)
    if linktype is None:
        log.warning("interface hardware type %d is not one the sensor decodes; assuming Ethernet framing", hatype)
        return LINKTYPE_ETHERNET
    return linktype


def run_live(
    engine: SensorEngine,
    iface: str,
    sink: Callable[[list[Event]], None],
    *,
    duration: float | None = None,
    max_frames: int | None = None,
    stop: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> LiveStats:
    """Capture on ``iface`` until ``duration`` seconds pass, ``max_frames`` are read or ``stop`` is set.

    ``on_ready`` is called with the filter once the socket is open and filtering, i.e. from the
    moment packets will be seen. Open windows are closed and reported before returning.
    """
    bpf = engine.bpf_filter()
    sock = open_listener(iface, bpf)
    stats = LiveStats()
    started = time.monotonic()
    deadline = started + duration if duration is not None else None
    try:
        fd = sock.ins
        fd.setblocking(False)
        linktype = _linktype(sock)
        log.info("sensor listening on %s (link type %d), filter: %s", iface, linktype, bpf)
        if on_ready is not None:
            on_ready(bpf)
        next_flush = time.monotonic() + FLUSH_SECONDS
        while True:
            now = time.monotonic()
            if (stop is not None and stop.is_set()) or (deadline is not None and now >= deadline):
                break
            if max_frames is not None and stats.frames >= max_frames:
                break
            wait = POLL_SECONDS if deadline is None else max(0.0, min(POLL_SECONDS, deadline - now))
            readable, _, _ = select.select([fd], [], [], wait)
            if readable:
                _read_burst(sock, engine, linktype, stats, READ_BURST, max_frames)
            if time.monotonic() >= next_flush:
                engine.advance(time.time())
                stats.events += _hand_over(engine, sink)
                next_flush = time.monotonic() + FLUSH_SECONDS
        # What the kernel already queued was seen before the stop: read it rather than drop it.
        _read_burst(sock, engine, linktype, stats, FINAL_DRAIN, max_frames)
    finally:
        sock.close()
        engine.flush()
        stats.events += _hand_over(engine, sink)
        stats.seconds = time.monotonic() - started
    return stats


def _read_burst(
    sock: Any, engine: SensorEngine, linktype: int, stats: LiveStats, limit: int, max_frames: int | None
) -> None:
    feed = engine.feed
    snaplen = engine.settings.snaplen
    for _ in range(limit):
        if max_frames is not None and stats.frames >= max_frames:
            return
        try:
            _cls, frame, ts = sock.recv_raw(snaplen)
        except BlockingIOError:
            return
        if frame is None:
            continue  # scapy drops frames it sent itself
        feed(frame, linktype, ts if ts is not None else time.time())
        stats.frames += 1


def _hand_over(engine: SensorEngine, sink: Callable[[list[Event]], None]) -> int:
    if not engine.pending:
        return 0
    events = engine.drain()
    sink(events)
    return len(events)
