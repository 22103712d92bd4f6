"""The struct decoder reads the same header values scapy's full dissection does."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from collectors.sensor.decode import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_RAW,
    PROTO_TCP,
    PROTO_UDP,
    TCP_ACK,
    TCP_SYN,
    ArpPacket,
    IpPacket,
    decode,
    ip_text,
    mac_text,
)


def test_ipv4_tcp_matches_scapy() -> None:
    pkt = (
        Ether(src="02:aa:bb:cc:dd:ee")
        / IP(src="192.0.2.1", dst="198.51.100.7")
        / TCP(sport=1234, dport=443, flags="SA")
    )
    got = decode(bytes(pkt), LINKTYPE_ETHERNET, 12.5)
    assert isinstance(got, IpPacket)
    assert (ip_text(got.src), ip_text(got.dst)) == ("192.0.2.1", "198.51.100.7")
    assert (got.proto, got.sport, got.dport) == (PROTO_TCP, 1234, 443)
    assert got.flags == TCP_SYN | TCP_ACK == int(pkt[TCP].flags)
    assert mac_text(got.src_mac or b"") == "02-AA-BB-CC-DD-EE"
    assert got.ts == 12.5
    assert got.payload == b""


def test_ethernet_padding_is_not_payload() -> None:
    # A bare UDP datagram is padded to 60 bytes on the wire; the padding must not look like data.
    frame = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5, dport=6) / b"hi")
    frame += b"\x00" * (60 - len(frame))
    got = decode(frame, LINKTYPE_ETHERNET, 0.0)
    assert isinstance(got, IpPacket)
    assert got.payload == b"hi"


def test_tcp_payload_after_options() -> None:
    pkt = Ether() / IP() / TCP(options=[("MSS", 1460), ("NOP", None), ("WScale", 7)]) / Raw(b"USER bob\r\n")
    got = decode(bytes(pkt), LINKTYPE_ETHERNET, 0.0)
    assert isinstance(got, IpPacket)
    assert got.payload == b"USER bob\r\n"


def test_ipv6_through_extension_headers() -> None:
    pkt = Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() / UDP(sport=53, dport=9999) / b"x"
    got = decode(bytes(pkt), LINKTYPE_ETHERNET, 0.0)
    assert isinstance(got, IpPacket)
    assert (ip_text(got.src), ip_text(got.dst), got.proto, got.dport) == ("2001:db8::1", "2001:db8::2", PROTO_UDP, 9999)
    assert got.payload == b"x"


def test_later_fragments_have_no_transport_header() -> None:
    frags = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / (b"z" * 3000)
    pieces = [bytes(Ether() / p) for p in fragment(frags, fragsize=1000)]
    assert isinstance(decode(pieces[0], LINKTYPE_ETHERNET, 0.0), IpPacket)
    assert all(decode(p, LINKTYPE_ETHERNET, 0.0) is None for p in pieces[1:])
    later6 = Ether() / IPv6() / IPv6ExtHdrFragment(offset=100, nh=17) / Raw(b"\x00" * 16)
    assert decode(bytes(later6), LINKTYPE_ETHERNET, 0.0) is None


def test_vlan_tagged_frame() -> None:
    pkt = Ether() / Dot1Q(vlan=42) / IP(src="10.1.1.1", dst="10.1.1.2") / TCP(dport=22)
    got = decode(bytes(pkt), LINKTYPE_ETHERNET, 0.0)
    assert isinstance(got, IpPacket) and got.dport == 22


def test_arp_fields() -> None:
    pkt = Ether(src="02:00:00:00:00:0a") / ARP(op=2, hwsrc="02:00:00:00:00:0b", psrc="10.0.0.1", pdst="10.0.0.2")
    got = decode(bytes(pkt), LINKTYPE_ETHERNET, 0.0)
    assert isinstance(got, ArpPacket)
    assert got.op == 2
    assert mac_text(got.sha) == "02-00-00-00-00-0B" and mac_text(got.src_mac) == "02-00-00-00-00-0A"
    assert (ip_text(got.spa), ip_text(got.tpa)) == ("10.0.0.1", "10.0.0.2")


def test_raw_ip_and_linux_cooked_link_types() -> None:
    ip_only = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=80))
    got = decode(ip_only, LINKTYPE_RAW, 0.0)
    assert isinstance(got, IpPacket) and got.dport == 80
    sll = b"\x00\x00\x00\x01\x00\x06" + b"\x02\x00\x00\x00\x00\x07" + b"\x00\x00" + b"\x08\x00" + ip_only
    got = decode(sll, LINKTYPE_LINUX_SLL, 0.0)
    assert isinstance(got, IpPacket) and mac_text(got.src_mac or b"") == "02-00-00-00-00-07"


@pytest.mark.parametrize("cut", [0, 5, 14, 20, 33, 40])
def test_truncated_frames_are_ignored_not_errors(cut: int) -> None:
    frame = bytes(Ether() / IP() / TCP())[:cut]
    assert decode(frame, LINKTYPE_ETHERNET, 0.0) is None


def test_unknown_link_type_and_other_protocols() -> None:
    assert decode(bytes(Ether() / IP() / TCP()), 9999, 0.0) is None
    assert decode(bytes(Ether() / IP(proto=47) / b"gre"), LINKTYPE_ETHERNET, 0.0) is None
