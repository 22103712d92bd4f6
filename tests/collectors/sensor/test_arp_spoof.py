"""ARP spoofing (an address's MAC changes) and gratuitous ARP floods, from crafted ARP frames."""

from __future__ import annotations

from collectors.sensor.arp_spoof import ArpSpoofDetector
from collectors.sensor.engine import SensorEngine
from sentinel.config import SensorSettings
from sentinel.inventory import Institution, Inventory
from tests.collectors.sensor.frames import arp_reply, gratuitous_arp, run

GATEWAY = "10.20.0.1"
REAL_MAC = "02:00:00:00:00:01"
EVIL_MAC = "02:00:00:00:0b:ad"


def test_mac_change_is_spoofing_once_per_window() -> None:
    inventory = Inventory([Institution(id="min-health", name="Ministry of Health", networks=["10.20.0.0/16"])])
    engine = SensorEngine(SensorSettings(arp_window_seconds=60), inventory)
    frames = [(1.0, arp_reply(GATEWAY, REAL_MAC))]
    frames += [(2.0 + i, arp_reply(GATEWAY, EVIL_MAC)) for i in range(10)]  # poisoning every second
    frames += [(3.5, arp_reply(GATEWAY, REAL_MAC))]  # the real gateway answers: same pair, same finding
    events = run(engine, frames)
    assert [e.get("event.action") for e in events] == ["arp_spoofing"]
    event = events[0]
    assert event.dataset == "sensor.arp_spoof"
    assert event.get("source.ip") == GATEWAY
    assert event.get("source.mac") == "02-00-00-00-0B-AD"
    assert event.get("sentinel.sensor.previous_mac") == "02-00-00-00-00-01"
    assert event.get("threat.technique.id") == ["T1557.002"]
    assert event.get("organization.id") == "min-health"
    assert event.get("event.kind") == "alert"


def test_spoofing_is_reported_again_in_a_later_window() -> None:
    engine = SensorEngine(SensorSettings(arp_window_seconds=30))
    frames = [(0.0, arp_reply(GATEWAY, REAL_MAC)), (1.0, arp_reply(GATEWAY, EVIL_MAC))]
    frames += [(100.0, arp_reply(GATEWAY, REAL_MAC)), (101.0, arp_reply(GATEWAY, EVIL_MAC))]
    events = run(engine, frames)
    assert len(events) == 2 and events[0].id != events[1].id


def test_stable_bindings_and_probes_are_quiet() -> None:
    engine = SensorEngine(SensorSettings())
    frames = [(float(i), arp_reply(f"10.20.0.{i}", f"02:00:00:00:01:{i:02x}")) for i in range(2, 30)]
    frames += [(40.0, arp_reply(GATEWAY, REAL_MAC)), (41.0, arp_reply(GATEWAY, REAL_MAC))]
    frames += [(42.0, arp_reply("0.0.0.0", EVIL_MAC)), (43.0, arp_reply("0.0.0.0", REAL_MAC))]  # ARP probes
    assert run(engine, frames) == []


def test_gratuitous_arp_flood_counts_the_window() -> None:
    engine = SensorEngine(SensorSettings(arp_gratuitous_threshold=20, arp_window_seconds=10))
    flood = [(100.0 + i * 0.1, gratuitous_arp(f"10.20.0.{i % 5 + 1}", EVIL_MAC)) for i in range(40)]
    boot = [(100.0, gratuitous_arp("10.20.9.9", REAL_MAC))]  # one announcement at boot is normal
    events = [e for e in run(engine, boot + flood) if e.get("event.action") == "gratuitous_arp_flood"]
    assert len(events) == 1
    assert events[0].get("source.mac") == "02-00-00-00-0B-AD"
    assert events[0].get("sentinel.sensor.gratuitous_arp_count") == 40
    assert sorted(events[0].get("sentinel.sensor.claimed_ips")) == [f"10.20.0.{i}" for i in range(1, 6)]


def test_binding_table_is_bounded() -> None:
    settings = SensorSettings(max_tracked=100)
    detector = ArpSpoofDetector(settings)
    engine = SensorEngine(settings, detectors=[detector])
    template = arp_reply("10.20.0.0", REAL_MAC)
    for i in range(3000):
        frame = bytearray(template)
        frame[28:32] = bytes((10, 20, i // 256, i % 256))  # ARP sender protocol address
        engine.feed(bytes(frame), 1, float(i))
        assert detector.state_size() <= 3 * 100
    assert engine.drain() == []
