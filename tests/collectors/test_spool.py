"""The on-disk spool: round trip, checkpoint, segment rolling and deletion, torn-tail recovery."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from collectors.records import RawRecord
from collectors.spool import Position, Spool, SpoolItem, encode_item, write_file_atomically
from sentinel.config import SpoolSettings
from sentinel.errors import CollectorError

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
    assert "frame cut short" in caplog.text
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


def test_a_byte_changed_on_disk_after_open_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    spool = open_spool(directory)
    spool.append([rec(n) for n in range(5)])
    (segment,) = directory.glob("*.seg")
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0x01
    segment.write_bytes(bytes(data))
    with pytest.raises(CollectorError, match="checksum"):
        spool.read_batch(10)
    spool.close()
