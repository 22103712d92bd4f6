"""Header decoding with ``struct``: link layer, ARP, IPv4/IPv6, TCP/UDP. No dissection library.

scapy builds a full object tree per packet (about 3,300 packets/s); detectors only need a dozen
header fields, so this module reads exactly those. Addresses stay as packed bytes (fast dictionary
keys) and become text only when a finding is written (``ip_text``, ``mac_text``). Payloads are
sliced on demand, trimmed to the IP/UDP length so Ethernet padding never looks like data.
"""

from __future__ import annotations

import socket
import struct

# Link types (https://www.tcpdump.org/linktypes.html) this decoder reads.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
_RAW_ALIASES = (12, 14, LINKTYPE_RAW)

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)

PROTO_TCP = 6
PROTO_UDP = 17

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

_U16 = struct.Struct("!H")
_ETH = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BxHxxHxB2x4s4s")  # ver/ihl, total length, flags/fragment offset, protocol, src, dst
_IPV6 = struct.Struct("!4xHBx16s16s")  # payload length, next header, src, dst
_PORTS = struct.Struct("!HH")
_UDP = struct.Struct("!HHH")
_TCP = struct.Struct("!HH8xBB")  # ports, data offset, flags
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_IPV6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44
_IPV6_AH = 51
_MAX_EXTENSIONS = 8  # more than this is an evasion attempt or garbage; stop looking for L4


class IpPacket:
    """One TCP or UDP segment (over IPv4 or IPv6) with the fields detectors read."""

    __slots__ = ("dport", "dst", "end", "flags", "frame", "payload_at", "proto", "sport", "src", "src_mac", "ts")

    ts: float
    src_mac: bytes | None
    src: bytes  # 4 or 16 packed bytes
    dst: bytes
    proto: int  # PROTO_TCP or PROTO_UDP
    sport: int
    dport: int
    flags: int  # TCP flags; 0 for UDP
    frame: bytes
    payload_at: int
    end: int

    @property
    def payload(self) -> bytes:
        return self.frame[self.payload_at : self.end]

    @property
    def payload_length(self) -> int:
        return max(self.end - self.payload_at, 0)


class ArpPacket:
    """One Ethernet/IPv4 ARP message."""

    __slots__ = ("op", "sha", "spa", "src_mac", "tha", "tpa", "ts")

    ts: float
    src_mac: bytes  # Ethernet source (may differ from the ARP sender: itself a sign of spoofing)
    op: int  # 1 request, 2 reply
    sha: bytes
    spa: bytes
    tha: bytes
    tpa: bytes


Decoded = IpPacket | ArpPacket


