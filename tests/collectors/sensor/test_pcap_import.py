"""``findings_from_pcap``: capture files to stored events, idempotently, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter, PcapWriter

from collectors.sensor.pcap_import import findings_from_pcap
from sentinel.config import SensorSettings
from sentinel.errors import ParseError
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore
from tests.collectors.sensor.frames import arp_reply, dns_query, syn

MASSCAN = "pcaps/esnet-curated/masscan"


def _crafted() -> list[tuple[float, bytes]]:
    frames = [(1_700_000_000.0 + i * 0.01, syn("10.9.0.1", "10.80.0.1", 1 + i)) for i in range(40)]
    frames += [(1_700_000_001.0, arp_reply("10.80.0.254", "02:00:00:00:00:01"))]
    frames += [(1_700_000_002.0, arp_reply("10.80.0.254", "02:00:00:00:0b:ad"))]
    frames += [(1_700_000_003.0, dns_query("10.80.0.7", "x.blocked.sentinel.test"))]
    return frames


def _write(path: Path, frames: list[tuple[float, bytes]], writer: type = PcapWriter) -> Path:
    with writer(str(path)) as w:
        for ts, frame in frames:
            pkt = Ether(frame)
            pkt.time = ts
            w.write(pkt)
    return path


@pytest.mark.shared_data
def test_findings_are_stored_once_however_often_the_capture_is_imported(shared_data: Path, data_dir: Path) -> None:
    inventory = Inventory([Institution(id="esnet-lab", name="Lab", networks=["198.124.152.0/24"])])
    store = SqliteStore(data_dir / "sentinel.db")
    store.setup()
    try:
        for capture in ("tcp_0_1000_20190821.pcap", "udp_0_1000_20190821.pcap"):
            path = shared_data / MASSCAN / capture
            first = store.write_events(list(findings_from_pcap(path, SensorSettings(), inventory)))
            second = store.write_events(list(findings_from_pcap(path, SensorSettings(), inventory)))
            assert (first.created, first.duplicates, second.created, second.duplicates) == (1, 0, 0, 1)
        found = store.search_events(EventQuery(datasets=("sensor.portscan",)), Scope.institution("esnet-lab"))
        assert found.total == 2
        assert {e.get("network.transport") for e in found.events} == {"tcp", "udp"}
    finally:
        store.close()


def test_pcap_and_pcapng_give_the_same_findings(tmp_path: Path) -> None:
    frames = _crafted()
    settings = SensorSettings(portscan_min_ports=25)
    from_pcap = list(findings_from_pcap(_write(tmp_path / "a.pcap", frames), settings))
    from_ng = list(findings_from_pcap(_write(tmp_path / "a.pcapng", frames, PcapNgWriter), settings))
    assert sorted(e.get("event.action") for e in from_pcap) == ["arp_spoofing", "dns_blocklisted", "port_scan"]
    assert [e.id for e in from_pcap] == [e.id for e in from_ng]


def test_truncated_capture_still_gives_its_findings(tmp_path: Path) -> None:
    path = _write(tmp_path / "cut.pcap", _crafted())
    path.write_bytes(path.read_bytes()[:-10])  # the DNS query at the end is cut
    actions = sorted(e.get("event.action") for e in findings_from_pcap(path))
    assert actions == ["arp_spoofing", "port_scan"]


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "scan.xml"
    path.write_text("<nmaprun></nmaprun>")
    with pytest.raises(ParseError, match="not a pcap"):
        list(findings_from_pcap(path))
