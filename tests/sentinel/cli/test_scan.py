"""``sentinel scan`` in-process on a real loopback listener, real nmap and a real SQLite store."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from collectors.scan.targets import TargetError
from sentinel.cli.context import CliState
from sentinel.cli.scan import register
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context, config: Path = typer.Option(..., "--config")) -> None:
        ctx.obj = CliState(config_path=config)

    register(app)
    return app


@pytest.fixture
def ssh_like() -> Iterator[tuple[str, int]]:
    """A listener on a loopback address that greets like an old OpenSSH."""
    sock = socket.socket()
    sock.bind(("127.66.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.sendall(b"SSH-2.0-OpenSSH_6.6.1p1 Ubuntu-2ubuntu2\r\n")
                    conn.settimeout(2)
                    conn.recv(256)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "127.66.0.1", sock.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    sock.close()


@pytest.fixture
def config(tmp_path: Path, ssh_like: tuple[str, int]) -> Path:
    (tmp_path / "inventory.yaml").write_text(
        "institutions:\n  - id: lab\n    name: Lab Agency\n    networks: [127.66.0.0/30]\n"
    )
    cfg = tmp_path / "sentinel.yaml"
    cfg.write_text(
        f"data_dir: data\ninventory: inventory.yaml\nscan:\n  profiles:\n"
        f"    quick: {{kind: services, ports: [{ssh_like[1]}], timing: 5, host_timeout_seconds: 60}}\n"
    )
    return cfg


def test_scan_shows_a_summary_and_stores_events(config: Path, ssh_like: tuple[str, int]) -> None:
    result = CliRunner().invoke(
        _app(), ["--config", str(config), "scan", ssh_like[0], "--institution", "lab", "--profile", "quick"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "hosts up" in result.output and "finding: eol" in result.output
    assert f"tcp/{ssh_like[1]}" in result.output and "OpenSSH 6.6.1p1" in result.output
    store = SqliteStore(config.parent / "data" / "sentinel.db")
    try:
        assert store.count_events(EventQuery(datasets=("nmap.port",)), Scope.institution("lab")) == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    "args",
    [
        ["--institution", "lab", "--", "-oN /etc/passwd"],
        ["127.0.0.1; rm -rf /", "--institution", "lab"],
        ["127.0.0.1; rm -rf /"],
        ["10.9.9.9", "--institution", "lab"],
        ["--", "--script=http-shellshock"],
        ["not-in-inventory.example.org", "--institution", "lab"],
    ],
)
def test_refused_targets_never_reach_nmap(config: Path, args: list[str]) -> None:
    with pytest.raises(TargetError, match="refusing target"):
        CliRunner().invoke(_app(), ["--config", str(config), "scan", *args], catch_exceptions=False)


def test_options_in_the_target_position_are_not_options(config: Path) -> None:
    result = CliRunner().invoke(_app(), ["--config", str(config), "scan", "-oN", "/etc/passwd"])
    assert result.exit_code != 0 and "No such option" in result.output