def decode(frame: bytes, linktype: int, ts: float) -> Decoded | None:
    """The headers of one captured frame, or None when no detector could use it."""
    src_mac: bytes | None = None
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        _dst, src_mac, ethertype = _ETH.unpack_from(frame, 0)
        offset = 14
        tags = 0
        while ethertype in _VLAN_TAGS and tags < 2 and len(frame) >= offset + 4:
            (ethertype,) = _U16.unpack_from(frame, offset + 2)
            offset += 4
            tags += 1
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        (ethertype,) = _U16.unpack_from(frame, 14)
        if frame[4:6] == b"\x00\x06":  # link-layer address length 6: an Ethernet source address
            src_mac = frame[6:12]
        offset = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        (ethertype,) = _U16.unpack_from(frame, 0)
        if frame[11] == 6:
            src_mac = frame[12:18]
        offset = 20
    elif linktype in _RAW_ALIASES or linktype in (LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not frame:
            return None
        ethertype = ETH_IPV6 if frame[0] >> 4 == 6 else ETH_IPV4
        offset = 0
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return None
        family = int.from_bytes(frame[:4], "big" if linktype == LINKTYPE_LOOP else "little")
        if family > 0xFFFF:  # written on a host of the other byte order
            family = int.from_bytes(frame[:4], "little" if linktype == LINKTYPE_LOOP else "big")
        ethertype = ETH_IPV4 if family == socket.AF_INET else ETH_IPV6 if family in (10, 24, 28, 30) else 0
        offset = 4
    else:
        return None

    if ethertype == ETH_IPV4:
        return _ipv4(frame, offset, ts, src_mac)
    if ethertype == ETH_IPV6:
        return _ipv6(frame, offset, ts, src_mac)
    if ethertype == ETH_ARP and src_mac is not None:
        return _arp(frame, offset, ts, src_mac)
    return None


def _ipv4(frame: bytes, offset: int, ts: float, src_mac: bytes | None) -> IpPacket | None:
    if len(frame) < offset + 20:
        return None
    ver_ihl, total, fragment, proto, src, dst = _IPV4.unpack_from(frame, offset)
    if ver_ihl >> 4 != 4 or fragment & 0x1FFF or proto not in (PROTO_TCP, PROTO_UDP):
        return None  # later fragments carry no L4 header
    end = min(offset + total, len(frame)) if total else len(frame)
    return _transport(frame, offset + (ver_ihl & 0x0F) * 4, end, proto, src, dst, ts, src_mac)


def _ipv6(frame: bytes, offset: int, ts: float, src_mac: bytes | None) -> IpPacket | None:
    if len(frame) < offset + 40:
        return None
    length, proto, src, dst = _IPV6.unpack_from(frame, offset)
    end = min(offset + 40 + length, len(frame))
    pos = offset + 40
    for _ in range(_MAX_EXTENSIONS):
        if proto in (PROTO_TCP, PROTO_UDP):
            return _transport(frame, pos, end, proto, src, dst, ts, src_mac)
        if pos + 8 > end:
            return None
        if proto in _IPV6_EXTENSIONS:
            size = (frame[pos + 1] + 1) * 8
        elif proto == _IPV6_FRAGMENT:
            if _U16.unpack_from(frame, pos + 2)[0] & 0xFFF8:
                return None  # not the first fragment
            size = 8
        elif proto == _IPV6_AH:
            size = (frame[pos + 1] + 2) * 4
        else:
            return None
        proto = frame[pos]
        pos += size
    return None


def _transport(
    frame: bytes, pos: int, end: int, proto: int, src: bytes, dst: bytes, ts: float, src_mac: bytes | None
) -> IpPacket | None:
    pkt = IpPacket()
    if proto == PROTO_TCP:
        if pos + 20 > end:
            return None
        pkt.sport, pkt.dport, data_offset, pkt.flags = _TCP.unpack_from(frame, pos)
        pkt.payload_at = pos + (data_offset >> 4) * 4
        pkt.end = end
    else:
        if pos + 8 > end:
            return None
        pkt.sport, pkt.dport, length = _UDP.unpack_from(frame, pos)
        pkt.flags = 0
        pkt.payload_at = pos + 8
        pkt.end = min(pos + length, end) if length >= 8 else end
    pkt.ts = ts
    pkt.src_mac = src_mac
    pkt.src = src
    pkt.dst = dst
    pkt.proto = proto
    pkt.frame = frame
    return pkt


def _arp(frame: bytes, offset: int, ts: float, src_mac: bytes) -> ArpPacket | None:
    if len(frame) < offset + 28:
        return None
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, offset)
    if htype != 1 or ptype != ETH_IPV4 or hlen != 6 or plen != 4:
        return None
    pkt = ArpPacket()
    pkt.ts = ts
    pkt.src_mac = src_mac
    pkt.op = op
    pkt.sha = sha
    pkt.spa = spa
    pkt.tha = tha
    pkt.tpa = tpa
    return pkt


def ip_text(packed: bytes) -> str:
    """Packed IPv4/IPv6 address as text."""
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


def mac_text(packed: bytes) -> str:
    """A MAC address the way ECS writes it: upper-case hex joined by dashes."""
    return packed.hex("-").upper()


def transport_name(proto: int) -> str:
    return "tcp" if proto == PROTO_TCP else "udp" if proto == PROTO_UDP else str(proto)
