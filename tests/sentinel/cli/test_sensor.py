"""``sentinel sensor --iface IF``: the real command captures on a veth, stores findings, stops on SIGINT."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore
from tests.support.netns import NetLab, free_10_octet, netns_available

RUNNER = Path(__file__).with_name("sensor_cli_runner.py")
SENDER = Path(__file__).resolve().parents[2] / "collectors" / "sensor" / "netns_sender.py"
PROJECT = Path(__file__).resolve().parents[3]


def _config(tmp_path: Path, network: str) -> Path:
    inventory = {"institutions": [{"id": "lab-agency", "name": "Lab Agency", "networks": [network]}]}
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    config = {"data_dir": "data", "inventory": "inventory.yaml", "sensor": {"arp_gratuitous_threshold": 10}}
    path = tmp_path / "sentinel.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(config: Path, iface: str, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, str(RUNNER), "--config", str(config), "sensor", "--iface", iface, *extra]
    return subprocess.Popen(argv, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    """stderr lines up to and including the one containing ``needle`` (bounded by ``timeout``)."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return seen
    raise AssertionError(f"{needle!r} not printed within {timeout} s; got: {''.join(seen)}")


@dataclass
class Lab:
    sensor_if: str
    sender_if: str
    namespace: str | None  # None: loopback fallback
    prefix: str  # first three octets of the addresses used
    network: str
    netlab: NetLab


@pytest.fixture
def lab() -> Iterator[Lab]:
    ok, why = netns_available()
    with NetLab("snc") as netlab:
        if ok:
            x = free_10_octet()
            ns = netlab.add_namespace("c")
            host_if, ns_if = netlab.link_to_root(ns, root_address=f"10.{x}.0.1", ns_cidr=f"10.{x}.0.2/24")
            yield Lab(host_if, ns_if, ns, f"10.{x}.0", f"10.{x}.0.0/24", netlab)
        else:
            print(f"sensor CLI test: NO NETWORK NAMESPACES ({why}); falling back to the loopback interface")
            yield Lab("lo", "lo", None, "127.0.0", "127.0.0.0/8", netlab)
        assert not netlab.close()


@pytest.mark.netns
def test_sensor_command_stores_findings_and_stops_cleanly(tmp_path: Path, lab: Lab) -> None:
    config = _config(tmp_path, lab.network)
    proc = _start(config, lab.sensor_if, "--duration", "120")
    try:
        _wait_for_line(proc, "sensor listening on", 60)
        p = lab.prefix
        argv = [sys.executable, str(SENDER), lab.sender_if, f"{p}.2", f"{p}.1", f"{p}.77"]
        if lab.namespace is not None:
            done = lab.netlab.run(lab.namespace, argv, timeout=60)
        else:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        sent = json.loads(done.stdout.strip().splitlines()[-1])
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the capture ends, open windows are reported and stored
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "findings stored" in err

    store = SqliteStore(tmp_path / "data" / "sentinel.db")
    store.setup()
    try:
        found = store.search_events(
            EventQuery(datasets=("sensor.arp_spoof", "sensor.dns_abuse")), Scope.institution("lab-agency"), limit=50
        )
    finally:
        store.close()
    actions = sorted(e.get("event.action") for e in found.events)
    assert actions == ["arp_spoofing", "dns_high_entropy", "dns_long_query", "gratuitous_arp_flood"]
    flood = next(e for e in found.events if e.get("event.action") == "gratuitous_arp_flood")
    assert flood.get("sentinel.sensor.gratuitous_arp_count") >= sent["flood"]  # set in the config: threshold 10


def test_unknown_interface_is_one_clear_error(tmp_path: Path) -> None:
    proc = _start(_config(tmp_path, "10.1.0.0/16"), "nosuchif0", "--duration", "1")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "no such network interface: 'nosuchif0'" in err
    assert "Traceback" not in err
