"""The engine: kernel filter built from the detectors (checked with libpcap itself), ECS shape,
institution attribution, deterministic ids."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError
from scapy.layers.l2 import Ether
from scapy.utils import PcapWriter

from collectors.sensor.capture_reader import read_frames
from collectors.sensor.engine import DETECTORS, SensorEngine, build_detectors
from sentinel.config import SensorSettings
from sentinel.errors import ConfigError
from sentinel.events import UNATTRIBUTED
from sentinel.inventory import Institution, Inventory
from tests.collectors.sensor.frames import arp_reply, dns_query, run, syn, tcp_data, udp

INVENTORY = Inventory(
    [
        Institution(id="min-finance", name="Ministry of Finance", networks=["10.50.0.0/16"]),
        Institution(id="tra", name="Revenue Authority", networks=["10.60.0.0/16"]),
    ]
)

# (name, frame, passes the full filter?)
SAMPLES = [
    ("syn", syn("10.9.0.1", "10.50.0.1", 22), True),
    ("syn-ack", syn("10.50.0.1", "10.9.0.1", 40000, sport=22, flags="SA"), False),
    ("ack data to 443", tcp_data("10.9.0.1", "10.50.0.1", 443, b"\x16\x03\x01"), False),
    ("http data", tcp_data("10.9.0.1", "10.50.0.1", 80, b"GET / HTTP/1.1\r\n\r\n"), True),
    ("ftp data", tcp_data("10.9.0.1", "10.50.0.1", 21, b"USER x\r\n"), True),
    ("arp", arp_reply("10.50.0.1", "02:00:00:00:00:01"), True),
    ("dns", dns_query("10.50.0.7", "example.org"), True),
    ("udp probe", udp("10.9.0.1", "10.50.0.1", 161), True),
]


def _tcpdump_passes(tmp_path: Path, bpf: str) -> list[str]:
    """Names of the SAMPLES that libpcap's compiled ``bpf`` accepts (run by tcpdump, as the kernel would)."""
    path = tmp_path / "samples.pcap"
    with PcapWriter(str(path), linktype=1) as writer:
        for _, frame, _ in SAMPLES:
            writer.write(Ether(frame))
    done = subprocess.run(
        ["tcpdump", "-nn", "-r", str(path), "-w", str(tmp_path / "out.pcap"), bpf],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "syntax error" not in done.stderr
    kept = [frame for _, _, frame in read_frames(tmp_path / "out.pcap")]
    return [name for name, frame, _ in SAMPLES if frame in kept]


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is needed to run the compiled filter")
def test_kernel_filter_passes_exactly_what_detectors_need(tmp_path: Path) -> None:
    engine = SensorEngine(SensorSettings())
    assert _tcpdump_passes(tmp_path, engine.bpf_filter()) == [name for name, _, wanted in SAMPLES if wanted]


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is needed to run the compiled filter")
def test_filter_follows_the_enabled_detectors(tmp_path: Path) -> None:
    arp_only = SensorEngine(SensorSettings(detectors=["arp_spoof"]))
    assert arp_only.bpf_filter() == "(arp)"
    assert _tcpdump_passes(tmp_path, arp_only.bpf_filter()) == ["arp"]
    dns_and_creds = SensorEngine(
        SensorSettings(detectors=["dns_abuse", "cleartext_creds"], cleartext_http_ports=[8080])
    )
    assert _tcpdump_passes(tmp_path, dns_and_creds.bpf_filter()) == ["ftp data", "dns"]


def test_filter_compiles_in_libpcap_for_every_detector() -> None:
    from scapy.arch.common import compile_filter

    for name in DETECTORS:
        compile_filter(SensorEngine(SensorSettings(detectors=[name])).bpf_filter(), linktype=1)  # type: ignore[list-item]


def test_event_shape_and_attribution() -> None:
    settings = SensorSettings(portscan_min_ports=5)
    frames = [(1_700_000_000.0 + i, syn("198.51.100.9", "10.50.0.1", 100 + i)) for i in range(6)]  # outside → finance
    frames += [(1_700_000_000.0 + i, syn("10.60.3.3", "203.0.113.5", 100 + i)) for i in range(6)]  # TRA host scans out
    frames += [(1_700_000_000.0 + i, syn("198.51.100.9", "203.0.113.6", 100 + i)) for i in range(6)]  # nobody's
    events = run(SensorEngine(settings, INVENTORY), frames)
    owners = {e.get("destination.ip"): (e.get("organization.id"), e.get("tags")) for e in events}
    assert owners == {
        "10.50.0.1": ("min-finance", None),
        "203.0.113.5": ("tra", None),
        "203.0.113.6": (None, [UNATTRIBUTED]),
    }
    event = events[0]
    assert event.get("event.kind") == "alert"
    assert event.get("event.category") == ["network"]
    assert event.get("event.dataset") == "sensor.portscan"
    assert event.get("event.id") == event.id
    assert event.get("observer.type") == "sensor"
    assert event.get("@timestamp") == "2023-11-14T22:13:25.000Z"  # the last probe of the window
    assert event.get("event.start") == "2023-11-14T22:13:20.000Z"


def test_ids_depend_on_key_and_window_not_on_the_run() -> None:
    settings = SensorSettings(portscan_min_ports=5, portscan_window_seconds=60)
    frames = [(1000.0 + i, syn("10.9.0.1", "10.50.0.1", 100 + i)) for i in range(6)]
    later = [(ts + 3600, f) for ts, f in frames]
    first = run(SensorEngine(settings, INVENTORY), frames)
    again = run(SensorEngine(settings, INVENTORY), frames)
    next_hour = run(SensorEngine(settings, INVENTORY), later)
    assert [e.id for e in first] == [e.id for e in again]
    assert first[0].id != next_hour[0].id
    # sentinel.events.event_id: the institution it concerns owns it; unattributed, the sensor does.
    unattributed = run(SensorEngine(settings), frames)
    assert first[0].organization_id is not None and unattributed[0].organization_id is None
    assert first[0].id != unattributed[0].id


def test_detector_names_are_validated() -> None:
    with pytest.raises(ValidationError):
        SensorSettings(detectors=["portscan", "nope"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="at least one detector"):
        build_detectors(SensorSettings(detectors=[]))


def test_state_stays_bounded_across_all_detectors() -> None:
    settings = SensorSettings(max_tracked=32)
    engine = SensorEngine(settings)
    template = udp("10.70.0.0", "10.50.0.1", 53, payload=b"")
    dns = dns_query("10.70.0.0", "example.org")
    for i in range(2000):
        src = bytes((10, 70, i // 256, i % 256))
        for frame in (template, dns):
            raw = bytearray(frame)
            raw[26:30] = src
            engine.feed(bytes(raw), 1, float(i))
        # portscan 32 + dns dedupe 32 + nxdomain 32 + arp 3x32 + cleartext 2x32
        assert engine.state_size() <= 32 * 8
