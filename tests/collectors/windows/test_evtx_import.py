"""``.evtx`` files through the evtx package: same events as their JSON dumps."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.windows.event_json import events_from_json_text
from collectors.windows.evtx_import import events_from_evtx, is_evtx
from sentinel.errors import CollectorError
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
    assert all(isinstance(r, (Event, Exception)) for r in results)
