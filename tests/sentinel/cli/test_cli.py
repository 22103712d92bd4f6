"""The CLI in-process (typer's runner) on real files and a real SQLite store."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from sentinel.cli import app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    runner = CliRunner()
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "configuration and inventory are valid" in result.output
    return tmp_path / "sentinel.yaml"


def run(config: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["--config", str(config), *args], catch_exceptions=False)


def summary(result: object) -> dict:  # type: ignore[type-arg]
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return orjson.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[attr-defined,no-any-return]


def test_init_does_not_overwrite(config: Path) -> None:
    config.write_text(config.read_text() + "\n# mine\n")
    result = CliRunner().invoke(app, ["init", str(config.parent)])
    assert "kept existing" in result.output
    assert config.read_text().endswith("# mine\n")


def test_ingest_twice_stores_once_and_keeps_bad_lines(config: Path) -> None:
    first = summary(run(config, "ingest", "--json", str(FIXTURES / "auth.log")))
    # 6 lines: 5 events and one line of binary garbage kept as a dead letter
    assert (first["read"], first["stored"], first["duplicates"], first["dead_letters"]) == (6, 5, 0, 1)
    second = summary(run(config, "ingest", "--json", str(FIXTURES / "auth.log")))
    # the garbage line is already kept: counted as a duplicate, not a second dead letter
    assert (second["read"], second["stored"], second["duplicates"], second["dead_letters"]) == (6, 0, 6, 0)
    count = run(config, "search", "", "--since", "3650d", "--count")
    assert count.output.strip() == "5"  # type: ignore[attr-defined]
    failed = run(config, "search", "source.ip:203.0.113.9", "--since", "3650d", "--json")
    docs = [orjson.loads(line) for line in failed.output.splitlines()]  # type: ignore[attr-defined]
    assert len(docs) == 2
    assert {d["user"]["name"] for d in docs} == {"admin", "root"}


def test_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    from subprocess import run as sh

    bad = tmp_path / "sentinel.yaml"
    bad.write_text("store:\n  backend: sqlite\n  colour: blue\n")
    sentinel = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "sentinel"
    result = sh([str(sentinel), "--config", str(bad), "status"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{bad}:3 (store.colour): unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_file_and_unknown_institution(config: Path) -> None:
    from sentinel.errors import SentinelError

    with pytest.raises(SentinelError, match="not a readable file"):
        run(config, "ingest", "/nonexistent/file.log")
    with pytest.raises(SentinelError, match="unknown institution"):
        run(config, "search", "", "--institution", "nasa")


def test_since_takes_the_same_durations_everywhere(config: Path) -> None:
    from sentinel.errors import SentinelError

    for command in (["search", ""], ["detect"]):
        assert run(config, *command, "--since", "2w").exit_code == 0  # type: ignore[attr-defined]
        assert run(config, *command, "--since", "3600").exit_code == 0  # type: ignore[attr-defined]
        with pytest.raises(SentinelError, match="too long"):
            run(config, *command, "--since", "1000000d")


@pytest.mark.shared_data
def test_ingest_openssh_2k(config: Path, shared_data: Path) -> None:
    log = shared_data / "loghub" / "OpenSSH_2k.log"
    first = summary(run(config, "ingest", "--json", str(log)))
    assert (first["read"], first["stored"], first["duplicates"], first["dead_letters"]) == (2000, 2000, 0, 0)
    second = summary(run(config, "ingest", "--json", str(log)))
    assert (second["read"], second["stored"], second["duplicates"], second["dead_letters"]) == (2000, 0, 2000, 0)
    count = run(config, "search", "", "--since", "3650d", "--count")
    assert count.output.strip() == "2000"  # type: ignore[attr-defined]


@pytest.mark.shared_data
def test_ingest_packet_capture_finds_the_masscan_sweep(config: Path, shared_data: Path) -> None:
    capture = shared_data / "pcaps" / "esnet-curated" / "masscan" / "tcp_0_1000_20190821.pcap"
    first = summary(run(config, "ingest", "--json", str(capture)))
    assert first["importer"] == "packet capture"
    assert first["stored"] >= 1
    again = summary(run(config, "ingest", "--json", str(capture)))
    assert again["stored"] == 0 and again["duplicates"] == first["stored"]
    found = run(config, "search", "event.action:port_scan", "--since", "36500d", "--json")
    docs = [orjson.loads(line) for line in found.output.splitlines()]  # type: ignore[attr-defined]
    assert [d["source"]["ip"] for d in docs] == ["172.31.15.102"]
    # ...and the finding reaches an alert through the detection engine (back-test: stores nothing).
    detected = run(config, "detect", "--since", "36500d", "--rule", "sensor_port_scan", "--json")
    alerts = [orjson.loads(line) for line in detected.output.splitlines() if line.startswith("{")]  # type: ignore[attr-defined]
    assert len(alerts) == 1
    assert alerts[0]["group_key"]["source.ip"] == "172.31.15.102"
    assert "attack.t1046" in alerts[0]["tags"]


@pytest.mark.shared_data
def test_ingest_windows_events_as_evtx_and_json(config: Path, shared_data: Path, tmp_path: Path) -> None:
    case = next(p.parent for p in sorted((shared_data / "sigma-regression").rglob("*.evtx")))
    evtx = next(case.glob("*.evtx"))
    as_json = next(case.glob("*.json"))
    from_evtx = summary(run(config, "ingest", "--json", str(evtx)))
    assert from_evtx["importer"] == "windows evtx" and from_evtx["stored"] >= 1 and from_evtx["dead_letters"] == 0
    from_json = summary(run(config, "ingest", "--json", str(as_json)))
    assert from_json["importer"] == "windows event json"
    # The same records through either door have the same ids (computer, channel, record id): no duplicates.
    assert from_json["stored"] == 0 and from_json["duplicates"] == from_evtx["stored"]
    found = run(config, "search", "winlog.channel:*", "--since", "36500d", "--count")
    assert int(found.output.strip()) == from_evtx["stored"]  # type: ignore[attr-defined]
    # A record that is not a Windows event is kept as a dead letter with the reason; the others are stored.
    broken = tmp_path / "broken.json"
    broken.write_text(as_json.read_text().rstrip() + '\n{"Event": {"NoSystem": 1}}\n')
    mixed = summary(run(config, "ingest", "--json", str(broken)))
    assert mixed["dead_letters"] == 1 and mixed["duplicates"] == from_evtx["stored"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "a..b:x"], "invalid field name 'a..b'"),
        (["search", "@timestamp:abc"], "'abc' is not a time"),
        (["search", "user.name:\udcff"], "not valid text"),  # undecodable bytes in argv
        (["search", "", "--since", "1000000d"], ""),  # a look-back before year 1 (was a traceback)
        (["search", "", "--since", "99999999999d"], ""),
    ],
)
def test_bad_values_are_one_message_and_exit_2(
    config: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentinel.cli import main

    monkeypatch.setattr(sys, "argv", ["sentinel", "--config", str(config), *args])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_ingest_of_a_truncated_evtx_imports_what_is_there_and_exits_non_zero(
    config: Path, shared_data: Path, tmp_path: Path
) -> None:
    source = next((shared_data / "sigma-regression").rglob("0b9ad457-2554-44c1-82c2-d56a99c42377.evtx"))
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(source.read_bytes()[:12_000])  # all five records are before the cut
    result = run(config, "ingest", "--json", str(cut))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    report = orjson.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[attr-defined]
    assert (report["read"], report["stored"], report["truncated"]) == (5, 5, True)
    assert "cut short at byte 12000" in report["errors"][-1]
    table = run(config, "ingest", str(cut))
    assert table.exit_code == 1  # type: ignore[attr-defined]
    assert "truncated" in table.output  # type: ignore[attr-defined]


def test_ingest_reads_a_gzip_rotated_log(config: Path, tmp_path: Path) -> None:
    import gzip

    rotated = tmp_path / "auth.log.2.gz"
    rotated.write_bytes(gzip.compress((FIXTURES / "auth.log").read_bytes()))
    report = summary(run(config, "ingest", "--json", str(rotated)))
    assert (report["read"], report["stored"], report["dead_letters"], report["compression"]) == (6, 5, 1, "gzip")
