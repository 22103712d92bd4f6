"""A real scan of real services: namespaces (or loopback), real nmap, real SQLite store."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.scan.service import ScanService
from collectors.scan.targets import institution_targets, validate_target
from sentinel.config import DetectSettings
from sentinel.detect.engine.runner import backtest
from sentinel.detect.rulebook.pack import RulePack, builtin_rules_dir, load_rule_pack
from sentinel.store.base import EventQuery, Scope, Store

from .conftest import INSTITUTION, ScanLab, lab_inventory, lab_settings

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def _ports(outcome) -> dict[tuple[str, int], dict]:  # type: ignore[no-untyped-def]
    return {
        (e.get("destination.ip"), e.get("destination.port")): e.doc for e in outcome.events if e.dataset == "nmap.port"
    }


def test_scan_events_tls_policy_and_diff(scan_lab: ScanLab, lab_store: Store, data_dir: Path) -> None:
    print(f"lab mode: {scan_lab.mode}")
    a, b, c = scan_lab.hosts["a"], scan_lab.hosts["b"], scan_lab.hosts["c"]
    p = scan_lab.ports
    scan_lab.start("a", "ssh")
    scan_lab.start("a", "http")
    scan_lab.start("b", "tls")
    scan_lab.start("c", "http")
    settings = lab_settings(data_dir, scan_lab)
    inventory = lab_inventory(scan_lab)
    service = ScanService(settings, inventory, lab_store, observer_hostname="sentinel-test")
    progress: list[tuple[int, int]] = []

    # 1. First scan: the baseline.
    first = service.scan_institution(INSTITUTION, "lab", progress=lambda pr: progress.append((pr.done, pr.total)))
    assert progress[-1] == (3, 3) and len(progress) == 3  # one chunk per /29
    hosts = {e.get("host.ip")[0]: e for e in first.events if e.dataset == "nmap.host"}
    assert {ip for ip, e in hosts.items() if e.get("sentinel.scan.host_state") == "up"} >= {a, b, c}
    ports = _ports(first)
    assert set(ports) >= {(a, p["ssh"]), (a, p["http"]), (b, p["tls"]), (c, p["http"])}
    ssh = ports[(a, p["ssh"])]
    assert ssh["service"]["name"] == "ssh"
    assert ssh["sentinel"]["scan"]["service"]["product"] == "OpenSSH"
    assert ssh["service"]["version"].startswith("7.2p2")
    assert ssh["sentinel"]["policy"]["eol"] is True  # OpenSSH < 7.4 is on the shipped list
    assert ports[(c, p["http"])]["service"]["name"] == "http"
    for doc in ports.values():
        assert doc["organization"]["id"] == INSTITUTION
        assert doc["observer"]["type"] == "scanner"
        assert doc["network"]["transport"] == "tcp"
        assert doc["sentinel"]["scan"]["id"] == first.scan_id
        assert doc["event"]["kind"] == "state" and doc["event"]["category"] == ["network"]
    assert first.changes == [] and first.change_events == []  # baseline: nothing "changed"
    stored = lab_store.count_events(EventQuery(datasets=("nmap.port",)), Scope.institution(INSTITUTION))
    assert stored == len(ports)
    run_doc = lab_store.get_document("scans", f"run-{first.scan_id}", Scope.everything())
    assert run_doc is not None and "<nmaprun" in run_doc.body["xml"] and run_doc.body["xml_truncated"] is False
    assert run_doc.body["arguments"][0] == "-T5"

    # 2. TLS profile on the TLS host: legacy versions and the expired certificate.
    tls_out = service.scan([validate_target(b, scan_lab.institution())], "lab-tls")
    tls_doc = _ports(tls_out)[(b, p["tls"])]
    versions = tls_doc["sentinel"]["scan"]["tls"]["versions"]
    assert "TLSv1.0" in versions and "TLSv1.2" in versions
    assert tls_doc["tls"]["server"]["x509"]["subject"]["common_name"] == ["expired.lab.test"]
    assert tls_doc["tls"]["server"]["x509"]["not_after"] == "2021-01-01T00:00:00.000Z"
    assert tls_doc["sentinel"]["scan"]["tls"]["cert_expired"] is True
    policy = tls_doc["sentinel"]["policy"]
    assert policy["tls_legacy"] is True and policy["cert_expired"] is True and policy["cert_expiring"] is False
    print(f"tls grade {tls_doc['sentinel']['scan']['tls']['least_strength']}, versions {versions}")

    # 3. Change the lab: ssh stops on a, telnet starts on c, b leaves the network (netns only).
    scan_lab.stop("a", "ssh")
    scan_lab.start("c", "telnet")
    vanished = scan_lab.cut("b")
    if not vanished:
        print("loopback fallback: a loopback address always answers, so host_vanished is not exercised")
    second = service.scan(institution_targets(scan_lab.institution()), "lab")
    actions = Counter((ch.action, ch.ip, ch.port) for ch in second.changes)
    assert ("port_closed", a, f"tcp/{p['ssh']}") in actions
    assert ("port_opened", c, f"tcp/{p['telnet']}") in actions
    if vanished:
        expected = {
            ("port_closed", a, f"tcp/{p['ssh']}"),
            ("port_opened", c, f"tcp/{p['telnet']}"),
            ("host_vanished", b, None),
        }
        assert set(actions) == expected
        assert (b, p["tls"]) not in _ports(second)
    telnet = _ports(second)[(c, p["telnet"])]
    assert telnet["sentinel"]["policy"]["new_port"] is True
    assert telnet["sentinel"]["policy"]["forbidden"] is True
    assert telnet["sentinel"]["policy"]["forbidden_service"] == "telnet"
    assert _ports(second)[(c, p["http"])]["sentinel"]["policy"]["new_port"] is False
    changes = lab_store.search_events(EventQuery(datasets=("nmap.change",)), Scope.everything(), limit=50).events
    stored_actions = {(e.get("event.action"), e.get("destination.port")) for e in changes}
    assert ("port_closed", p["ssh"]) in stored_actions and ("port_opened", p["telnet"]) in stored_actions
    assert all(e.get("event.kind") == "event" and e.organization_id == INSTITUTION for e in changes)

    # 4. The shipped scan policy rules raise alerts on these real events.
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    scan_rules = RulePack(rules=[r for r in pack.rules if r.path is not None and r.path.stem.startswith("scan_")])
    assert len(scan_rules.rules) >= 6
    now = datetime.now(UTC)
    alerts, reports, errors = backtest(
        lab_store, scan_rules, DetectSettings(), inventory, now - timedelta(hours=1), now + timedelta(minutes=1)
    )
    assert errors == [] and all(r.error is None for r in reports)
    fired = {scan_rules.rules[[r.id for r in scan_rules.rules].index(a.rule_id)].path.stem for a in alerts}
    print(f"scan rules fired: {sorted(fired)}")
    assert fired >= {
        "scan_forbidden_service_exposed",
        "scan_tls_legacy_or_weak_cipher",
        "scan_certificate_expired",
        "scan_end_of_life_version",
        "scan_new_open_port",
    }
