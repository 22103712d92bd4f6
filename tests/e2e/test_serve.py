"""The real service as a process: syslog in over a real socket, found through the real API."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

VENV_BIN = Path(sys.executable).parent


def wait_for(path: Path, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"sentinel serve exited early with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {seconds} s")
        time.sleep(0.1)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[dict[str, int], Path, subprocess.Popen[bytes]]]:
    config = tmp_path / "sentinel.yaml"
    config.write_text(
        "data_dir: ./data\n"
        "inventory: inventory.yaml\n"
        "listeners:\n"
        "  syslog:\n"
        "    - {protocol: tcp, host: 127.0.0.1, port: 0}\n"
        "    - {protocol: udp, host: 127.0.0.1, port: 0}\n"
        "api: {host: 127.0.0.1, port: 0}\n"
    )
    (tmp_path / "inventory.yaml").write_text(
        "institutions:\n  - {id: local, name: Loopback Institution, networks: [127.0.0.0/8]}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(VENV_BIN / "sentinel"), "--config", str(config), "serve"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        umask=0o022,  # the usual umask: files would be readable by every local user unless Sentinel says otherwise
    )
    try:
        ports_file = tmp_path / "data" / "ports.json"
        wait_for(ports_file, process)
        yield orjson.loads(ports_file.read_bytes()), config, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def make_token(config: Path) -> str:
    result = subprocess.run(
        [
            str(VENV_BIN / "sentinel"),
            "--config",
            str(config),
            "tokens",
            "create",
            "--name",
            "t",
            "--role",
            "soc_analyst",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_logger_line_becomes_searchable_and_service_stops_cleanly(
    service: tuple[dict[str, int], Path, subprocess.Popen[bytes]],
) -> None:
    ports, config, process = service
    api = f"http://127.0.0.1:{ports['api']}"
    assert httpx.get(f"{api}/healthz", timeout=5).json() == {"status": "ok"}
    token = make_token(config)
    marker = f"e2euser{time.time_ns()}"
    tcp_port = next(v for k, v in ports.items() if "tcp" in k)
    subprocess.run(
        [
            "logger",
            "--tcp",
            "-n",
            "127.0.0.1",
            "-P",
            str(tcp_port),
            "-t",
            "sshd",
            f"Failed password for invalid user {marker} from 203.0.113.77 port 4242 ssh2",
        ],
        check=True,
        timeout=10,
    )
    found: list[dict[str, object]] = []
    deadline = time.monotonic() + 15
    while not found and time.monotonic() < deadline:
        page = httpx.get(
            f"{api}/api/v1/events",
            params={"q": marker, "since": "1h"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
        found = page["events"]
        if not found:
            time.sleep(0.1)
    assert found, "the logger line never became searchable"
    event = found[0]
    assert event["source"]["ip"] == "203.0.113.77"  # type: ignore[index]
    assert event["user"]["name"] == marker  # type: ignore[index]
    assert event["event"]["outcome"] == "failure"  # type: ignore[index]
    assert event["organization"]["id"] == "local"  # type: ignore[index]  # sender 127.0.0.1 is the loopback institution
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    log = (config.parent / "serve.log").read_text()
    assert "Sentinel is running" in log
    # The scheduler's per-run INFO lines (jobs run at start and every few seconds) stay out of the log.
    assert " INFO apscheduler" not in log
    # Everything the service wrote in its data directory is its user's alone (the database was 0644).
    data = config.parent / "data"
    written = {p.relative_to(data).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in data.rglob("*") if p.is_file()}
    assert {"sentinel.db", "ack.key", "ports.json"} <= written.keys()
    assert {name: m for name, m in written.items() if m != 0o600} == {}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
