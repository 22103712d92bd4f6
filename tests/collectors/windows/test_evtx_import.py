"""``.evtx`` files through the evtx package: same events as their JSON dumps."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from evtx import PyEvtxParser

from collectors.compressed import TruncatedInput
from collectors.importers import ImportContext, ImportOptions, import_file
from collectors.normalize import Normalizer
from collectors.windows.event_json import events_from_json_text
from collectors.windows.evtx_import import events_from_evtx, is_evtx
from sentinel.config import Settings
from sentinel.errors import CollectorError, ParseError
from sentinel.events import Event
from sentinel.inventory import Inventory
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore


def test_evtx_and_json_of_each_case_give_the_same_events(shared_data: Path) -> None:
    pairs = [(p, p.with_suffix(".json")) for p in sorted((shared_data / "sigma-regression").rglob("*.evtx"))]
    pairs = [(e, j) for e, j in pairs if j.exists()]
    assert len(pairs) >= 190
    total = same_records = 0
    for evtx_path, json_path in pairs:
        from_evtx = list(events_from_evtx(evtx_path))
        from_json = list(events_from_json_text(json_path.read_text(encoding="utf-8")))
        assert all(isinstance(e, Event) for e in from_evtx), evtx_path
        for a, b in zip(from_evtx, from_json, strict=True):
            assert isinstance(a, Event) and isinstance(b, Event)
            assert a.timestamp == b.timestamp and a.dataset == b.dataset
            assert a.doc["winlog"]["event_id"] == b.doc["winlog"]["event_id"]
            # the published JSON dumps trim trailing blanks (and in one case re-case a path) in a
            # few values; the evtx parser returns what the log holds. Sigma compares caselessly.
            da, db = a.doc["winlog"]["event_data"], b.doc["winlog"]["event_data"]
            assert set(da) == set(db)
            assert all(str(da[k]).rstrip().lower() == str(db[k]).rstrip().lower() for k in da), evtx_path
            # The id is the whole record's: the same where the dump kept every value, another where it
            # changed one (a different record, as far as anyone can tell from its content).
            assert (a.id == b.id) == (a.doc["winlog"] == b.doc["winlog"] and a.doc.get("host") == b.doc.get("host"))
            same_records += a.id == b.id
        total += len(from_evtx)
    assert total >= 230
    assert same_records >= 120  # most dumps are exact


def test_not_an_evtx_file_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "x.evtx"
    bogus.write_bytes(b"this is not an event log")
    assert not is_evtx(bogus)
    with pytest.raises(CollectorError, match="not an EVTX file"):
        list(events_from_evtx(bogus))


def test_truncated_evtx_reports_instead_of_crashing(shared_data: Path, tmp_path: Path) -> None:
    source = next((shared_data / "sigma-regression").rglob("*.evtx"))
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(source.read_bytes()[: 4096 + 600])  # header + a slice of the first chunk
    results = list(events_from_evtx(cut))
    assert all(isinstance(r, (Event, Exception, TruncatedInput)) for r in results)
    assert isinstance(results[-1], TruncatedInput)


def _sysmon(record_id: int, event_code: int, second: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F"}},
                "EventID": event_code,
                "TimeCreated": {"#attributes": {"SystemTime": f"2020-10-17T12:01:{second:02d}.123456Z"}},
                "EventRecordID": record_id,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "MSEDGEWIN10",
                "Security": {"#attributes": {"UserID": "S-1-5-18"}},
            },
            "EventData": data,
        }
    }


def _two_captures(tmp_path: Path) -> tuple[Path, Path]:
    """Records like those of ``discovery_meterpreter_ps_cmd_process_listing_sysmon_10.evtx`` and
    ``Sysmon_meterpreter_ReflectivePEInjection_to_notepad_.evtx``: one host, record ids 8340-8352 in
    both, different events (process creations in one, process accesses in the other)."""
    listing = [
        _sysmon(8340 + n, 1, n, {"Image": "C:\\Windows\\System32\\rundll32.exe", "CommandLine": f"rundll32 #{n}"})
        for n in range(13)
    ]
    injection = [
        _sysmon(8340 + n, 10, n, {"SourceImage": "C:\\Windows\\System32\\notepad.exe", "GrantedAccess": "0x1fffff"})
        for n in range(13)
    ]
    first, second = tmp_path / "listing.json", tmp_path / "injection.json"
    first.write_bytes(orjson.dumps(listing))
    second.write_bytes(orjson.dumps(injection))
    return first, second


@pytest.fixture
def importing(tmp_path: Path) -> Iterator[ImportContext]:
    """What ``sentinel ingest`` imports files with: a real store, an empty inventory."""
    store = SqliteStore(tmp_path / "sentinel.db")
    store.setup()
    yield ImportContext(
        settings=Settings(),
        normalizer=Normalizer(Inventory([]), observer_hostname="sentinel-test"),
        inventory=Inventory([]),
        store=store,
        options=ImportOptions(),
    )
    store.close()


def test_two_captures_of_one_host_reusing_record_ids_are_all_stored(tmp_path: Path, importing: ImportContext) -> None:
    listing, injection = _two_captures(tmp_path)
    first = import_file(listing, importing)
    second = import_file(injection, importing)
    # Were 13 + 0 ("duplicates 13") while the id was computer:channel:record id.
    assert (first.stored, first.duplicates, second.stored, second.duplicates) == (13, 0, 13, 0)
    again = import_file(injection, importing)
    assert (again.read, again.stored, again.duplicates) == (13, 0, 13)
    assert importing.store.count_events(EventQuery(), Scope.everything()) == 26


def test_real_evtx_files_imported_twice_are_stored_once(shared_data: Path, importing: ImportContext) -> None:
    paths = sorted((shared_data / "sigma-regression").rglob("*.evtx"))
    # What the files hold, counted apart from Sentinel: distinct records, by their whole content.
    distinct = {
        orjson.dumps(orjson.loads(r["data"]), option=orjson.OPT_SORT_KEYS)
        for path in paths
        for r in PyEvtxParser(str(path)).records_json()
    }
    first = [import_file(path, importing) for path in paths]
    assert sum(s.dead_letters for s in first) == 0
    # A few cases ship the very same record: stored once. Every other record is its own event.
    assert sum(s.stored for s in first) == len(distinct) >= 230
    second = [import_file(path, importing) for path in paths]
    assert sum(s.stored for s in second) == 0
    assert sum(s.duplicates for s in second) == sum(s.read for s in second) == sum(s.read for s in first)


FIVE_RECORDS = "0b9ad457-2554-44c1-82c2-d56a99c42377.evtx"  # one chunk, five records


def record_offsets(data: bytes) -> list[int]:
    """Where each record of the first chunk starts (record header: magic, size, ...)."""
    offsets = []
    at = 4096 + 512
    while data[at : at + 4] == b"\x2a\x2a\x00\x00":
        offsets.append(at)
        at += struct.unpack_from("<I", data, at + 4)[0]
    return offsets


@pytest.fixture
def five_records(shared_data: Path) -> Path:
    return next((shared_data / "sigma-regression").rglob(FIVE_RECORDS))


def test_a_cut_evtx_gives_the_records_before_the_cut_and_says_it_is_truncated(
    five_records: Path, tmp_path: Path
) -> None:
    data = five_records.read_bytes()
    whole = [e for e in events_from_evtx(five_records) if isinstance(e, Event)]
    offsets = record_offsets(data)
    assert len(whole) == len(offsets) == 5
    for kept in (0, 3, 5):
        cut = tmp_path / f"cut{kept}.evtx"
        cut.write_bytes(data[: offsets[kept] + 100] if kept < 5 else data[:12_000])  # 100 bytes into the next record
        results = list(events_from_evtx(cut, named_as=five_records))
        events = [r for r in results if isinstance(r, Event)]
        assert [e.id for e in events] == [e.id for e in whole[:kept]]
        assert not [r for r in results if isinstance(r, ParseError)]
        (report,) = [r for r in results if isinstance(r, TruncatedInput)]
        assert f"{kept} records read before the cut" in report.reason
        assert f"cut short at byte {cut.stat().st_size} inside chunk 1" in report.reason


def test_missing_chunks_are_reported_even_when_the_cut_falls_between_chunks(five_records: Path, tmp_path: Path) -> None:
    data = five_records.read_bytes()
    header = bytearray(data[:4096])
    struct.pack_into("<H", header, 42, 3)  # the header counts three chunks...
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    cut = tmp_path / "two-of-three.evtx"
    cut.write_bytes(bytes(header) + data[4096:] + data[4096:])  # ...and two are there
    results = list(events_from_evtx(cut))
    assert len([r for r in results if isinstance(r, Event)]) == 10
    assert isinstance(results[-1], TruncatedInput)
    assert "1 more chunk(s) of the 3 its header counts are missing" in results[-1].reason
