"""Kernel firewall log lines."""

from __future__ import annotations

from typing import Any

from collectors.parsers import firewall

UFW = (
    "[ 1234.567890] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.9 "
    "DST=10.1.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=0 DF PROTO=TCP SPT=4444 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0"
)


def blank() -> dict[str, Any]:
    return {"event": {}, "log": {}, "observer": {"hostname": "s", "type": "sentinel"}}


def test_ufw_block() -> None:
    doc = blank()
    assert firewall.parse(UFW, doc) == "iptables.log"
    assert doc["source"] == {"address": "203.0.113.9", "ip": "203.0.113.9", "port": 4444, "mac": "66-77-88-99-AA-BB"}
    assert doc["destination"]["port"] == 22
    assert doc["destination"]["mac"] == "00-11-22-33-44-55"
    assert doc["network"] == {"transport": "tcp", "type": "ipv4"}
    assert doc["observer"]["ingress"] == {"interface": {"name": "eth0"}}
    assert doc["event"]["action"] == "firewall_block"
    assert doc["event"]["type"] == ["connection", "denied"]
    assert "SYN" in doc["iptables"]["tcp"]["flags"]


def test_iptables_accept_ipv6_udp_and_plain_kernel_lines() -> None:
    doc = blank()
    line = "ACCEPT-DNS: IN=eth1 OUT=eth0 SRC=2001:db8::1 DST=2001:db8::2 LEN=80 PROTO=UDP SPT=5353 DPT=53 LEN=40"
    assert firewall.parse(line, doc) == "iptables.log"
    assert doc["event"]["action"] == "firewall_allow"
    assert doc["network"] == {"transport": "udp", "type": "ipv6"}
    assert doc["observer"]["egress"] == {"interface": {"name": "eth0"}}
    doc = blank()
    firewall.parse("nft-log IN=eth0 OUT= SRC=198.51.100.1 DST=10.0.0.1 PROTO=ICMP TYPE=8 CODE=0", doc)
    assert doc["event"]["action"] == "firewall_log"
    assert firewall.parse("EXT4-fs (sda1): mounted filesystem", blank()) is None
