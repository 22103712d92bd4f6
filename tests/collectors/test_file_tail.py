"""File tailing on real files: new lines, partial lines, rename rotation, copytruncate, restarts."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.file_tail import FileTailService, load_states
from collectors.spool import Spool, SpoolItem
from sentinel.config import FileSource, SpoolSettings
from tests.support.faults import file_size_limit

pytestmark = pytest.mark.timeout(120)


class Tail:
    """A tail service over one file, writing to a real spool; ``poll`` returns what it spooled."""

    def __init__(self, tmp: Path, log: Path, max_line_bytes: int = 65536) -> None:
        self.tmp = tmp
        self.log = log
        self.max_line_bytes = max_line_bytes
        self.spool = Spool(tmp / "spool", SpoolSettings(fsync="never"))
        self.spool.open()
        self.service = self.new_service()

    def new_service(self) -> FileTailService:
        source = FileSource(path=self.log, dataset="nginx.access", host="web01")
        return FileTailService(
            [source], self.spool, self.tmp / "tail_state.json", max_line_bytes=self.max_line_bytes, fsync_state=False
        )

    def restart(self) -> None:
        self.service.stop()
        self.service = self.new_service()

    def poll(self, times: int = 3) -> list[SpoolItem]:
        """A few passes (rotation waits one idle pass before switching files)."""
        for _ in range(times):
            for _ in range(100):
                _, more = self.service.poll_once(time.time())
                if not more:
                    break
        out: list[SpoolItem] = []
        while True:
            batch = self.spool.read_batch(10_000)
            if not batch.items:
                return out
            out.extend(batch.items)
            self.spool.commit(batch.end, len(batch.items))

    def close(self) -> None:
        self.service.stop()
        self.spool.close()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    return d / "app.log"


@pytest.fixture
def tail(tmp_path: Path, log: Path) -> Iterator[Tail]:
    log.write_bytes(b"")
    t = Tail(tmp_path, log)
    yield t
    t.close()


def write(path: Path, *lines: str, end: str = "\n") -> None:
    with open(path, "ab") as fh:
        fh.write("".join(f"{line}{end}" for line in lines).encode())


def raws(items: list[SpoolItem]) -> list[bytes]:
    return [i.record.raw for i in items]


def test_new_lines_and_partial_lines(tail: Tail, log: Path) -> None:
    write(log, "one", "two")
    with open(log, "ab") as fh:
        fh.write(b"thr")
    assert raws(tail.poll()) == [b"one", b"two"]
    with open(log, "ab") as fh:
        fh.write(b"ee\r\nfour\n")
    items = tail.poll()
    assert raws(items) == [b"three", b"four"]
    record = items[0].record
    assert record.transport == "file"
    assert record.origin == f"file:{log}:0:8"  # generation 0, byte offset of "three"
    assert (record.source_name, record.dataset_hint, record.host_hint) == (str(log), "nginx.access", "web01")
    assert tail.poll() == []


def test_rename_rotation_finishes_the_old_file_first(tail: Tail, log: Path) -> None:
    write(log, "a1", "a2")
    assert raws(tail.poll()) == [b"a1", b"a2"]
    os.rename(log, log.with_name("app.log.1"))
    write(log.with_name("app.log.1"), "a3")  # the writer had not reopened yet
    with open(log.with_name("app.log.1"), "ab") as fh:
        fh.write(b"a4 no newline")
    write(log, "b1", "b2")
    items = tail.poll()
    assert raws(items) == [b"a3", b"a4 no newline", b"b1", b"b2"]
    assert items[0].record.origin.endswith(":0:6")
    assert items[2].record.origin == f"file:{log}:1:0"  # the next generation starts at 0


def test_copytruncate_reads_the_copy_then_the_new_content(tail: Tail, log: Path) -> None:
    write(log, "c1", "c2")
    assert raws(tail.poll()) == [b"c1", b"c2"]
    write(log, "c3", "c4")  # written after our last read...
    shutil.copyfile(log, log.with_name("app.log.1"))  # ...then logrotate copies and truncates
    with open(log, "r+b") as fh:
        fh.truncate(0)
    write(log, "d1")
    assert raws(tail.poll()) == [b"c3", b"c4", b"d1"]
    write(log, "d2")
    assert raws(tail.poll()) == [b"d2"]


def test_truncate_and_regrow_past_the_offset_is_noticed(tail: Tail, log: Path) -> None:
    write(log, "short")
    assert raws(tail.poll()) == [b"short"]
    with open(log, "r+b") as fh:
        fh.truncate(0)
    write(log, "a much longer first line than before", "next")
    assert raws(tail.poll()) == [b"a much longer first line than before", b"next"]


def test_resume_after_restart_without_loss_or_duplicates(tail: Tail, log: Path) -> None:
    write(log, "r1", "r2")
    assert raws(tail.poll()) == [b"r1", b"r2"]
    tail.service.stop()
    write(log, "r3")
    tail.service = tail.new_service()
    assert raws(tail.poll()) == [b"r3"]


def test_rotation_while_stopped_is_finished_from_the_renamed_file(tail: Tail, log: Path) -> None:
    write(log, "s1")
    assert raws(tail.poll()) == [b"s1"]
    tail.service.stop()
    write(log, "s2")
    os.rename(log, log.with_name("app.log.1"))
    write(log, "t1")
    tail.service = tail.new_service()
    assert raws(tail.poll()) == [b"s2", b"t1"]


def test_copytruncate_while_stopped_is_finished_from_the_copy(tail: Tail, log: Path) -> None:
    write(log, "u1")
    assert raws(tail.poll()) == [b"u1"]
    tail.service.stop()
    write(log, "u2")
    shutil.copyfile(log, log.with_name("app.log.1"))
    with open(log, "r+b") as fh:
        fh.truncate(0)
    write(log, "v1")
    tail.service = tail.new_service()
    assert raws(tail.poll()) == [b"u2", b"v1"]


def test_a_crash_before_the_state_is_saved_rereads_with_the_same_ids(tail: Tail, log: Path, tmp_path: Path) -> None:
    write(log, "w1")
    tail.poll()
    saved = (tmp_path / "tail_state.json").read_bytes()
    write(log, "w2", "w3")
    first = tail.poll()
    os.rename(log, log.with_name("app.log.1"))
    write(log, "x1")
    first += tail.poll()
    # The lines reached the spool, then the process died before the state file was replaced.
    (tmp_path / "tail_state.json").write_bytes(saved)
    tail.service.stop()
    tail.service = tail.new_service()
    again = tail.poll()
    assert [(i.record.origin, i.record.raw) for i in again] == [(i.record.origin, i.record.raw) for i in first]


def test_overlong_line_is_a_dead_letter(tmp_path: Path, log: Path) -> None:
    log.write_bytes(b"ok\n" + b"L" * 5000 + b"\nafter\n")
    t = Tail(tmp_path, log, max_line_bytes=1024)
    try:
        items = t.poll()
    finally:
        t.close()
    assert raws(items) == [b"ok", b"L" * 1024, b"after"]
    assert [i.reject for i in items] == [None, "line longer than 1024 bytes (got 5000)", None]


def test_state_file_records_generation_inode_and_offset(tail: Tail, log: Path, tmp_path: Path) -> None:
    write(log, "z1")
    tail.poll()
    state = load_states(tmp_path / "tail_state.json")[str(log)]
    st = os.stat(log)
    assert (state.generation, state.dev, state.ino, state.offset) == (0, st.st_dev, st.st_ino, 3)


def test_a_file_that_appears_later_is_followed(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    t = Tail(tmp_path, log)
    try:
        assert t.poll() == []
        write(log, "appeared")
        assert raws(t.poll()) == [b"appeared"]
    finally:
        t.close()


def test_a_file_waits_where_it_is_while_the_spool_refuses(tail: Tail, log: Path) -> None:
    write(log, *(f"before {n} " + "x" * 200 for n in range(2000)))  # about 450 KB: the spool segment grows past it
    assert len(tail.poll()) == 2000
    (segment,) = (tail.tmp / "spool").glob("*.seg")
    read_up_to = log.stat().st_size
    write(log, *(f"during {n}" for n in range(100)))
    with file_size_limit(segment.stat().st_size + 100):  # the spool's next write fails: "disk full"
        spooled, _ = tail.service.poll_once(time.time())
        assert spooled == 0
        assert tail.service.blocked
        assert load_states(tail.tmp / "tail_state.json")[str(log)].offset == read_up_to  # not past refused lines
    items = tail.poll()
    assert raws(items) == [f"during {n}".encode() for n in range(100)]  # once each, in order
    assert not tail.service.blocked
