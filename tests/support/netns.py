"""Network namespaces for tests: isolated "hosts" joined by veth pairs, cleaned up even on failure.

Everything here runs ``ip`` with an argv list (no shell). Addresses live only on the veth
links the lab creates, so no test traffic leaves the machine. Typical use::

    with NetLab() as lab:
        ns = lab.add_namespace("a")
        lab.link_to_root(ns, root_address="10.77.200.1", ns_cidr="10.77.1.2/29")
        proc = lab.popen(ns, [sys.executable, "server.py"])
        ...   # the lab kills its processes and deletes its links and namespaces on exit

Reusable by other tests (the packet sensor uses ``link_namespaces`` for a veth pair between
two namespaces and ``popen`` to run a sender inside one).
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import random
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

_counter = itertools.count()


class NetnsUnavailable(RuntimeError):
    """Namespaces cannot be created here (not root, no ``ip``, or a restricted kernel)."""


def ip(*args: str, namespace: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *(["-n", namespace] if namespace else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
    return proc


def netns_available() -> tuple[bool, str]:
    """Whether this machine lets the tests create namespaces; the reason when not."""
    if os.geteuid() != 0:
        return False, "not running as root"
    if shutil.which("ip") is None:
        return False, "the 'ip' command (iproute2) is missing"
    probe = f"sntprobe{os.getpid()}"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return False, f"ip netns add failed: {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return True, "ok"


def free_10_octet() -> int:
    """A second octet X such that no route of this machine touches 10.X.0.0/16."""
    routes = ip("-4", "route", "show", "table", "all", check=False).stdout
    used: list[ipaddress.IPv4Network] = []
    for line in routes.splitlines():
        first = line.split()[0] if line.split() else ""
        if first in ("local", "broadcast", "unreachable", "blackhole"):
            first = line.split()[1]
        try:
            used.append(ipaddress.ip_network(first, strict=False))  # type: ignore[arg-type]
        except ValueError:
            continue
    choices = list(range(100, 250))
    random.shuffle(choices)
    for x in choices:
        net = ipaddress.ip_network(f"10.{x}.0.0/16")
        if not any(n.prefixlen > 0 and n.overlaps(net) for n in used):
            return x
    raise NetnsUnavailable("no free 10.X.0.0/16 for a test lab")


class NetLab:
    """Namespaces, veth links and processes created by one test, all removed by ``close()``."""

    def __init__(self, prefix: str = "snt") -> None:
        self.tag = f"{prefix}{os.getpid() % 100000}x{next(_counter)}"
        self.namespaces: list[str] = []
        self.root_links: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self._links = itertools.count()

    def __enter__(self) -> NetLab:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def add_namespace(self, suffix: str) -> str:
        name = f"{self.tag}{suffix}"
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("link", "set", "lo", "up", namespace=name)
        return name

    def _link_names(self) -> tuple[str, str]:
        n = next(self._links)
        # interface names are at most 15 characters
        short = self.tag[-9:]
        return f"{short}h{n}", f"{short}n{n}"

    def link_to_root(self, namespace: str, *, root_address: str, ns_cidr: str) -> tuple[str, str]:
        """A veth from the root namespace to ``namespace``: the root side has only ``root_address``/32 and a
        route to the namespace's subnet, so the root's own address is not inside that subnet."""
        host_if, ns_if = self._link_names()
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", namespace)
        self.root_links.append(host_if)
        iface = ipaddress.ip_interface(ns_cidr)
        ip("addr", "add", f"{root_address}/32", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("route", "add", str(iface.network), "dev", host_if, "src", root_address)
        ip("addr", "add", ns_cidr, "dev", ns_if, namespace=namespace)
        ip("link", "set", ns_if, "up", namespace=namespace)
        ip("route", "add", f"{root_address}/32", "dev", ns_if, namespace=namespace)
        return host_if, ns_if

    def link_namespaces(self, ns_a: str, cidr_a: str, ns_b: str, cidr_b: str) -> tuple[str, str]:
        """A veth pair between two namespaces, one address at each end (same subnet)."""
        if_a, if_b = self._link_names()
        ip("link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
        ip("addr", "add", cidr_a, "dev", if_a, namespace=ns_a)
        ip("addr", "add", cidr_b, "dev", if_b, namespace=ns_b)
        ip("link", "set", if_a, "up", namespace=ns_a)
        ip("link", "set", if_b, "up", namespace=ns_b)
        return if_a, if_b

    def del_address(self, namespace: str, cidr: str, interface: str) -> None:
        """Take an address away inside a namespace: the host stops answering, while the root side's
        link and route stay up (a downed root link would send the subnet's traffic to the default route)."""
        ip("addr", "del", cidr, "dev", interface, namespace=namespace)

    def set_link(self, interface: str, up: bool, namespace: str | None = None) -> None:
        ip("link", "set", interface, "up" if up else "down", namespace=namespace)

    def popen(self, namespace: str | None, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """Start a process inside ``namespace`` (or the root namespace); it is killed by ``close()``."""
        full = ["ip", "netns", "exec", namespace, *argv] if namespace else list(argv)
        proc: subprocess.Popen[bytes] = subprocess.Popen(full, **kwargs)  # type: ignore[call-overload]
        self.processes.append(proc)
        return proc

    def run(self, namespace: str, argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", namespace, *argv], capture_output=True, text=True, timeout=timeout, check=False
        )

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 5) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()

    def close(self) -> list[str]:
        """Kill processes, delete links and namespaces; returns what could not be cleaned (never raises)."""
        problems: list[str] = []
        for proc in self.processes:
            try:
                self.stop(proc)
            except (OSError, subprocess.SubprocessError) as exc:
                problems.append(f"process {proc.pid}: {exc}")
        self.processes.clear()
        for link in self.root_links:
            done = ip("link", "del", link, check=False)
            if done.returncode != 0 and "Cannot find device" not in done.stderr:
                problems.append(f"link {link}: {done.stderr.strip()}")
        self.root_links.clear()
        for name in reversed(self.namespaces):
            done = ip("netns", "del", name, check=False)
            if done.returncode != 0:
                problems.append(f"namespace {name}: {done.stderr.strip()}")
        self.namespaces.clear()
        return problems


def leftover_namespaces(prefix: str = "snt") -> list[str]:
    """Namespaces with our prefix still present (a test can assert its cleanup worked)."""
    run_dir = Path("/run/netns")
    return sorted(p.name for p in run_dir.iterdir() if p.name.startswith(prefix)) if run_dir.is_dir() else []
