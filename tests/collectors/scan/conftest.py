"""The scan lab: an institution's hosts as network namespaces (or loopback addresses as a fallback)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sentinel.config import Settings
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import Store
from sentinel.store.sqlite import SqliteStore
from tests.conftest import free_port
from tests.support.netns import NetLab, free_10_octet, netns_available

SERVICES = Path(__file__).with_name("lab_services.py")
SSH_BANNER = "SSH-2.0-OpenSSH_7.2p2 Ubuntu-4ubuntu2.8"
INSTITUTION = "lab-ministry"


def make_expired_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate valid only in 2020 (``openssl ca`` can backdate; ``req -x509`` cannot)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.txt").write_text("")
    (folder / "serial").write_text("01\n")
    (folder / "ca.cnf").write_text(
        "[ca]\ndefault_ca = lab\n[lab]\ndatabase = index.txt\nserial = serial\nnew_certs_dir = .\n"
        "default_md = sha256\npolicy = anything\n[anything]\ncommonName = supplied\n"
    )

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-subj", "/CN=expired.lab.test",
            "-out", "req.csr")  # fmt: skip
    openssl("ca", "-batch", "-selfsign", "-config", "ca.cnf", "-keyfile", "key.pem", "-in", "req.csr",
            "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", "-out", "cert.pem")  # fmt: skip
    return folder / "cert.pem", folder / "key.pem"


@dataclass
class ScanLab:
    mode: str  # "netns" or "loopback"
    lab: NetLab
    hosts: dict[str, str]  # a, b, c -> address
    ports: dict[str, int]  # ssh, telnet, http, tls -> port
    networks: list[str]
    cert: Path
    key: Path
    namespaces: dict[str, str | None] = field(default_factory=dict)
    ns_links: dict[str, str] = field(default_factory=dict)
    running: dict[tuple[str, str], subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, host: str, service: str) -> None:
        bind = "0.0.0.0" if self.mode == "netns" else self.hosts[host]
        argv = [sys.executable, str(SERVICES)]
        port = str(self.ports[service])
        if service == "ssh":
            argv += ["banner", bind, port, SSH_BANNER]
        elif service == "tls":
            argv += ["tls", bind, port, str(self.cert), str(self.key)]
        else:
            argv += [service, bind, port]
        proc = self.lab.popen(self.namespaces.get(host), argv, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        line = proc.stdout.readline() if ready else b""
        assert line.strip() == b"ready", f"{service} on {host} did not start"
        self.running[(host, service)] = proc

    def stop(self, host: str, service: str) -> None:
        self.lab.stop(self.running.pop((host, service)))

    def cut(self, host: str) -> bool:
        """Take a host off the network (netns only); False where that is not possible."""
        if self.mode != "netns":
            return False
        ns = self.namespaces[host]
        assert ns is not None
        self.lab.del_address(ns, f"{self.hosts[host]}/29", self.ns_links[host])
        return True

    def institution(self) -> Institution:
        return Institution(id=INSTITUTION, name="Lab Ministry", networks=self.networks, hostnames=["tls.lab.test"])


@pytest.fixture(scope="module")
def scan_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScanLab]:
    cert, key = make_expired_cert(tmp_path_factory.mktemp("cert"))
    if os.environ.get("SCAN_LAB_FORCE_LOOPBACK"):
        ok, reason = False, "SCAN_LAB_FORCE_LOOPBACK is set"
    else:
        ok, reason = netns_available()
    with NetLab() as lab:
        if ok:
            x = free_10_octet()
            hosts = {name: f"10.{x}.{i}.2" for i, name in enumerate("abc", start=1)}
            scan = ScanLab("netns", lab, hosts, {"ssh": 22, "telnet": 23, "http": 80, "tls": 443},
                           [f"10.{x}.{i}.0/29" for i in (1, 2, 3)], cert, key)  # fmt: skip
            for i, name in enumerate("abc", start=1):
                ns = lab.add_namespace(name)
                scan.namespaces[name] = ns
                _, ns_if = lab.link_to_root(ns, root_address=f"10.{x}.200.{i}", ns_cidr=f"{hosts[name]}/29")
                scan.ns_links[name] = ns_if
            print(f"scan lab: network namespaces {sorted(lab.namespaces)} on 10.{x}.1-3.0/29")
        else:
            print(f"SCAN LAB FALLBACK: network namespaces unavailable ({reason}); using loopback listeners")
            y = 100 + os.getpid() % 100
            hosts = {name: f"127.{y}.{i}.2" for i, name in enumerate("abc", start=1)}
            ports = {s: free_port() for s in ("ssh", "telnet", "http", "tls")}
            scan = ScanLab("loopback", lab, hosts, ports, [f"127.{y}.{i}.0/29" for i in (1, 2, 3)], cert, key)
        yield scan
        problems = lab.close()
        assert not problems, f"lab cleanup problems: {problems}"


@pytest.fixture
def lab_store(data_dir: Path) -> Iterator[Store]:
    store = SqliteStore(data_dir / "sentinel.db")
    store.setup()
    yield store
    store.close()


def lab_settings(data_dir: Path, scan_lab: ScanLab) -> Settings:
    ports = sorted(scan_lab.ports.values())
    return Settings.model_validate(
        {
            "data_dir": str(data_dir),
            "scan": {
                "max_parallel": 2,
                "profiles": {
                    "lab": {"kind": "services", "ports": ports, "timing": 5, "host_timeout_seconds": 60,
                            "max_retries": 1},
                    "lab-tls": {"kind": "tls", "ports": [scan_lab.ports["tls"]], "timing": 5,
                                "host_timeout_seconds": 120},
                },
            },
        }
    )  # fmt: skip


def lab_inventory(scan_lab: ScanLab) -> Inventory:
    return Inventory([scan_lab.institution()])
