"""DNS abuse: long and high-entropy names, NXDOMAIN bursts, the blocklist (data file and loader)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from collectors.sensor.dns_abuse import DEFAULT_BLOCKLIST, DnsAbuseDetector, blocklisted, load_blocklist
from collectors.sensor.engine import SensorEngine
from sentinel.config import SensorSettings
from sentinel.errors import ConfigError
from tests.collectors.sensor.frames import dns_nxdomain, dns_query, run

CLIENT = "10.30.0.7"


def _tunnel_name(chunk: bytes) -> str:
    label = base64.b32encode(chunk).decode().rstrip("=").lower()
    return f"{label[:60]}.{label[60:120] or 'x'}.t.exfil-lab.test"


def _dns_only() -> SensorSettings:
    return SensorSettings(detectors=["dns_abuse"])


def test_tunnelling_queries_are_one_finding_per_kind_and_domain() -> None:
    frames = [(10.0 + i, dns_query(CLIENT, _tunnel_name(os.urandom(70)), sport=50000 + i)) for i in range(30)]
    frames.append((11.0, dns_query(CLIENT, "www.example.org")))
    events = run(SensorEngine(_dns_only()), frames)
    actions = sorted(e.get("event.action") for e in events)
    assert actions == ["dns_high_entropy", "dns_long_query"]
    for event in events:
        assert event.dataset == "sensor.dns_abuse"
        assert event.get("source.ip") == CLIENT
        assert event.get("dns.question.registered_domain") == "exfil-lab.test"
        assert event.get("dns.question.name").endswith(".t.exfil-lab.test")
        assert event.get("threat.technique.id") == ["T1071.004"]
    entropy = next(e for e in events if e.get("event.action") == "dns_high_entropy")
    assert entropy.get("sentinel.sensor.label_entropy") >= 3.8


def test_ordinary_names_are_quiet() -> None:
    names = [
        "www.google.com",
        "login.microsoftonline.com",
        "mail-gateway-primary-server.gov.example",
        "a.b.c.d.example",
    ]
    frames = [(float(i), dns_query(CLIENT, name)) for i, name in enumerate(names)]
    assert run(SensorEngine(_dns_only()), frames) == []


def test_blocklisted_domain_and_its_subdomains(tmp_path: Path) -> None:
    blocklist = tmp_path / "blocked.txt"
    blocklist.write_text("# local list\nbad.example\n\nminer-pool.test.\n")
    settings = SensorSettings(detectors=["dns_abuse"], dns_blocklist=blocklist)
    frames = [
        (1.0, dns_query(CLIENT, "cdn.bad.example")),
        (2.0, dns_query(CLIENT, "bad.example")),  # same entry, same window: already reported
        (3.0, dns_query(CLIENT, "notbad.example")),  # a different domain that merely ends alike
        (4.0, dns_query("10.30.0.8", "xmr.MINER-POOL.test")),
    ]
    events = run(SensorEngine(settings), frames)
    got = sorted((e.get("source.ip"), e.get("sentinel.sensor.blocklist_entry")) for e in events)
    assert got == [(CLIENT, "bad.example"), ("10.30.0.8", "miner-pool.test")]
    assert all(e.get("event.action") == "dns_blocklisted" for e in events)


def test_shipped_blocklist_loads_and_matches() -> None:
    entries = load_blocklist(DEFAULT_BLOCKLIST)
    assert "blocked.sentinel.test" in entries and len(entries) > 10
    assert blocklisted("a.b.blocked.sentinel.test", entries) == "blocked.sentinel.test"
    assert blocklisted("sentinel.test", entries) is None


def test_bad_blocklist_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bl.txt"
    path.write_text("good.example\n# comment\nnot a domain!\n")
    with pytest.raises(ConfigError, match=r"bl\.txt:3.*not a domain"):
        load_blocklist(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_blocklist(tmp_path / "missing.txt")


def test_nxdomain_burst_is_counted_per_client() -> None:
    settings = SensorSettings(detectors=["dns_abuse"], dns_nxdomain_threshold=20, dns_window_seconds=60)
    frames = [(100.0 + i, dns_nxdomain(CLIENT, f"q{i}x7k2.example")) for i in range(25)]
    frames += [(100.0 + i, dns_nxdomain("10.30.0.9", f"typo{i}.example")) for i in range(3)]
    events = run(SensorEngine(settings), frames)
    assert [(e.get("event.action"), e.get("source.ip")) for e in events] == [("dns_nxdomain_burst", CLIENT)]
    assert events[0].get("sentinel.sensor.nxdomain_count") == 25
    assert events[0].get("sentinel.sensor.resolvers") == ["10.0.0.53"]
    assert events[0].get("threat.technique.id") == ["T1568.002"]


def test_dns_over_tcp() -> None:
    message = bytes(DNS(id=3, rd=1, qd=DNSQR(qname="x.blocked.sentinel.test")))
    frame = bytes(
        Ether()
        / IP(src=CLIENT, dst="10.0.0.53")
        / TCP(sport=50123, dport=53, flags="PA")
        / (len(message).to_bytes(2, "big") + message)
    )
    events = run(SensorEngine(_dns_only()), [(1.0, frame)])
    assert [e.get("event.action") for e in events] == ["dns_blocklisted"]
    assert events[0].get("network.transport") == "tcp"


def test_state_is_bounded() -> None:
    settings = SensorSettings(detectors=["dns_abuse"], max_tracked=50)
    detector = DnsAbuseDetector(settings)
    engine = SensorEngine(settings, detectors=[detector])
    for i in range(500):
        engine.feed(dns_nxdomain(f"10.31.{i // 256}.{i % 256}", "gone.example"), 1, float(i) / 100)
        assert detector.state_size() <= 2 * 50
