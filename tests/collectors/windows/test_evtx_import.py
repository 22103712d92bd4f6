"""``.evtx`` files through the evtx package: same events as their JSON dumps."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from collectors.compressed import TruncatedInput
from collectors.windows.event_json import events_from_json_text
from collectors.windows.evtx_import import events_from_evtx, is_evtx
from sentinel.errors import CollectorError, ParseError
from sentinel.events import Event


def test_evtx_and_json_of_each_case_give_the_same_events(shared_data: Path) -> None:
    pairs = [(p, p.with_suffix(".json")) for p in sorted((shared_data / "sigma-regression").rglob("*.evtx"))]
    pairs = [(e, j) for e, j in pairs if j.exists()]
    assert len(pairs) >= 190
    total = 0
    for evtx_path, json_path in pairs:
        from_evtx = list(events_from_evtx(evtx_path))
        from_json = list(events_from_json_text(json_path.read_text(encoding="utf-8")))
        assert all(isinstance(e, Event) for e in from_evtx), evtx_path
        assert [e.id for e in from_evtx] == [e.id for e in from_json if isinstance(e, Event)], evtx_path
        for a, b in zip(from_evtx, from_json, strict=True):
            assert isinstance(a, Event) and isinstance(b, Event)
            assert a.timestamp == b.timestamp and a.dataset == b.dataset
            assert a.doc["winlog"]["event_id"] == b.doc["winlog"]["event_id"]
            # the published JSON dumps trim trailing blanks (and in one case re-case a path) in a
            # few values; the evtx parser returns what the log holds. Sigma compares caselessly.
            da, db = a.doc["winlog"]["event_data"], b.doc["winlog"]["event_data"]
            assert set(da) == set(db)
            assert all(str(da[k]).rstrip().lower() == str(db[k]).rstrip().lower() for k in da), evtx_path
        total += len(from_evtx)
    assert total >= 230


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
        results = list(events_from_evtx(cut, source=five_records))
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
