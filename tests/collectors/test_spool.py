"""The on-disk spool: round trip, checkpoint, segment rolling and deletion, torn-tail recovery."""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import zlib
from pathlib import Path

import pytest

from collectors.records import RawRecord
from collectors.spool import Position, Spool, SpoolItem, SpoolUnavailable, encode_item, write_file_atomically
from sentinel.collection_health import CollectionHealth
from sentinel.config import SpoolSettings
from sentinel.errors import CollectorError
from tests.support.faults import file_size_limit, grow_tmpfs, small_tmpfs

pytestmark = pytest.mark.timeout(60)


def rec(n: int, **kw: object) -> RawRecord:
    base: dict[str, object] = {
        "raw": f"<34>Oct 11 22:14:15 host sshd[1]: line {n}".encode(),
        "received_at": 1700000000.25 + n,
        "origin": "syslog:127.0.0.1",
        "transport": "tcp",
        "peer": "127.0.0.1",
    }
    base.update(kw)
    return RawRecord(**base)  # type: ignore[arg-type]


def open_spool(path: Path, **settings: object) -> Spool:
    spool = Spool(path, SpoolSettings(**settings))  # type: ignore[arg-type]
    spool.open()
    return spool


def drain_all(spool: Spool, batch: int = 1000) -> list[SpoolItem]:
    out: list[SpoolItem] = []
    while True:
        b = spool.read_batch(batch)
        if not b.items:
            return out
        out.extend(b.items)
        spool.commit(b.end, len(b.items))


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "spool")
    full = RawRecord(
        raw=b"\xff\x00binary \xc3\xa9",
        received_at=12.5,
        origin="file:/var/log/a.log:0:123",
        transport="file",
        peer=None,
        source_name="/var/log/a.log",
        dataset_hint="nginx.access",
        host_hint="web-01",
    )
    spool.append([SpoolItem(full), SpoolItem(rec(1), "line longer than 1024 bytes (got 5000)"), rec(2)])
    batch = spool.read_batch(10)
    assert [i.record for i in batch.items] == [full, rec(1), rec(2)]
    assert [i.reject for i in batch.items] == [None, "line longer than 1024 bytes (got 5000)", None]
    spool.close()


def test_replay_from_checkpoint_after_reopen(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "spool")
    spool.append([rec(n) for n in range(10)])
    first = spool.read_batch(4)
    spool.commit(first.end, len(first.items))
    spool.read_batch(3)  # read, never committed: must come back after a restart
    spool.close()

    again = open_spool(tmp_path / "spool")
    assert again.pending_records == 6
    replay = drain_all(again)
    assert [i.record for i in replay] == [rec(n) for n in range(4, 10)]
    assert again.pending_records == 0
    again.close()


def test_segments_roll_and_confirmed_ones_are_deleted(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory, segment_bytes=4096)
    for chunk in range(20):
        spool.append([rec(chunk * 10 + n) for n in range(10)])
    segments = sorted(directory.glob("*.seg"))
    assert len(segments) > 3
    got = drain_all(spool, batch=37)
    assert [i.record for i in got] == [rec(n) for n in range(200)]
    remaining = sorted(directory.glob("*.seg"))
    assert remaining == [segments[-1]]
    spool.close()


