"""The runner drives the real nmap binary (loopback targets: always available, no namespaces needed)."""

from __future__ import annotations

import threading

import pytest

from collectors.scan.runner import ScanRunner, split_chunks
from collectors.scan.targets import validate_target
from sentinel.config import ScanSettings
from sentinel.errors import CollectorError
from sentinel.inventory import Institution

LOOP = Institution(id="loop", name="Loopback", networks=["127.0.0.0/8"])


def _settings(max_parallel: int) -> ScanSettings:
    return ScanSettings(
        max_parallel=max_parallel,
        profiles={"ping": ScanSettings.Profile(kind="discovery", timing=5, host_timeout_seconds=10)},
    )


def test_split_chunks() -> None:
    chunks = split_chunks([validate_target("127.9.0.0/24", LOOP), validate_target("127.9.1.1", LOOP)], 64)
    assert [c.tokens for c in chunks] == [
        ("127.9.0.0/26",), ("127.9.0.64/26",), ("127.9.0.128/26",), ("127.9.0.192/26",), ("127.9.1.1",)
    ]  # fmt: skip


@pytest.mark.parametrize("max_parallel", [1, 2])
def test_max_parallel_is_honoured_across_concurrent_scans(max_parallel: int) -> None:
    runner = ScanRunner(_settings(max_parallel), chunk_addresses=2)
    targets = [validate_target("127.77.0.0/29", LOOP)]  # 4 chunks of 2 addresses
    progress: list[int] = []
    results = []

    def scan() -> None:
        results.append(runner.run(targets, "ping", progress=lambda p: progress.append(p.done)))

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 2
    assert 1 <= runner.peak_parallel <= max_parallel
    for result in results:
        # loopback addresses always answer: all 8 are up
        assert sorted(h.ip for h in result.report.hosts if h.state == "up") == [f"127.77.0.{i}" for i in range(8)]
        assert result.arguments == ["-T5", "-sn", "--host-timeout", "10s", "-n"]
        assert len(result.xml) == 4 and all(x.startswith(b"<?xml") for x in result.xml)
    assert sorted(progress) == [1, 1, 2, 2, 3, 3, 4, 4]


def test_missing_nmap_is_a_clear_error() -> None:
    runner = ScanRunner(_settings(1), nmap_path="/nonexistent/nmap")
    with pytest.raises(CollectorError, match="nmap is not available"):
        runner.run([validate_target("127.0.0.1", LOOP)], "ping")


def test_ipv6_targets_get_their_own_flag() -> None:
    runner = ScanRunner(_settings(1))
    target = validate_target("::1", Institution(id="v6", name="IPv6 loopback", networks=["::1/128"]))
    result = runner.run([target], "ping")
    assert result.arguments[-1] == "-6"
    assert [(h.ip, h.state, h.ip_version) for h in result.report.hosts] == [("::1", "up", 6)]
