"""DNS abuse: tunnelling-shaped queries, NXDOMAIN bursts, and queries for blocklisted domains.

- ``dns_long_query``: a query name of at least ``dns_long_name_length`` characters;
- ``dns_high_entropy``: a label of at least ``dns_entropy_min_label_length`` characters whose
  Shannon entropy reaches ``dns_entropy_threshold`` bits per character (encoded data, as DNS
  tunnels such as iodine or dnscat2 send);
- ``dns_blocklisted``: the name or one of its parents is on the blocklist (a text file, one
  domain per line; ``blocklist.txt`` ships with the sensor);
  these three are reported at once, once per client and domain per ``dns_window_seconds``;
- ``dns_nxdomain_burst``: at least ``dns_nxdomain_threshold`` NXDOMAIN answers to one client in a
  window (domain-generation malware), reported when the window ends, with the count.

Plain DNS over UDP and TCP port 53 only: DNS over TLS or HTTPS is opaque to a packet sensor.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from collectors.sensor.base import WANTS_TCP, WANTS_UDP, CountWindow, Deduper, Finding, WindowCounter, iso
from collectors.sensor.decode import PROTO_TCP, ArpPacket, IpPacket, ip_text, transport_name
from collectors.sensor.dns_wire import RCODE_NXDOMAIN, DnsMessage, parse_dns, shannon_entropy
from sentinel.config import SensorSettings
from sentinel.errors import ConfigError, Location

NAME = "dns_abuse"
DNS_PORT = 53
MAX_RESOLVERS = 8
DEFAULT_BLOCKLIST = Path(__file__).with_name("blocklist.txt")
TUNNEL_TECHNIQUE = ("T1071.004", "Application Layer Protocol: DNS")
DGA_TECHNIQUE = ("T1568.002", "Dynamic Resolution: Domain Generation Algorithms")
TACTIC = ("TA0011", "Command and Control")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)


def load_blocklist(path: str | Path) -> frozenset[str]:
    """Domains from a blocklist file; a line that is not a domain name is a ``ConfigError``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the DNS blocklist: {exc}", Location(str(path))) from exc
    domains = set()
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip().lower().rstrip(".")
        if not entry or entry.startswith("#"):
            continue
        if not _DOMAIN.match(entry):
            raise ConfigError(f"not a domain name: {line.strip()!r}", Location(str(path), number))
        domains.add(entry)
    return frozenset(domains)


def blocklisted(name: str, blocklist: frozenset[str]) -> str | None:
    """The blocklist entry covering ``name`` (itself or a parent domain), if any."""
    candidate = name
    while candidate:
        if candidate in blocklist:
            return candidate
        dot = candidate.find(".")
        if dot < 0:
            return None
        candidate = candidate[dot + 1 :]
    return None


def _base_domain(labels: tuple[bytes, ...]) -> str:
    # Without the public-suffix list, the last two labels are a fair grouping key for one tunnel.
    return b".".join(labels[-2:]).decode("ascii", "backslashreplace")