def test_torn_tail_is_cut_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    spool.append([rec(n) for n in range(5)])
    spool.close()
    segment = sorted(directory.glob("*.seg"))[-1]
    whole = segment.stat().st_size
    frame = encode_item(rec(99))
    with open(segment, "ab") as fh:  # a crash in the middle of the next write
        fh.write(frame[: len(frame) // 2])

    with caplog.at_level(logging.WARNING, logger="collectors.spool"):
        again = open_spool(directory)
    assert "a torn frame at byte" in caplog.text
    assert segment.stat().st_size == whole
    again.append([rec(5)])
    assert [i.record for i in drain_all(again)] == [rec(n) for n in range(6)]
    again.close()


@pytest.mark.parametrize("garbage", [b"\x01\x02", b"\xff\xff\xff\xff" + b"x" * 40])
def test_garbage_tail_is_cut(tmp_path: Path, garbage: bytes) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    spool.append([rec(1)])
    spool.close()
    segment = sorted(directory.glob("*.seg"))[-1]
    with open(segment, "ab") as fh:
        fh.write(garbage)
    again = open_spool(directory)
    assert [i.record for i in drain_all(again)] == [rec(1)]
    again.close()


def test_checksum_mismatch_is_cut(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    spool.append([rec(1), rec(2)])
    spool.close()
    segment = sorted(directory.glob("*.seg"))[-1]
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # flip a byte inside the last record
    segment.write_bytes(bytes(data))
    again = open_spool(directory)
    assert [i.record for i in drain_all(again)] == [rec(1)]
    again.close()


def test_damaged_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    spool.append([rec(1)])
    b = spool.read_batch(1)
    spool.commit(b.end, 1)
    spool.close()
    (directory / "checkpoint").write_bytes(b"garbage")
    with pytest.raises(CollectorError, match="checkpoint"):
        Spool(directory, SpoolSettings()).open()


def test_read_batch_waits_for_a_writer(tmp_path: Path) -> None:
    import threading

    spool = open_spool(tmp_path / "spool")
    timer = threading.Timer(0.05, lambda: spool.append([rec(1)]))
    timer.start()
    batch = spool.read_batch(1, wait_seconds=30)
    timer.join()
    assert [i.record for i in batch.items] == [rec(1)]
    spool.close()


@pytest.mark.parametrize("policy", ["always", "batch", "never"])
def test_every_fsync_policy_keeps_records(tmp_path: Path, policy: str) -> None:
    spool = open_spool(tmp_path / "spool", fsync=policy, fsync_interval_seconds=0.001)
    for n in range(3):
        spool.append([rec(n)])
    spool.sync_if_due()
    spool.append([rec(3)])
    spool.sync()
    spool.close()
    again = open_spool(tmp_path / "spool")
    assert [i.record for i in drain_all(again)] == [rec(n) for n in range(4)]
    again.close()


def test_checkpoint_survives_and_pending_bytes_shrink(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "spool")
    spool.append([rec(n) for n in range(3)])
    assert spool.pending_bytes() > 0
    drain_all(spool)
    assert spool.pending_bytes() == 0
    assert spool.checkpoint == spool.end
    spool.close()
    again = open_spool(tmp_path / "spool")
    assert again.pending_records == 0
    assert again.read_batch(10).items == []
    again.close()


def test_write_file_atomically_replaces(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_file_atomically(target, b"one")
    write_file_atomically(target, b"two")
    assert target.read_bytes() == b"two"
    assert not (tmp_path / "state.json.tmp").exists()
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_position_order() -> None:
    assert Position(1, 500) < Position(2, 0)


def test_a_frame_larger_than_a_read_chunk_is_read_whole(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "spool")
    big = rec(1, raw=b"<34>" + b"x" * (5 * 1024 * 1024))  # larger than the 4 MB read chunk
    spool.append([rec(0), big, rec(2)])
    got = drain_all(spool, batch=2)
    assert [i.record for i in got] == [rec(0), big, rec(2)]
    spool.close()


def test_a_byte_changed_on_disk_after_open_skips_only_that_frame(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    spool.append([rec(n) for n in range(5)])
    (segment,) = directory.glob("*.seg")
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0x01
    segment.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="collectors.spool"):
        got = drain_all(spool)
    assert [i.record for i in got] == [rec(n) for n in range(4)]
    assert "a damaged frame at byte" in caplog.text
    assert spool.skipped_bytes == len(encode_item(rec(4), seed=spool.seed))
    spool.close()


# torn and failed writes ------------------------------------------------------------------
def test_a_torn_frame_followed_by_valid_frames_keeps_them_all_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The disk-full report: a 60-byte torn frame, then many valid ones; a restart must keep them."""
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    spool.append([rec(n) for n in range(3)])
    (segment,) = directory.glob("*.seg")
    torn = encode_item(rec(99), seed=spool.seed)[:60]
    with open(segment, "ab") as fh:  # what a write cut short by a full disk left behind
        fh.write(torn)
    # ...and what the next writes appended after it once space returned
    frames = b"".join(encode_item(rec(n), seed=spool.seed) for n in range(3, 300))
    with open(segment, "ab") as fh:
        fh.write(frames)
    spool.close()
    with caplog.at_level(logging.WARNING, logger="collectors.spool"):
        again = open_spool(directory)
    assert again.pending_records == 300
    assert "skipping 60 bytes, keeping the intact frames after it" in caplog.text
    assert [i.record for i in drain_all(again)] == [rec(n) for n in range(300)]
    again.close()


def test_the_reader_resynchronises_after_a_damaged_frame_while_running(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    spool.append([rec(n) for n in range(10)])
    (segment,) = directory.glob("*.seg")
    data = bytearray(segment.read_bytes())
    frame = len(encode_item(rec(0), seed=spool.seed))
    data[-5 * frame + 2] ^= 0xFF  # damage the marker of the sixth frame
    data[-3 * frame + 20] ^= 0xFF  # and a header byte of the eighth
    segment.write_bytes(bytes(data))
    got = [i.record for i in drain_all(spool, batch=3)]
    assert got == [rec(n) for n in (0, 1, 2, 3, 4, 6, 8, 9)]
    spool.append([rec(10)])
    assert [i.record for i in drain_all(spool)] == [rec(10)]
    spool.close()


def test_a_write_cut_short_is_cut_back_and_refused_then_the_next_one_works(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    health = CollectionHealth()
    spool = Spool(directory, SpoolSettings(min_free_mb=0), health=health)
    spool.open()
    spool.append([rec(n) for n in range(5)])
    (segment,) = directory.glob("*.seg")
    size = segment.stat().st_size
    big = [rec(n, raw=b"<34>" + b"x" * 3000) for n in range(5, 10)]
    with file_size_limit(size + 4000), pytest.raises(SpoolUnavailable, match="File too large"):
        spool.append(big)  # the kernel writes the first 4000 bytes, then refuses
    assert segment.stat().st_size == size  # cut back: no torn frame left behind
    assert health.active("spool_unwritable")
    assert spool.unavailable == "File too large"
    spool.append(big)
    assert not health.active("spool_unwritable")
    assert [i.record for i in drain_all(spool)] == [rec(n) for n in range(5)] + big
    spool.close()
    again = open_spool(directory)  # and nothing to repair at the next start
    assert again.pending_records == 0
    again.close()


def test_an_embedded_frame_in_a_torn_record_is_never_taken_for_a_record(tmp_path: Path) -> None:
    """A sender cannot forge a spool record by sending a frame inside a line: it cannot know the seed."""
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    forged = rec(7, peer="10.99.0.1", origin="syslog:10.99.0.1")
    for seed in (0, spool.seed + 1):
        line = b"<34>hello " + encode_item(forged, seed=seed) + b" tail"
        (segment,) = directory.glob("*.seg")
        with open(segment, "ab") as fh:
            fh.write(encode_item(rec(1, raw=line), seed=spool.seed)[:-5])  # torn inside the embedded frame's end
    spool.close()
    again = open_spool(directory)
    assert again.pending_records == 0
    assert drain_all(again) == []
    again.close()


def test_a_damaged_segment_header_skips_that_segment_only(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory, segment_bytes=4096)
    records = [rec(n, raw=b"<34>" + b"s" * 500) for n in range(30)]
    for record in records:
        spool.append([record])  # several segments
    spool.close()
    first, *rest = sorted(directory.glob("*.seg"))
    assert len(rest) >= 2
    data = bytearray(first.read_bytes())
    data[10] ^= 0xFF
    first.write_bytes(bytes(data))
    again = open_spool(directory)
    got = [i.record for i in drain_all(again)]
    assert 0 < len(got) < 30
    assert got == records[30 - len(got) :]
    again.close()


def test_the_floor_refuses_records_before_the_disk_is_full(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", 8) as disk:
        health = CollectionHealth()
        spool = Spool(disk / "spool", SpoolSettings(min_free_mb=3, fsync="never"), health=health)
        spool.open()
        line = [rec(0, raw=b"<34>" + b"y" * 60_000)]
        accepted = 0
        with pytest.raises(SpoolUnavailable, match="below the floor of 3 MB"):
            for _ in range(1000):
                accepted += spool.append(line)
        assert 3 * 1024 * 1024 - 70_000 <= spool.free_bytes() <= 3 * 1024 * 1024 + 70_000
        assert health.active("spool_unwritable")
        assert len(drain_all(spool)) == accepted
        spool.close()


def test_a_full_disk_refuses_and_recovers_when_space_returns(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", 4) as disk:
        spool = Spool(disk / "spool", SpoolSettings(min_free_mb=0, fsync="never"))
        spool.open()
        batch = [rec(n, raw=b"<34>" + b"z" * 9000) for n in range(10)]
        accepted = 0
        with pytest.raises(SpoolUnavailable, match="No space left on device"):
            for _ in range(1000):
                accepted += spool.append(batch)
        grow_tmpfs(disk, 16)
        accepted += spool.append(batch)
        assert len(drain_all(spool)) == accepted
        spool.close()
        again = Spool(disk / "spool", SpoolSettings(min_free_mb=0))
        assert again.open().truncated_bytes == 0  # the failed write left nothing torn
        again.close()


def test_a_full_disk_at_start_still_opens_and_writes_once_space_returns(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", 1) as disk:
        spool = open_spool(disk / "spool", min_free_mb=0, fsync="never")
        spool.append([rec(1)])
        spool.close()
        filler = disk / "filler"
        with open(filler, "wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"f" * 65536)
        health = CollectionHealth()
        again = Spool(disk / "spool", SpoolSettings(min_free_mb=0), health=health)
        assert again.open().pending_records == 1
        assert health.active("spool_unwritable")
        batch = again.read_batch(10)
        assert [i.record for i in batch.items] == [rec(1)]
        with pytest.raises(OSError, match="No space left"):  # the drain retries this (tests/collectors/test_drain.py)
            again.commit(batch.end, 1)
        with pytest.raises(SpoolUnavailable):
            again.append([rec(2)])
        filler.unlink()
        again.commit(batch.end, 1)
        again.append([rec(2)])
        assert not health.active("spool_unwritable")
        assert [i.record for i in drain_all(again)] == [rec(2)]
        again.close()


# the previous format ----------------------------------------------------------------------
def v1_frame(record: RawRecord) -> bytes:
    """A frame as the previous spool format wrote it (no marker, no seed, no flags)."""
    strings = [record.origin, record.peer, record.source_name, record.dataset_hint, record.host_hint, None]
    encoded = [b"" if s is None else s.encode() for s in strings]
    lengths = [0xFFFF if s is None else len(e) for s, e in zip(strings, encoded, strict=True)]
    payload = struct.pack("<dB6H", record.received_at, 1, *lengths) + b"".join(encoded) + record.raw
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def test_a_spool_of_the_previous_format_is_migrated_at_open(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    first = b"".join(v1_frame(rec(n)) for n in range(5))
    (directory / "000000000003.seg").write_bytes(first)
    (directory / "000000000004.seg").write_bytes(b"".join(v1_frame(rec(n)) for n in range(5, 9)) + b"\x01\x02")
    checkpoint = struct.pack("<4sQQ", b"SPC1", 3, len(v1_frame(rec(0))) * 2)  # two already stored
    (directory / "checkpoint").write_bytes(checkpoint + struct.pack("<I", zlib.crc32(checkpoint)))
    spool = open_spool(directory)
    assert spool.pending_records == 7
    assert not (directory / "000000000003.seg").exists()
    assert [i.record for i in drain_all(spool)] == [rec(n) for n in range(2, 9)]
    spool.append([rec(9)])
    spool.close()
    again = open_spool(directory)
    assert [i.record for i in drain_all(again)] == [rec(9)]
    again.close()
