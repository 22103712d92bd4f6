"""Every real nmap XML file parses; facts read from the files by hand come out as ECS events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.scan.policy import PolicyContext, load_eol
from collectors.scan.report import parse_report
from collectors.scan.xml_events import ScanContext, events_from_xml, scan_id_from_bytes
from sentinel.config import ScanSettings
from sentinel.errors import ParseError
from sentinel.inventory import Institution, Inventory

pytestmark = pytest.mark.shared_data


def _xml_files(root: Path) -> list[Path]:
    return sorted((root / "nmap-xml").rglob("*.xml"))


def _load(shared_data: Path, rel: str):  # type: ignore[no-untyped-def]
    data = (shared_data / "nmap-xml" / rel).read_bytes()
    policy = PolicyContext.for_institution(ScanSettings(), None, load_eol())
    return events_from_xml(data, ScanContext(scan_id=scan_id_from_bytes(data), policy=policy))


def _port(events, ip: str, port: int, transport: str = "tcp"):  # type: ignore[no-untyped-def]
    found = [
        e for e in events
        if e.dataset == "nmap.port" and e.get("destination.ip") == ip and e.get("destination.port") == port
        and e.get("network.transport") == transport
    ]  # fmt: skip
    assert len(found) == 1, f"{ip}:{port}/{transport}"
    return found[0]


def test_all_forty_files_parse(shared_data: Path) -> None:
    files = _xml_files(shared_data)
    assert len(files) == 40
    total_events = 0
    for path in files:
        _report, events = events_from_xml(path.read_bytes())
        total_events += len(events)
        for event in events:
            assert event.dataset in ("nmap.host", "nmap.port")
            assert event.get("observer.type") == "scanner"
            assert event.get("event.category") == ["network"]
    assert total_events > 1000


def test_complex_scanme(shared_data: Path) -> None:
    _report, events = _load(shared_data, "nmap-ndiff/complex.xml")
    (host,) = [e for e in events if e.dataset == "nmap.host"]
    assert host.get("host.ip") == ["64.13.134.52"] and host.get("host.name") == "scanme.nmap.org"
    assert host.get("host.os.full") == "Linux 2.6.9 - 2.6.24" and host.get("sentinel.scan.os_accuracy") == 100
    assert host.get("sentinel.scan.host_state") == "up"
    ports = {(e.get("network.transport"), e.get("destination.port")) for e in events if e.dataset == "nmap.port"}
    assert ports == {("tcp", 22), ("tcp", 53), ("tcp", 80), ("udp", 53)}  # 25 and 70 are closed: no event
    ssh = _port(events, "64.13.134.52", 22)
    assert (ssh.get("service.name"), ssh.get("sentinel.scan.service.product"), ssh.get("service.version")) == (
        "ssh", "OpenSSH", "4.3")  # fmt: skip
    assert ssh.get("sentinel.policy.eol") is True  # OpenSSH 4.3
    web = _port(events, "64.13.134.52", 80)
    assert web.get("sentinel.scan.service.product") == "Apache httpd" and web.get("service.version") == "2.2.2"
    assert web.get("sentinel.policy.eol") is True and web.get("sentinel.policy.forbidden") is False
    assert _port(events, "64.13.134.52", 53, "udp").get("sentinel.scan.service.product") == "ISC BIND"
    assert host.timestamp == datetime.fromtimestamp(1247269755, tz=UTC)  # the host's endtime


def test_down_hosts_xmas_and_null_scans(shared_data: Path) -> None:
    report, events = _load(shared_data, "nmap-ndiff/down.xml")
    assert report.hosts == () and events == []  # nmap 4.90 lists no host element for a down host
    # a /24 sweep: 254 down (each still gets its host event), 2 up
    report, events = _load(shared_data, "python-libnmap/fullscan.xml")
    states = [h.state for h in report.hosts]
    assert (states.count("up"), states.count("down")) == (2, 254)
    down = [e for e in events if e.dataset == "nmap.host" and e.get("sentinel.scan.host_state") == "down"]
    assert len(down) == 254 and all(e.get("sentinel.scan.open_ports") == 0 for e in down)
    assert {e.get("sentinel.scan.host_reason") for e in down} >= {"no-response"}
    # an Xmas scan cannot tell open from filtered: open|filtered ports are not "open" ports
    report, events = _load(shared_data, "python-libnmap/1_hosts_banner_ports_xmas.xml")
    assert {p.state for h in report.hosts for p in h.ports} >= {"open|filtered", "closed"}
    assert [e for e in events if e.dataset == "nmap.port"] == []
    report, _ = _load(shared_data, "python-libnmap/2_null_hosts.xml")
    assert {h.ip for h in report.hosts} == {"127.0.0.1", "74.207.244.221"}


def test_honeypot_exposes_forbidden_services(shared_data: Path) -> None:
    report, events = _load(shared_data, "python-libnmap/dionaea_scan.xml")
    (host,) = report.hosts
    assert host.ip == "172.28.1.3" and host.mac == "02:42:ac:1c:01:03"
    assert len(host.open_ports()) == 16
    forbidden = {
        e.get("destination.port"): e.get("sentinel.policy.forbidden_service")
        for e in events if e.dataset == "nmap.port" and e.get("sentinel.policy.forbidden")
    }  # fmt: skip
    assert forbidden == {21: "ftp", 23: "telnet", 445: "smb", 1433: "mssql", 3306: "mysql", 27017: "mongodb"}
    mysql = _port(events, "172.28.1.3", 3306)
    assert mysql.get("service.version") == "5.7.16" and mysql.get("sentinel.policy.eol") is True


def test_certificate_and_sslv2_from_a_router(shared_data: Path) -> None:
    _, events = _load(shared_data, "python-libnmap/fullscan.xml")
    https = _port(events, "192.168.1.1", 443)
    x509 = https.get("tls.server.x509")
    assert x509["subject"]["common_name"] == ["ORname_Jungo: OpenRG Products Group"]
    assert x509["issuer"]["distinguished_name"] == "CN=ORname_Jungo: OpenRG Products Group, C=US"
    assert x509["not_after"] == "2024-05-29T10:11:43.000Z" and x509["public_key_size"] == 1024
    assert https.get("sentinel.policy.tls_legacy") is True  # the sslv2 script found SSLv2
    # days left are counted from the scan's time (2014), not from today
    assert https.get("sentinel.scan.tls.cert_days_left") > 3000
    assert https.get("sentinel.policy.cert_expired") is False


def test_ids_are_deterministic_and_attribution_uses_the_inventory(shared_data: Path) -> None:
    data = (shared_data / "nmap-xml/python-nmap/scanme_output-7.91.xml").read_bytes()
    _, first = events_from_xml(data)
    _, again = events_from_xml(data)
    assert [e.id for e in first] == [e.id for e in again] and len({e.id for e in first}) == len(first)
    assert len({e.get("sentinel.scan.id") for e in first}) == 1
    report = parse_report(data)
    owner = Institution(id="scanme", name="Scanme", networks=[f"{report.hosts[0].ip}/32"])
    _, owned = events_from_xml(data, ScanContext(scan_id="s1", inventory=Inventory([owner])))
    assert {e.organization_id for e in owned} == {"scanme"}
    assert {e.organization_id for e in first} == {"unattributed"}


def test_unsafe_and_foreign_xml(shared_data: Path) -> None:
    report = parse_report((shared_data / "nmap-xml/python-libnmap/defused_et_local_includer.xml").read_bytes())
    assert report.hosts == () and "entity declarations" in report.warnings[0]
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><nmaprun>&b;</nmaprun>'
    assert "entity" in parse_report(bomb).warnings[0]
    report = parse_report((shared_data / "nmap-xml/python-libnmap/defused_et_included.xml").read_bytes())
    assert report.hosts == () and "not an nmap XML run" in report.warnings[0]
    with pytest.raises(ParseError, match="not well-formed"):
        parse_report(b"<nmaprun><host>")