class DnsAbuseDetector:
    name = NAME
    wants = frozenset({WANTS_UDP, WANTS_TCP})

    def __init__(self, settings: SensorSettings, blocklist: frozenset[str] | None = None) -> None:
        self.window = settings.dns_window_seconds
        self.long_name = settings.dns_long_name_length
        self.min_label = settings.dns_entropy_min_label_length
        self.entropy_threshold = settings.dns_entropy_threshold
        if blocklist is None:
            blocklist = load_blocklist(settings.dns_blocklist or DEFAULT_BLOCKLIST)
        self.blocklist = blocklist
        self._reported = Deduper(self.window, settings.max_tracked)
        self._nxdomain = WindowCounter(
            self.window, settings.dns_nxdomain_threshold, settings.max_tracked, self._nxdomain_finding
        )

    def bpf(self) -> str:
        return f"udp port {DNS_PORT} or tcp port {DNS_PORT}"

    def on_arp(self, pkt: ArpPacket, out: list[Finding]) -> None:
        return

    def on_ip(self, pkt: IpPacket, out: list[Finding]) -> None:
        if pkt.dport != DNS_PORT and pkt.sport != DNS_PORT:
            return
        data = pkt.payload
        if pkt.proto == PROTO_TCP:
            # One message per segment is the common case; a message split over segments is skipped.
            if len(data) < 14 or int.from_bytes(data[:2], "big") > len(data) - 2:
                return
            data = data[2:]
        msg = parse_dns(data)
        if msg is None or msg.opcode != 0:
            return
        if msg.is_response:
            if msg.rcode == RCODE_NXDOMAIN:
                win = self._nxdomain.add(pkt.dst, pkt.ts, out, sample=msg.name)
                if len(win.extra) < MAX_RESOLVERS:
                    win.extra[pkt.src] = True  # the resolvers that answered, for the analyst
            return
        if pkt.dport == DNS_PORT:
            self._query(pkt, msg, out)

    def _query(self, pkt: IpPacket, msg: DnsMessage, out: list[Finding]) -> None:
        name = msg.name
        if len(name) >= self.long_name:
            self._report(pkt, msg, "dns_long_query", _base_domain(msg.labels), {"name_length": len(name)}, out)
        for label in msg.labels:
            if len(label) >= self.min_label:
                entropy = shannon_entropy(label)
                if entropy >= self.entropy_threshold:
                    extra = {"label_entropy": round(entropy, 3), "label_length": len(label)}
                    self._report(pkt, msg, "dns_high_entropy", _base_domain(msg.labels), extra, out)
                    break
        entry = blocklisted(name, self.blocklist)
        if entry is not None:
            self._report(pkt, msg, "dns_blocklisted", entry, {"blocklist_entry": entry}, out)

    def _report(
        self, pkt: IpPacket, msg: DnsMessage, action: str, domain: str, extra: dict[str, Any], out: list[Finding]
    ) -> None:
        client = ip_text(pkt.src)
        start = self._reported.first_sighting((action, pkt.src, domain), pkt.ts)
        if start is None:
            return
        server = ip_text(pkt.dst)
        what = {
            "dns_long_query": f"a {len(msg.name)}-character DNS name",
            "dns_high_entropy": "a high-entropy DNS label (possible DNS tunnelling)",
            "dns_blocklisted": f"a blocklisted domain ({domain})",
        }[action]
        blocklist_hit = action == "dns_blocklisted"
        out.append(
            Finding(
                detector=NAME,
                action=action,
                key=f"{client}|{domain}",
                window_start=start,
                timestamp=pkt.ts,
                message=f"{client} queried {what}: {msg.name[:120]}",
                fields={
                    "source": {"ip": client, "port": pkt.sport},
                    "destination": {"ip": server, "port": pkt.dport},
                    "network": {"transport": transport_name(pkt.proto), "protocol": "dns"},
                    "dns": {
                        "type": "query",
                        "question": {"name": msg.name, "registered_domain": domain},
                    },
                    "event": {"start": iso(pkt.ts), "end": iso(pkt.ts)},
                    "sensor": extra,
                },
                affected=(client,),
                event_type=("protocol",),
                technique=None if blocklist_hit else TUNNEL_TECHNIQUE,
                tactic=TACTIC,
                severity=73 if blocklist_hit else 47,
            )
        )

    def _nxdomain_finding(self, client: bytes, win: CountWindow, out: list[Finding]) -> None:
        text = ip_text(client)
        out.append(
            Finding(
                detector=NAME,
                action="dns_nxdomain_burst",
                key=text,
                window_start=win.start,
                timestamp=win.last,
                message=f"{text} received {win.count} NXDOMAIN answers in {self.window:g} s",
                fields={
                    "source": {"ip": text},
                    "network": {"protocol": "dns"},
                    "dns": {"response_code": "NXDOMAIN", "question": {"name": win.samples[0]}},
                    "event": {"start": iso(win.start), "end": iso(win.last)},
                    "sensor": {
                        "nxdomain_count": win.count,
                        "names_sample": list(win.samples),
                        "resolvers": sorted(ip_text(r) for r in win.extra),
                    },
                },
                affected=(text,),
                event_type=("protocol",),
                technique=DGA_TECHNIQUE,
                tactic=TACTIC,
                severity=47,
            )
        )

    def advance(self, now: float, out: list[Finding]) -> None:
        self._nxdomain.advance(now, out)

    def flush(self, out: list[Finding]) -> None:
        self._nxdomain.flush(out)

    def state_size(self) -> int:
        return len(self._reported) + len(self._nxdomain)
