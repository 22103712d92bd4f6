"""Port scans and host sweeps: one source probing many ports of a host, or one port on many hosts.

Probes are TCP segments without ACK or RST (SYN, FIN, NULL and Xmas scans) and UDP datagrams
that do not look like a service's reply (source port below 1024 to a port above it). A window
opens at a source's first probe and lasts ``portscan_window_seconds``; when it ends, every host
with at least ``portscan_min_ports`` distinct ports is a ``port_scan`` finding and every port with
at least ``portscan_min_hosts`` distinct hosts is a ``host_sweep``. Reporting at the end of the
window gives the full distinct count (a masscan sweep of 0-1000 is one finding with 1,001 ports).

Memory is bounded twice: at most ``max_tracked`` sources (LRU) and at most ``portscan_max_pairs``
(host, port) pairs across all sources. At either cap the least recently active source is closed
early: reported if it already crossed a threshold, forgotten otherwise (``evictions`` counts it).
A source alone at the pair cap stops recording new pairs and its finding says ``truncated``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from collectors.sensor.base import WANTS_TCP, WANTS_UDP, BoundedLRU, Finding, iso
from collectors.sensor.decode import PROTO_TCP, TCP_ACK, TCP_RST, ArpPacket, IpPacket, ip_text, mac_text, transport_name
from sentinel.config import SensorSettings

log = logging.getLogger(__name__)

NAME = "portscan"
MAX_FINDINGS_PER_WINDOW = 100  # per kind; a source scanning thousands of hosts is still one screen of alerts
PORT_SAMPLE = 32
TECHNIQUE = ("T1046", "Network Service Discovery")
TACTIC = ("TA0007", "Discovery")


@dataclass(slots=True)
class _Window:
    start: float
    last: float
    src_mac: bytes | None
    packets: int = 0
    pairs: int = 0
    truncated: bool = False
    ports_by_host: dict[bytes, set[int]] = field(default_factory=dict)
    hosts_by_port: dict[int, set[bytes]] = field(default_factory=dict)


class PortScanDetector:
    name = NAME
    wants = frozenset({WANTS_TCP, WANTS_UDP})

    def __init__(self, settings: SensorSettings) -> None:
        self.window = settings.portscan_window_seconds
        self.min_ports = settings.portscan_min_ports
        self.min_hosts = settings.portscan_min_hosts
        self.max_pairs = settings.portscan_max_pairs
        self._pairs_total = 0
        self._pending: list[Finding] = []
        self._sources: BoundedLRU[tuple[bytes, int], _Window] = BoundedLRU(settings.max_tracked, self._evicted)
        self.evictions_unreported = 0

    def bpf(self) -> str:
        # IPv4 TCP without ACK/RST; IPv6 TCP (no extension headers) the same; all UDP.
        return (
            "(tcp and tcp[tcpflags] & (tcp-ack|tcp-rst) == 0) or (ip6 and ip6[6] == 6 and ip6[53] & 0x14 == 0) or udp"
        )

    # packets ---------------------------------------------------------------------------------
    def on_ip(self, pkt: IpPacket, out: list[Finding]) -> None:
        if pkt.proto == PROTO_TCP:
            if pkt.flags & (TCP_ACK | TCP_RST):
                return
        elif pkt.sport < 1024 <= pkt.dport:
            return  # a service answering a client, not a probe
        dst = pkt.dst
        if (dst[0] >= 224 if len(dst) == 4 else dst[0] == 0xFF) or dst == b"\xff\xff\xff\xff":
            return  # multicast and broadcast are not hosts being scanned
        key = (pkt.src, pkt.proto)
        ts = pkt.ts
        win = self._sources.get(key)
        if win is not None and ts - win.start >= self.window:
            self._sources.pop(key)
            self._close(key, win, out)
            win = None
        if win is None:
            win = _Window(start=ts, last=ts, src_mac=pkt.src_mac)
            self._sources.put(key, win)
        win.packets += 1
        if ts > win.last:
            win.last = ts
        port = pkt.dport
        ports = win.ports_by_host.get(dst)
        if ports is not None and port in ports:
            pass
        elif self._make_room(key):
            if ports is None:
                ports = win.ports_by_host[dst] = set()
            ports.add(port)
            hosts = win.hosts_by_port.get(port)
            if hosts is None:
                hosts = win.hosts_by_port[port] = set()
            hosts.add(dst)
            win.pairs += 1
            self._pairs_total += 1
        else:
            win.truncated = True
        if self._pending:
            out.extend(self._pending)
            self._pending.clear()

    def on_arp(self, pkt: ArpPacket, out: list[Finding]) -> None:
        return

    def _make_room(self, current: tuple[bytes, int]) -> bool:
        """Evict least recently active sources until one more pair fits; False if only ``current`` is left."""
        while self._pairs_total >= self.max_pairs:
            oldest = self._sources.oldest()
            if oldest is None or oldest[0] == current:
                return False
            self._sources.evict_oldest()
        return True

    def _evicted(self, key: tuple[bytes, int], win: _Window) -> None:
        before = len(self._pending)
        self._close(key, win, self._pending)
        if len(self._pending) == before:
            self.evictions_unreported += 1

    # windows ---------------------------------------------------------------------------------
    def advance(self, now: float, out: list[Finding]) -> None:
        while True:
            oldest = self._sources.oldest()
            if oldest is None or now - oldest[1].last < self.window:
                break
            self._sources.pop(oldest[0])
            self._close(oldest[0], oldest[1], out)

    def flush(self, out: list[Finding]) -> None:
        for key, win in self._sources.items():
            self._close(key, win, out)
        self._sources.clear()
        out.extend(self._pending)
        self._pending.clear()

    def state_size(self) -> int:
        return len(self._sources)

    @property
    def pairs_tracked(self) -> int:
        return self._pairs_total

    def _close(self, key: tuple[bytes, int], win: _Window, out: list[Finding]) -> None:
        self._pairs_total -= win.pairs
        src, proto = key
        scans = [(h, p) for h, p in win.ports_by_host.items() if len(p) >= self.min_ports]
        sweeps = [(p, h) for p, h in win.hosts_by_port.items() if len(h) >= self.min_hosts]
        for kind, items in (("port_scan", scans), ("host_sweep", sweeps)):
            if len(items) > MAX_FINDINGS_PER_WINDOW:
                log.warning(
                    "%s from %s: %d targets over threshold, reporting the %d largest",
                    kind,
                    ip_text(src),
                    len(items),
                    MAX_FINDINGS_PER_WINDOW,
                )
                items.sort(key=lambda item: -len(item[1]))
                del items[MAX_FINDINGS_PER_WINDOW:]
        for host, ports in scans:
            out.append(self._port_scan(src, proto, host, ports, win))
        for port, hosts in sweeps:
            out.append(self._host_sweep(src, proto, port, hosts, win))

    def _common(self, src: bytes, proto: int, win: _Window) -> dict[str, object]:
        source = {"ip": ip_text(src)}
        if win.src_mac is not None:
            source["mac"] = mac_text(win.src_mac)
        return {
            "source": source,
            "network": {"transport": transport_name(proto), "type": "ipv4" if len(src) == 4 else "ipv6"},
            "event": {"start": iso(win.start), "end": iso(win.last)},
        }

    def _port_scan(self, src: bytes, proto: int, host: bytes, ports: set[int], win: _Window) -> Finding:
        fields = self._common(src, proto, win)
        fields["destination"] = {"ip": ip_text(host)}
        fields["sensor"] = {
            "distinct_ports": len(ports),
            "ports_sample": sorted(ports)[:PORT_SAMPLE],
            "lowest_port": min(ports),
            "highest_port": max(ports),
            "window_packets": win.packets,
            "truncated": win.truncated,
        }
        transport = transport_name(proto).upper()
        return Finding(
            detector=NAME,
            action="port_scan",
            key=f"{ip_text(src)}|{transport}|{ip_text(host)}",
            window_start=win.start,
            timestamp=win.last,
            message=f"{transport} port scan: {ip_text(src)} probed {len(ports)} distinct ports on {ip_text(host)}",
            fields=fields,
            affected=(ip_text(host), ip_text(src)),
            event_type=("connection", "info"),
            technique=TECHNIQUE,
            tactic=TACTIC,
            severity=47,
        )

    def _host_sweep(self, src: bytes, proto: int, port: int, hosts: set[bytes], win: _Window) -> Finding:
        fields = self._common(src, proto, win)
        fields["destination"] = {"port": port}
        sample = sorted(hosts)[:PORT_SAMPLE]
        fields["sensor"] = {
            "distinct_hosts": len(hosts),
            "hosts_sample": [ip_text(h) for h in sample],
            "window_packets": win.packets,
            "truncated": win.truncated,
        }
        transport = transport_name(proto).upper()
        return Finding(
            detector=NAME,
            action="host_sweep",
            key=f"{ip_text(src)}|{transport}|{port}",
            window_start=win.start,
            timestamp=win.last,
            message=f"{transport} host sweep: {ip_text(src)} probed port {port} on {len(hosts)} hosts",
            fields=fields,
            affected=(*(ip_text(h) for h in sample), ip_text(src)),
            event_type=("connection", "info"),
            technique=TECHNIQUE,
            tactic=TACTIC,
            severity=47,
        )
