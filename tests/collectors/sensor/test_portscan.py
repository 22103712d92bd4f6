"""Port scans and host sweeps: real masscan/nmap captures, crafted probes, and bounded state."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors.sensor.engine import SensorEngine
from collectors.sensor.pcap_import import findings_from_pcap
from collectors.sensor.portscan import PortScanDetector
from sentinel.config import SensorSettings
from tests.collectors.sensor.frames import rewrite, run, syn, syn6, udp

ESNET = "pcaps/esnet-curated"


def _readme_command(readme: Path, capture: str) -> str:
    """The scanner command the capture's README gives for ``capture``."""
    text = readme.read_text()
    section = text[text.index(capture) :]
    match = re.search(r"\*\*Command\*\*: `([^`]+)`", section)
    assert match, f"no command for {capture} in {readme}"
    return match.group(1)


def _ports_in_command(command: str) -> tuple[str, set[int]]:
    """(transport, ports) from an ``-p`` option: ``-p0-1000``, ``-pU:0-1000``, ``-p 80``."""
    match = re.search(r"-p\s*(U:)?([\d,-]+)", command)
    assert match, command
    ports: set[int] = set()
    for part in match.group(2).split(","):
        low, _, high = part.partition("-")
        ports.update(range(int(low), int(high or low) + 1))
    return ("udp" if match.group(1) else "tcp"), ports


@pytest.mark.shared_data
@pytest.mark.parametrize("capture", ["tcp_0_1000_20190821.pcap", "udp_0_1000_20190821.pcap"])
def test_masscan_sweep_is_one_port_scan_with_the_readme_port_count(shared_data: Path, capture: str) -> None:
    folder = shared_data / ESNET / "masscan"
    transport, ports = _ports_in_command(_readme_command(folder / "README.md", capture))
    assert len(ports) == 1001  # masscan -p0-1000
    events = list(findings_from_pcap(folder / capture))
    scans = [e for e in events if e.get("event.action") == "port_scan"]
    assert len(scans) == 1, [e.message for e in events]
    scan = scans[0]
    assert scan.dataset == "sensor.portscan"
    assert scan.get("source.ip") == "172.31.15.102"  # the one sender in the capture
    assert scan.get("destination.ip") == "198.124.152.15"
    assert scan.get("network.transport") == transport
    assert scan.get("sentinel.sensor.distinct_ports") == len(ports)
    assert (scan.get("sentinel.sensor.lowest_port"), scan.get("sentinel.sensor.highest_port")) == (
        min(ports),
        max(ports),
    )
    assert scan.get("event.kind") == "alert"
    assert scan.get("event.category") == ["network"]
    assert scan.get("threat.technique.id") == ["T1046"]
    assert not [e for e in events if e.get("event.action") == "host_sweep"]  # one target host only


@pytest.mark.shared_data
@pytest.mark.parametrize("capture", ["nmap_80_vanilla.pcap", "nmap_80_w_service_detection.pcap", "nmap_80_all.pcap"])
def test_single_port_nmap_runs_are_not_port_scans(shared_data: Path, capture: str) -> None:
    # The README's commands scan one port (-p 80); nmap's host discovery adds a probe to 443.
    # Two ports on one host is far below any scan threshold: no port-scan or sweep finding.
    folder = shared_data / ESNET / "nmap"
    transport, ports = _ports_in_command(_readme_command(folder / "README.md", capture))
    assert (transport, ports) == ("tcp", {80})
    events = list(findings_from_pcap(folder / capture))
    assert not [e for e in events if e.dataset == "sensor.portscan"]


@pytest.mark.shared_data
def test_rereading_a_capture_gives_the_same_event_ids(shared_data: Path) -> None:
    path = shared_data / ESNET / "masscan/udp_0_1000_20190821.pcap"
    first = [e.id for e in findings_from_pcap(path)]
    second = [e.id for e in findings_from_pcap(path)]
    assert first == second and len(first) == 1


def test_threshold_and_window() -> None:
    settings = SensorSettings(portscan_min_ports=10, portscan_window_seconds=60)
    # 9 ports: below the threshold, nothing.
    below = run(SensorEngine(settings), [(100.0 + i, syn("10.9.0.5", "10.0.0.1", 20 + i)) for i in range(9)])
    assert below == []
    # 12 ports spread over two windows (6 each): nothing either, each window is below.
    spread = [(100.0 + i, syn("10.9.0.5", "10.0.0.1", 20 + i)) for i in range(6)]
    spread += [(200.0 + i, syn("10.9.0.5", "10.0.0.1", 40 + i)) for i in range(6)]
    assert run(SensorEngine(settings), spread) == []
    # 10 distinct ports (with repeats) in one window: one finding counting distinct ports, not packets.
    probes = [(100.0 + i, syn("10.9.0.5", "10.0.0.1", 20 + i % 10)) for i in range(30)]
    [event] = run(SensorEngine(settings), probes)
    assert event.get("sentinel.sensor.distinct_ports") == 10
    assert event.get("sentinel.sensor.window_packets") == 30


