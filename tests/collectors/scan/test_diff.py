from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.scan.diff import (
    SnapshotKeeper,
    carry_over_timed_out,
    change_events,
    diff_snapshots,
    snapshot_id,
    snapshot_of,
)
from collectors.scan.report import parse_report
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore

AT = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)


def _snap(shared_data: Path, name: str):  # type: ignore[no-untyped-def]
    return snapshot_of(parse_report((shared_data / "nmap-xml/python-libnmap" / name).read_bytes()))


@pytest.mark.shared_data
def test_real_before_and_after_files(shared_data: Path) -> None:
    # 1_hosts_diff.xml: port 3306 went from open to filtered
    changes = diff_snapshots(_snap(shared_data, "1_hosts.xml"), _snap(shared_data, "1_hosts_diff.xml"))
    assert [(c.action, c.ip, c.port) for c in changes] == [("port_closed", "127.0.0.1", "tcp/3306")]
    # 2_hosts_achange.xml: 23 opened, 25 closed, 111 no longer listed
    changes = diff_snapshots(_snap(shared_data, "2_hosts.xml"), _snap(shared_data, "2_hosts_achange.xml"))
    assert {(c.action, c.port) for c in changes} == {("port_opened", "tcp/23"), ("port_closed", "tcp/25"),
                                                     ("port_closed", "tcp/111")}  # fmt: skip
    assert diff_snapshots(_snap(shared_data, "2_hosts.xml"), _snap(shared_data, "2_hosts.xml")) == []


def test_hosts_and_services() -> None:
    before = {
        "10.0.0.1": {"tcp/22": {"name": "ssh", "product": "OpenSSH", "version": "8.9p1"}},
        "10.0.0.2": {"tcp/80": {"name": "http", "product": None, "version": None}},
    }
    after = {
        "10.0.0.1": {"tcp/22": {"name": "ssh", "product": "OpenSSH", "version": "9.6p1"}},
        "10.0.0.3": {"tcp/3389": {"name": "ms-wbt-server", "product": None, "version": None}},
    }
    changes = diff_snapshots(before, after)
    assert [(c.action, c.ip, c.port) for c in changes] == [
        ("host_appeared", "10.0.0.3", None),
        ("port_opened", "10.0.0.3", "tcp/3389"),
        ("host_vanished", "10.0.0.2", None),
        ("service_changed", "10.0.0.1", "tcp/22"),
    ]
    # a version -sV could not read this time is not a change
    unknown = {"10.0.0.1": {"tcp/22": {"name": "ssh", "product": None, "version": None}}}
    assert diff_snapshots({"10.0.0.1": before["10.0.0.1"]}, unknown) == []
    events = change_events(changes, scan_id="s1", institution_id="mof", target="10.0.0.0/24", profile="services", at=AT)
    by_action = {e.get("event.action"): e for e in events}
    changed = by_action["service_changed"]
    assert (
        changed.get("sentinel.scan.previous.version") == "8.9p1"
        and changed.get("sentinel.scan.current.version") == "9.6p1"
    )
    opened = by_action["port_opened"]
    assert (opened.get("destination.port"), opened.get("network.transport"), opened.get("service.name")) == (
        3389, "tcp", "ms-wbt-server")  # fmt: skip
    assert all(
        e.dataset == "nmap.change" and e.get("event.kind") == "event" and e.organization_id == "mof" for e in events
    )
    again = change_events(changes, scan_id="s1", institution_id="mof", target="10.0.0.0/24", profile="services", at=AT)
    assert [e.id for e in again] == [e.id for e in events]


def test_snapshots_live_in_the_scans_collection(data_dir: Path) -> None:
    store = SqliteStore(data_dir / "sentinel.db")
    store.setup()
    try:
        keeper = SnapshotKeeper(store)
        first = {"10.0.0.1": {"tcp/22": {"name": "ssh", "product": None, "version": None}}}
        second = {"10.0.0.1": {}}
        assert keeper.load("mof", "10.0.0.0/24", "services") is None
        assert keeper.swap("mof", "10.0.0.0/24", "services", first, "s1", AT) is None  # first scan: baseline
        assert keeper.load("mof", "10.0.0.0/24", "services") == first
        assert keeper.load("mof", "10.0.0.0/24", "tls") is None  # per profile
        assert keeper.swap("mof", "10.0.0.0/24", "services", second, "s2", AT) == first
        doc = store.get_document("scans", snapshot_id("mof", "10.0.0.0/24", "services"), Scope.institution("mof"))
        assert doc is not None and doc.body["scan_id"] == "s2" and doc.institution_id == "mof"
        assert (
            store.get_document("scans", snapshot_id("mof", "10.0.0.0/24", "services"), Scope.institution("moh")) is None
        )
    finally:
        store.close()


# What nmap 7.93 wrote for a host it gave up on (--host-timeout 2s against a listener that never answers).
TIMED_OUT = b"""<?xml version="1.0"?><nmaprun scanner="nmap" start="1795458689" version="7.93">
<host starttime="1795458689" endtime="1795458696" timedout="true"><status state="up" reason="localhost-response"/>
<address addr="127.0.0.1" addrtype="ipv4"/><hostnames></hostnames><times srtt="71" rttvar="5000" to="100000"/></host>
<runstats><finished time="1795458696" elapsed="7.01" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>"""


def test_a_timed_out_host_keeps_its_ports() -> None:
    report = parse_report(TIMED_OUT)
    assert report.hosts[0].timed_out is True
    previous = {"127.0.0.1": {"tcp/22": {"name": "ssh", "product": None, "version": None}}}
    current = snapshot_of(report)
    assert diff_snapshots(previous, current)[0].action == "port_closed"  # what a naive diff would claim
    assert diff_snapshots(previous, carry_over_timed_out(previous, current, report)) == []
