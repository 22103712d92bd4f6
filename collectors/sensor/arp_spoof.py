"""ARP spoofing (an IP address's MAC changes) and gratuitous ARP floods.

The detector learns IP → MAC bindings from the sender fields of every ARP request and reply. A
binding that changes is reported at once (``arp_spoofing``), once per address and MAC pair per
window, so an attacker re-poisoning a cache every second is one finding, not thousands. A
legitimate change (a replaced network card, a VRRP/HSRP fail-over) is reported too: the analyst
closes it, or the rules suppress it for known virtual addresses.

Gratuitous ARP (sender address = target address) is normal once at boot; many from one MAC within
``arp_window_seconds`` is ``gratuitous_arp_flood``, reported when the window ends with the count.
"""

from __future__ import annotations

from typing import Any

from collectors.sensor.base import WANTS_ARP, BoundedLRU, CountWindow, Deduper, Finding, WindowCounter, iso
from collectors.sensor.decode import ArpPacket, IpPacket, ip_text, mac_text
from sentinel.config import SensorSettings

NAME = "arp_spoof"
TECHNIQUE = ("T1557.002", "ARP Cache Poisoning")
TACTIC = ("TA0006", "Credential Access")
_UNSPECIFIED = b"\x00\x00\x00\x00"


class ArpSpoofDetector:
    name = NAME
    wants = frozenset({WANTS_ARP})

    def __init__(self, settings: SensorSettings) -> None:
        self.window = settings.arp_window_seconds
        self._bindings: BoundedLRU[bytes, bytes] = BoundedLRU(settings.max_tracked)
        self._reported = Deduper(self.window, settings.max_tracked)
        self._gratuitous = WindowCounter(
            self.window, settings.arp_gratuitous_threshold, settings.max_tracked, self._flood_finding
        )

    def bpf(self) -> str:
        return "arp"

    def on_ip(self, pkt: IpPacket, out: list[Finding]) -> None:
        return

    def on_arp(self, pkt: ArpPacket, out: list[Finding]) -> None:
        spa, sha = pkt.spa, pkt.sha
        if spa == _UNSPECIFIED:
            return  # an ARP probe (address conflict detection) claims nothing
        if spa == pkt.tpa:
            self._gratuitous.add(sha, pkt.ts, out, sample=ip_text(spa))
        previous = self._bindings.get(spa)
        self._bindings.put(spa, sha)
        if previous is None or previous == sha:
            return
        pair = (previous, sha) if previous < sha else (sha, previous)
        start = self._reported.first_sighting((spa, pair), pkt.ts)
        if start is None:
            return
        ip, old, new = ip_text(spa), mac_text(previous), mac_text(sha)
        fields: dict[str, Any] = {
            "source": {"ip": ip, "mac": new},
            "destination": {"ip": ip_text(pkt.tpa), "mac": mac_text(pkt.tha)},
            "network": {"type": "ipv4", "protocol": "arp"},
            "event": {"start": iso(pkt.ts), "end": iso(pkt.ts)},
            "sensor": {
                "previous_mac": old,
                "arp_operation": "reply" if pkt.op == 2 else "request" if pkt.op == 1 else str(pkt.op),
                "ethernet_source_mac": mac_text(pkt.src_mac),
            },
        }
        out.append(
            Finding(
                detector=NAME,
                action="arp_spoofing",
                key=f"{ip}|{mac_text(pair[0])}|{mac_text(pair[1])}",
                window_start=start,
                timestamp=pkt.ts,
                message=f"ARP: {ip} moved from {old} to {new} (possible ARP spoofing)",
                fields=fields,
                affected=(ip,),
                event_type=("protocol", "change"),
                technique=TECHNIQUE,
                tactic=TACTIC,
                severity=73,
            )
        )

    def _flood_finding(self, mac: bytes, win: CountWindow, out: list[Finding]) -> None:
        text = mac_text(mac)
        out.append(
            Finding(
                detector=NAME,
                action="gratuitous_arp_flood",
                key=text,
                window_start=win.start,
                timestamp=win.last,
                message=f"{win.count} gratuitous ARP messages from {text} in {self.window:g} s",
                fields={
                    "source": {"mac": text, **({"ip": win.samples[0]} if win.samples else {})},
                    "network": {"type": "ipv4", "protocol": "arp"},
                    "event": {"start": iso(win.start), "end": iso(win.last)},
                    "sensor": {"gratuitous_arp_count": win.count, "claimed_ips": list(win.samples)},
                },
                affected=tuple(win.samples),
                event_type=("protocol",),
                technique=TECHNIQUE,
                tactic=TACTIC,
                severity=47,
            )
        )

    def advance(self, now: float, out: list[Finding]) -> None:
        self._gratuitous.advance(now, out)

    def flush(self, out: list[Finding]) -> None:
        self._gratuitous.flush(out)

    def state_size(self) -> int:
        return len(self._bindings) + len(self._reported) + len(self._gratuitous)
