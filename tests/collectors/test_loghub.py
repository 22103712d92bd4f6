"""Acceptance: loghub's OpenSSH, Linux and Apache samples against their structured CSVs.

Each CSV row is loghub's parse of one line: date parts, component/pid and content. Every line
must normalise (no dead letters) and agree with its row. The last line of each file has no
trailing newline, which is how a tailed file's last line arrives.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.normalize import Normalizer
from collectors.records import RawRecord
from sentinel.events import Event
from sentinel.inventory import Inventory

pytestmark = pytest.mark.shared_data

ZONE = ZoneInfo("Africa/Dar_es_Salaam")


def read(shared_data: Path, name: str) -> tuple[list[bytes], list[dict[str, str]]]:
    raw = (shared_data / "loghub" / name).read_bytes()
    assert not raw.endswith(b"\n")  # the case the brief calls out
    lines = raw.split(b"\n")
    with (shared_data / "loghub" / f"{name}_structured.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(lines) == len(rows) == 2000
    return lines, rows


def normalize_file(lines: list[bytes], name: str, received: datetime, hint: str | None = None) -> list[Event]:
    normalizer = Normalizer(Inventory([]), observer_hostname="test")
    events = []
    offset = 0
    for index, line in enumerate(lines):
        # As the file tailer sends them: each line with its newline, except the unterminated last one.
        raw = line if index == len(lines) - 1 else line + b"\n"
        record = RawRecord(
            raw=raw,
            received_at=received.timestamp(),
            origin=f"/var/log/{name}:{offset}",
            transport="file",
            source_name=f"/var/log/{name}",
            dataset_hint=hint,
            host_hint="loghub",
        )
        events.append(normalizer.normalize(record))
        offset += len(raw)
    return events


def test_openssh_2k(shared_data: Path) -> None:
    lines, rows = read(shared_data, "OpenSSH_2k.log")
    # The sample spans Dec 10 - Jan 4 of one winter: received early January, so December is last year.
    events = normalize_file(lines, "OpenSSH_2k.log", datetime(2017, 1, 10, tzinfo=ZONE))
    for event, row in zip(events, rows, strict=True):
        local = event.timestamp.astimezone(ZONE)
        assert local.strftime("%b") == row["Date"], row["LineId"]
        assert local.day == int(row["Day"]), row["LineId"]
        assert local.strftime("%H:%M:%S") == row["Time"], row["LineId"]
        assert local.year == (2016 if row["Date"] == "Dec" else 2017)
        assert event.get("process.pid") == int(row["Pid"]), row["LineId"]
        assert event.get("process.name") == "sshd"
        assert event.get("host.hostname") == row["Component"]  # loghub's "Component" is the host here
        assert event.message == row["Content"], row["LineId"]
        assert event.dataset == "system.auth"
        index = int(row["LineId"]) - 1
        original = lines[index].decode()  # CRLF file: the tailer's line ends "\r\n", one of which is stripped
        assert event.get("event.original") == (original if index == 1999 else original.removesuffix("\r"))
    # Every template that names an address (or a host name, rhost=...) yields source.ip or source.domain.
    templates_with_ip = {"E1", "E2", "E3", "E8", "E9", "E10", "E13", "E19", "E20", "E24", "E25", "E26", "E27"}
    for event, row in zip(events, rows, strict=True):
        if row["EventId"] in templates_with_ip:
            assert event.get("source.ip") or event.get("source.domain"), (row["LineId"], row["Content"])
    actions = Counter(str(e.get("event.action")) for e in events)
    # E9 + E10 + E8 (Failed), E1 (Accepted), E14 ("message repeated 2 times: [ Failed password ...]")
    assert actions["ssh_login"] == 383 + 135 + 4 + 1 + 2
    assert actions["invalid_user"] == 113 + 113 + 135  # E13, E12, E21 ("check pass; user unknown")
    assert actions["ssh_break_in_attempt"] == 85
    assert actions["authentication_failure"] == 110 + 384 + 2 + 6 + 2  # E19, E20, E15, E16, E17
    outcomes = Counter(str(e.get("event.outcome")) for e in events)
    assert outcomes["success"] >= 1 and outcomes["failure"] > 1500


def test_linux_2k(shared_data: Path) -> None:
    lines, rows = read(shared_data, "Linux_2k.log")
    events = normalize_file(lines, "Linux_2k.log", datetime(2005, 8, 1, tzinfo=ZONE))
    for event, row in zip(events, rows, strict=True):
        local = event.timestamp.astimezone(ZONE)
        assert local.strftime("%b") == row["Month"], row["LineId"]
        assert local.day == int(row["Date"]), row["LineId"]
        assert local.strftime("%H:%M:%S") == row["Time"], row["LineId"]
        assert event.get("host.hostname") == row["Level"]  # loghub's "Level" column holds the host here
        if " " not in row["Component"]:  # "syslogd 1.4.1" is not an RFC 3164 tag
            assert event.get("process.name") == row["Component"], row["LineId"]
            assert event.message == row["Content"], row["LineId"]
            if row["PID"]:
                assert event.get("process.pid") == int(row["PID"]), row["LineId"]
        else:  # "syslogd 1.4.1: restart." and login's "-- root[2421]: ROOT LOGIN ON tty2" have no parsable tag
            tag = f"{row['Component']}[{row['PID']}]" if row["PID"] else row["Component"]
            assert event.message == f"{tag}: {row['Content']}", row["LineId"]
    by_dataset = Counter(e.dataset for e in events)
    assert by_dataset["system.auth"] == 677 + 172 + 2 + 2  # sshd, su, login, gdm through pam_unix
    failures = [e for e in events if e.get("event.action") == "authentication_failure"]
    remote = [e for e in failures if "rhost= " not in str(e.get("event.original")) + " "]
    assert len(failures) - len(remote) == 1  # gdm on the console: "rhost=" is empty
    assert remote and all(e.get("source.ip") or e.get("source.domain") for e in remote)


def test_apache_2k(shared_data: Path) -> None:
    lines, rows = read(shared_data, "Apache_2k.log")
    for hint in ("apache.error", None):  # the file's configured dataset, and detection without one
        events = normalize_file(lines, "Apache_2k.log", datetime(2006, 1, 1, tzinfo=ZONE), hint=hint)
        for event, row in zip(events, rows, strict=True):
            assert event.dataset == "apache.error"
            local = event.timestamp.astimezone(ZONE)
            assert local.strftime("%a %b %d %H:%M:%S %Y") == row["Time"], row["LineId"]
            assert event.get("log.level") == row["Level"], row["LineId"]
            client = event.get("source.ip")
            expected = f"[client {client}] {event.message}" if client else event.message
            assert expected == row["Content"], row["LineId"]
    clients = Counter(str(e.get("source.ip")) for e in events if e.get("source.ip"))
    assert sum(clients.values()) == sum(1 for r in rows if r["Content"].startswith("[client "))