def test_replies_and_established_traffic_are_not_probes() -> None:
    settings = SensorSettings(portscan_min_ports=5)
    frames = [(1.0 + i, syn("10.0.0.1", "10.9.0.5", 30000 + i, sport=80, flags="SA")) for i in range(20)]
    frames += [(1.0 + i, syn("10.0.0.1", "10.9.0.5", 30000 + i, sport=80, flags="R")) for i in range(20)]
    frames += [(1.0 + i, udp("10.0.0.53", "10.9.0.5", 30000 + i, sport=53)) for i in range(20)]  # DNS answers
    frames += [(1.0 + i, udp("10.9.0.5", "224.0.0.251", 1000 + i)) for i in range(20)]  # multicast
    assert run(SensorEngine(settings), frames) == []


def test_host_sweep_and_ipv6() -> None:
    settings = SensorSettings(portscan_min_hosts=8, portscan_min_ports=8)
    sweep = [(5.0 + i * 0.1, syn("10.9.0.5", f"10.0.1.{i}", 22)) for i in range(1, 21)]
    scan6 = [(5.0 + i * 0.1, syn6("2001:db8::bad", "2001:db8::1", 1000 + i)) for i in range(12)]
    events = run(SensorEngine(settings), sweep + scan6)
    by_action = {e.get("event.action"): e for e in events}
    assert set(by_action) == {"host_sweep", "port_scan"}
    assert by_action["host_sweep"].get("destination.port") == 22
    assert by_action["host_sweep"].get("sentinel.sensor.distinct_hosts") == 20
    assert by_action["port_scan"].get("source.ip") == "2001:db8::bad"
    assert by_action["port_scan"].get("network.type") == "ipv6"


def test_window_closes_on_later_packet_time_without_flush() -> None:
    settings = SensorSettings(portscan_min_ports=5, portscan_window_seconds=10)
    engine = SensorEngine(settings)
    frames = [(100.0 + i * 0.1, syn("10.9.0.5", "10.0.0.1", 1 + i)) for i in range(6)]
    frames.append((200.0, syn("10.8.0.8", "10.0.0.2", 5)))  # unrelated traffic moves packet time on
    events = run(engine, frames, flush=False)
    assert [e.get("event.action") for e in events] == ["port_scan"]


def test_source_table_never_exceeds_its_cap_and_reports_evicted_scanners() -> None:
    settings = SensorSettings(max_tracked=64, portscan_min_ports=5)
    detector = PortScanDetector(settings)
    engine = SensorEngine(settings, detectors=[detector])
    # A real scanner first, then 5,000 spoofed one-packet sources push it out of the table.
    for port in range(1, 11):
        engine.feed(syn("10.66.0.1", "10.0.0.1", port), 1, 10.0)
    peak = 0
    template = syn("10.100.0.0", "10.0.0.1", 80)
    for i in range(5000):
        engine.feed(rewrite(template, src=f"10.100.{i // 256}.{i % 256}"), 1, 11.0)
        peak = max(peak, detector.state_size())
    assert peak == 64
    events = engine.drain()
    # The scanner crossed the threshold before it was evicted: it is reported, not lost.
    assert [(e.get("source.ip"), e.get("sentinel.sensor.distinct_ports")) for e in events] == [("10.66.0.1", 10)]
    assert detector.evictions_unreported == 5000 - 64


def test_pair_budget_bounds_memory_and_marks_truncation() -> None:
    settings = SensorSettings(portscan_max_pairs=1024, portscan_min_ports=100)
    detector = PortScanDetector(settings)
    engine = SensorEngine(settings, detectors=[detector])
    template = syn("10.66.0.1", "10.0.0.1", 0)
    for port in range(3000):
        engine.feed(rewrite(template, dport=port), 1, 10.0)
        assert detector.pairs_tracked <= 1024
    [event] = run(engine, [])
    assert event.get("sentinel.sensor.distinct_ports") == 1024
    assert event.get("sentinel.sensor.truncated") is True
    assert detector.pairs_tracked == 0  # closing the window gives its pairs back
