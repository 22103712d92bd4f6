"""The sensor engine: decodes frames, hands each to the detectors that want it, and turns findings
into ECS events.

Time is packet time: windows open and close on capture timestamps, so a pcap replayed a year later
yields the same findings and the same event ids as the live sensor did (id = detector, action, key
and window start). Live capture also calls ``advance`` with the wall clock so windows close while
the link is quiet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.sensor.arp_spoof import ArpSpoofDetector
from collectors.sensor.base import WANTS_ARP, WANTS_TCP, WANTS_UDP, Detector, Finding
from collectors.sensor.cleartext_creds import CleartextCredsDetector
from collectors.sensor.decode import PROTO_TCP, ArpPacket, decode
from collectors.sensor.dns_abuse import DnsAbuseDetector
from collectors.sensor.portscan import PortScanDetector
from sentinel.config import SensorSettings
from sentinel.errors import ConfigError
from sentinel.events import UNATTRIBUTED, Event, event_id, new_event
from sentinel.inventory import Inventory

log = logging.getLogger(__name__)

# The one place a detector is registered: name (as in ``sensor.detectors``) -> constructor.
DETECTORS: dict[str, Callable[[SensorSettings], Detector]] = {
    "portscan": PortScanDetector,
    "arp_spoof": ArpSpoofDetector,
    "dns_abuse": DnsAbuseDetector,
    "cleartext_creds": CleartextCredsDetector,
}
ADVANCE_EVERY = 1.0  # seconds of packet time between checks for ended windows


@dataclass(slots=True)
class SensorStats:
    frames: int = 0
    decoded: int = 0  # frames with headers some detector could use
    findings: int = 0


@dataclass(frozen=True, slots=True)
class Observer:
    """Where the packets were seen, for ``observer.*``: an interface (live) or a capture file."""

    hostname: str | None = None
    interface: str | None = None
    capture_file: str | None = None


class SensorEngine:
    def __init__(
        self,
        settings: SensorSettings,
        inventory: Inventory | None = None,
        *,
        observer: Observer | None = None,
        detectors: Sequence[Detector] | None = None,
    ) -> None:
        self.settings = settings
        self.inventory = inventory
        self.observer = observer or Observer()
        self.detectors: list[Detector] = list(detectors) if detectors is not None else build_detectors(settings)
        self._arp = [d for d in self.detectors if WANTS_ARP in d.wants]
        self._tcp = [d for d in self.detectors if WANTS_TCP in d.wants]
        self._udp = [d for d in self.detectors if WANTS_UDP in d.wants]
        self._findings: list[Finding] = []
        self._next_advance = 0.0
        self.stats = SensorStats()

    def bpf_filter(self) -> str:
        """The kernel filter for live capture: the union of what the enabled detectors need."""
        return " or ".join(f"({d.bpf()})" for d in self.detectors)

    # input -----------------------------------------------------------------------------------
    def feed(self, frame: bytes, linktype: int, ts: float) -> None:
        """One captured frame; findings accumulate until ``drain``."""
        self.stats.frames += 1
        pkt = decode(frame, linktype, ts)
        if pkt is None:
            return
        self.stats.decoded += 1
        out = self._findings
        if isinstance(pkt, ArpPacket):
            for d in self._arp:
                d.on_arp(pkt, out)
        else:
            for d in self._tcp if pkt.proto == PROTO_TCP else self._udp:
                d.on_ip(pkt, out)
        if ts >= self._next_advance:
            self.advance(ts)

    def feed_all(self, frames: Iterable[tuple[float, int, bytes]]) -> None:
        feed = self.feed
        for ts, linktype, frame in frames:
            feed(frame, linktype, ts)

    def advance(self, now: float) -> None:
        """Close every window that ended before ``now``."""
        for d in self.detectors:
            d.advance(now, self._findings)
        self._next_advance = now + ADVANCE_EVERY

    def flush(self) -> None:
        """End of input: close all open windows."""
        for d in self.detectors:
            d.flush(self._findings)

    # output ----------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return len(self._findings)

    def drain(self) -> list[Event]:
        """The findings so far, as events (and forget them)."""
        findings, self._findings = self._findings, []
        self.stats.findings += len(findings)
        return [self.to_event(f) for f in findings]

    def state_size(self) -> int:
        return sum(d.state_size() for d in self.detectors)

    def to_event(self, finding: Finding) -> Event:
        dataset = f"sensor.{finding.detector}"
        fields: dict[str, Any] = {k: v for k, v in finding.fields.items() if k != "sensor"}
        event: dict[str, Any] = dict(fields.get("event") or {})
        event.update(
            kind=finding.kind,
            category=["network"],
            type=list(finding.event_type),
            action=finding.action,
            severity=finding.severity,
            provider="sentinel-sensor",
        )
        fields["event"] = event
        fields["message"] = finding.message
        sensor = dict(finding.fields.get("sensor") or {})
        sensor["detector"] = finding.detector
        sensor["window_start"] = event.get("start")
        fields["sentinel"] = {"sensor": sensor}
        if finding.technique is not None or finding.tactic is not None:
            threat: dict[str, Any] = {"framework": "MITRE ATT&CK"}
            if finding.technique is not None:
                threat["technique"] = {"id": [finding.technique[0]], "name": [finding.technique[1]]}
            if finding.tactic is not None:
                threat["tactic"] = {"id": [finding.tactic[0]], "name": [finding.tactic[1]]}
            fields["threat"] = threat
        fields["observer"] = self._observer_fields()
        fields["agent"] = {"type": "sentinel", "name": "sentinel-sensor"}
        institution = None
        if self.inventory is not None:
            for address in finding.affected:
                institution = self.inventory.attribute(address)
                if institution is not None:
                    break
        if institution is not None:
            fields["organization"] = {"id": institution.id, "name": institution.name}
        else:
            fields["tags"] = [UNATTRIBUTED]
        timestamp = datetime.fromtimestamp(finding.timestamp, tz=UTC)
        # ``event_id``: owned by the institution it concerns (else the sensor), identified by the
        # detector, what it found and its window, so a replayed capture gives the same findings.
        finding_id = event_id(
            institution.id if institution is not None else None,
            "sensor",
            f"{finding.action}|{finding.key}|{finding.window_start:.6f}",
            dataset,
        )
        return new_event(event_id=finding_id, timestamp=timestamp, dataset=dataset, fields=fields)

    def _observer_fields(self) -> dict[str, Any]:
        observer: dict[str, Any] = {"type": "sensor", "vendor": "Sentinel", "product": "sentinel-sensor"}
        if self.observer.hostname:
            observer["hostname"] = self.observer.hostname
        if self.observer.interface:
            observer["ingress"] = {"interface": {"name": self.observer.interface}}
        if self.observer.capture_file:
            observer["name"] = self.observer.capture_file
        return observer


def build_detectors(settings: SensorSettings) -> list[Detector]:
    detectors = []
    for name in dict.fromkeys(settings.detectors):
        factory = DETECTORS.get(name)
        if factory is None:
            raise ConfigError(f"unknown sensor detector {name!r}; known: {', '.join(DETECTORS)}")
        detectors.append(factory(settings))
    if not detectors:
        raise ConfigError("the sensor needs at least one detector (sensor.detectors is empty)")
    return detectors
