"""Real packets built with scapy, as the raw Ethernet frames a capture would hold."""

from __future__ import annotations

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from collectors.sensor.engine import SensorEngine

ETHERNET = 1
ATTACKER_MAC = "02:00:00:00:0b:ad"
VICTIM_MAC = "02:00:00:00:00:01"


def syn(src: str, dst: str, dport: int, sport: int = 40000, flags: str = "S") -> bytes:
    return bytes(
        Ether(src=ATTACKER_MAC, dst=VICTIM_MAC) / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags)
    )


def syn6(src: str, dst: str, dport: int) -> bytes:
    return bytes(
        Ether(src=ATTACKER_MAC, dst=VICTIM_MAC) / IPv6(src=src, dst=dst) / TCP(sport=40000, dport=dport, flags="S")
    )


def udp(src: str, dst: str, dport: int, sport: int = 40000, payload: bytes = b"") -> bytes:
    return bytes(
        Ether(src=ATTACKER_MAC, dst=VICTIM_MAC) / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload
    )


def tcp_data(src: str, dst: str, dport: int, data: bytes, sport: int = 41000) -> bytes:
    return bytes(
        Ether(src=ATTACKER_MAC, dst=VICTIM_MAC)
        / IP(src=src, dst=dst)
        / TCP(sport=sport, dport=dport, flags="PA")
        / Raw(data)
    )


def arp_reply(ip: str, mac: str, target_ip: str = "10.0.0.9", target_mac: str = VICTIM_MAC) -> bytes:
    return bytes(Ether(src=mac, dst=target_mac) / ARP(op=2, hwsrc=mac, psrc=ip, hwdst=target_mac, pdst=target_ip))


def gratuitous_arp(ip: str, mac: str) -> bytes:
    return bytes(
        Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)
    )


def dns_query(client: str, name: str, server: str = "10.0.0.53", sport: int = 53000) -> bytes:
    return bytes(
        Ether(src=ATTACKER_MAC, dst=VICTIM_MAC)
        / IP(src=client, dst=server)
        / UDP(sport=sport, dport=53)
        / DNS(id=1, rd=1, qd=DNSQR(qname=name))
    )


def dns_nxdomain(client: str, name: str, server: str = "10.0.0.53") -> bytes:
    return bytes(
        Ether(src=VICTIM_MAC, dst=ATTACKER_MAC)
        / IP(src=server, dst=client)
        / UDP(sport=53, dport=53000)
        / DNS(id=1, qr=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname=name))
    )


def rewrite(frame: bytes, *, src: str | None = None, dport: int | None = None) -> bytes:
    """A copy of an Ethernet/IPv4 frame with another source address or destination port.

    Building thousands of frames with scapy takes seconds; the sensor never checks checksums,
    so rewriting a scapy-built template is an honest and fast way to vary a field.
    """
    out = bytearray(frame)
    if src is not None:
        out[26:30] = bytes(int(part) for part in src.split("."))
    if dport is not None:
        ihl = (out[14] & 0x0F) * 4
        out[14 + ihl + 2 : 14 + ihl + 4] = dport.to_bytes(2, "big")
    return bytes(out)


def run(engine: SensorEngine, frames: list[tuple[float, bytes]], flush: bool = True) -> list:
    """Feed (timestamp, frame) pairs; the events made (after closing all windows when ``flush``)."""
    for ts, frame in frames:
        engine.feed(frame, ETHERNET, ts)
    if flush:
        engine.flush()
    return engine.drain()
