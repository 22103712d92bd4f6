"""The drain: spool → normaliser → SQLite store → checkpoint, replay, dead letters, store outages."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collectors.dead_letters import dead_letter_document
from collectors.drain import Drain
from collectors.normalize import Normalizer
from collectors.records import RawRecord
from collectors.spool import Spool, SpoolItem
from sentinel.config import SpoolSettings
from sentinel.inventory import Inventory, parse_inventory
from sentinel.status import COLLECTOR_STATS_ID
from sentinel.store.base import EventQuery, FieldFilter, Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument

pytestmark = pytest.mark.timeout(120)

SETTINGS = SpoolSettings(fsync="never", batch_size=100, batch_wait_seconds=0)
INVENTORY = """
institutions:
  - id: moh
    name: Ministry of Health
    networks: [10.10.0.0/16]
"""


def inventory() -> Inventory:
    return parse_inventory(YamlDocument.parse(INVENTORY, "inventory.yaml"))


def line(n: int, peer: str = "10.10.0.5") -> RawRecord:
    raw = f"<38>Oct 11 22:14:15 web01 sshd[4242]: Failed password for root from 203.0.113.{n % 250} port {n} ssh2"
    return RawRecord(raw=raw.encode(), received_at=1_700_000_000.0, origin=f"syslog:{peer}", transport="tcp", peer=peer)


class Setup:
    def __init__(self, tmp: Path, *, busy_timeout: float = 10.0) -> None:
        self.tmp = tmp
        self.store = SqliteStore(tmp / "sentinel.db", busy_timeout=busy_timeout)
        self.store.setup()
        self.spool = self.open_spool()
        self.drain = self.make_drain()

    def open_spool(self) -> Spool:
        spool = Spool(self.tmp / "spool", SETTINGS)
        spool.open()
        return spool

    def make_drain(self) -> Drain:
        normalizer = Normalizer(inventory(), observer_hostname="sentinel-test")
        return Drain(self.spool, self.store, normalizer, SETTINGS, inventory=inventory(), stats_interval=3600)

    def run_until_empty(self) -> None:
        for _ in range(1000):
            if not self.drain.run_once():
                return
        raise AssertionError("the drain did not empty the spool")

    def count(self) -> int:
        return self.store.count_events(EventQuery(), Scope.everything())

    def close(self) -> None:
        self.spool.close()
        self.store.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = Setup(tmp_path)
    yield s
    s.close()


def test_records_become_events_and_the_checkpoint_moves(setup: Setup) -> None:
    setup.spool.append([line(n) for n in range(250)])
    setup.run_until_empty()
    assert setup.count() == 250
    assert setup.spool.pending_records == 0
    assert setup.spool.checkpoint == setup.spool.end
    found = setup.store.search_events(
        EventQuery(filters=(FieldFilter("source.port", "eq", 7),)), Scope.institution("moh"), limit=5
    )
    assert found.total == 1
    assert found.events[0].get("organization.id") == "moh"
    stats = setup.drain.stats()
    assert (stats.stored, stats.duplicates, stats.processed, stats.spool_depth) == (250, 0, 250, 0)


def test_replay_after_a_crash_stores_nothing_twice(setup: Setup) -> None:
    setup.spool.append([line(n) for n in range(120)])
    setup.run_until_empty()
    # A crash after the store write and before the checkpoint: the checkpoint file is gone.
    setup.spool.close()
    (setup.tmp / "spool" / "checkpoint").unlink()
    setup.spool = setup.open_spool()
    assert setup.spool.pending_records == 120
    setup.drain = setup.make_drain()
    setup.run_until_empty()
    stats = setup.drain.stats()
    assert (stats.stored, stats.duplicates) == (0, 120)
    assert setup.count() == 120


def test_unparseable_and_rejected_records_are_dead_letters(setup: Setup) -> None:
    garbage = RawRecord(
        raw=bytes(range(1, 32)) * 10, received_at=1.0, origin="syslog:10.10.0.9", transport="udp", peer="10.10.0.9"
    )
    too_long = RawRecord(
        raw=b"<34>" + b"x" * 100, received_at=1.0, origin="syslog:192.0.2.1", transport="tcp", peer="192.0.2.1"
    )
    setup.spool.append([line(1), SpoolItem(garbage), SpoolItem(too_long, "line longer than 104 bytes (got 5000)")])
    setup.run_until_empty()
    assert setup.count() == 1
    letters = setup.store.find_documents("dead_letters", Scope.everything())
    reasons = sorted(d.body["reason"] for d in letters)
    assert len(reasons) == 2
    assert reasons[0].startswith("binary data")
    assert reasons[1] == "line longer than 104 bytes (got 5000)"
    # Attributed by the sender's address, so the institution sees its own dead letters.
    assert [d.body["peer"] for d in setup.store.find_documents("dead_letters", Scope.institution("moh"))] == [
        "10.10.0.9"
    ]
    assert setup.drain.stats().dead_letters == 2

    # A replay keeps one copy of each dead letter.
    setup.spool.close()
    (setup.tmp / "spool" / "checkpoint").unlink()
    setup.spool = setup.open_spool()
    setup.drain = setup.make_drain()
    setup.run_until_empty()
    assert setup.store.count_documents("dead_letters", Scope.everything()) == 2
    assert setup.drain.stats().dead_letters == 0


def garbage(n: int) -> RawRecord:
    raw = bytes(range(1, 32)) * 3 + b"%d" % n
    return RawRecord(raw=raw, received_at=1.0, origin="syslog:10.10.0.9", transport="udp", peer="10.10.0.9")


def test_a_batch_of_dead_letters_some_already_kept_keeps_each_once(setup: Setup) -> None:
    # One kept by an earlier run (a crash before the checkpoint), one sent twice in this batch.
    doc_id, body, institution_id = dead_letter_document(
        garbage(1), "binary data: kept before", inventory=setup.drain.inventory
    )
    setup.store.create_document("dead_letters", doc_id, body, institution_id=institution_id)
    setup.spool.append([garbage(0), garbage(1), garbage(2), line(7), garbage(2), garbage(3)])
    setup.run_until_empty()
    letters = setup.store.find_documents("dead_letters", Scope.everything(), limit=100)
    assert len(letters) == 4
    assert sorted(d.body["raw_b64"] == body["raw_b64"] for d in letters) == [False, False, False, True]
    assert next(d for d in letters if d.id == doc_id).body["reason"] == "binary data: kept before"
    assert setup.drain.stats().dead_letters == 3  # the new ones
    assert setup.count() == 1


def test_a_flood_of_garbage_is_kept_whole(setup: Setup) -> None:
    setup.spool.append([garbage(n) for n in range(450)])
    setup.run_until_empty()
    assert setup.store.count_documents("dead_letters", Scope.everything()) == 450
    assert setup.drain.stats().dead_letters == 450
    assert setup.spool.pending_records == 0


def test_a_store_outage_is_retried_and_nothing_is_confirmed_meanwhile(tmp_path: Path) -> None:
    s = Setup(tmp_path, busy_timeout=0.05)
    try:
        s.spool.append([line(n) for n in range(10)])
        blocker = sqlite3.connect(tmp_path / "sentinel.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
        s.drain.start()
        deadline = time.monotonic() + 30
        while s.drain.stats().failed_writes < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert s.drain.stats().failed_writes >= 2
        assert s.spool.pending_records == 10
        blocker.execute("ROLLBACK")
        blocker.close()
        deadline = time.monotonic() + 30
        while s.spool.pending_records and time.monotonic() < deadline:
            time.sleep(0.02)
        s.drain.stop()
        assert s.count() == 10
        assert s.spool.pending_records == 0
    finally:
        s.close()


def test_stop_while_the_store_refuses_leaves_records_in_the_spool(tmp_path: Path) -> None:
    s = Setup(tmp_path, busy_timeout=0.05)
    s.spool.append([line(n) for n in range(10)])
    blocker = sqlite3.connect(tmp_path / "sentinel.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    s.drain.start()
    deadline = time.monotonic() + 30
    while not s.drain.stats().failed_writes and time.monotonic() < deadline:
        time.sleep(0.02)
    s.spool.append([line(n) for n in range(10, 15)])  # a later batch must not be confirmed over the first
    s.drain.stop(timeout=5)
    blocker.execute("ROLLBACK")
    blocker.close()
    s.spool.close()
    s.spool = s.open_spool()
    assert s.spool.pending_records == 15
    s.drain = s.make_drain()
    s.run_until_empty()
    assert s.count() == 15
    s.close()


def test_stats_are_saved_for_the_status_command(setup: Setup) -> None:
    setup.spool.append([line(n) for n in range(5)])
    setup.run_until_empty()
    setup.drain.persist_stats()
    setup.drain.persist_stats()  # the second write replaces the first
    doc = setup.store.get_document("state", COLLECTOR_STATS_ID, Scope.everything())
    assert doc is not None
    assert doc.body["stored"] == 5
    assert doc.body["spool_depth"] == 0
    assert set(doc.body) >= {"received", "stored", "duplicates", "dead_letters", "spool_depth", "events_per_second"}


def test_drain_thread_follows_new_records(setup: Setup) -> None:
    setup.drain.start()
    try:
        for chunk in range(5):
            setup.spool.append([line(chunk * 10 + n) for n in range(10)])
        deadline = time.monotonic() + 30
        while setup.count() < 50 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        setup.drain.stop()
    assert setup.count() == 50


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_a_checkpoint_that_cannot_be_saved_is_retried_and_resumes_without_restart(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = setup.tmp / "spool" / "checkpoint.tmp"
    blocker.mkdir()  # the checkpoint's temporary file cannot be created: a real EISDIR from the kernel
    setup.spool.append([line(n) for n in range(10)])
    with caplog.at_level(logging.WARNING):
        setup.drain.start()
        try:
            assert wait_until(lambda: setup.drain.health.active("drain_stalled"))
            assert setup.count() == 10  # stored; only the confirmation waits
            assert setup.spool.pending_records == 10
            time.sleep(0.5)  # several attempts
            blocker.rmdir()
            assert wait_until(lambda: setup.spool.pending_records == 0)
            assert wait_until(lambda: not setup.drain.health.active("drain_stalled"))
            setup.spool.append([line(n) for n in range(10, 15)])  # still running
            assert wait_until(lambda: setup.count() == 15)
        finally:
            setup.drain.stop()
    assert setup.drain.alive is False
    stalled = [r for r in caplog.records if "cannot save the spool checkpoint" in r.getMessage()]
    assert len(stalled) == 1  # once when it started, not once per attempt
    assert "Is a directory" in stalled[0].getMessage()
    assert any("collection recovered" in r.getMessage() for r in caplog.records)


def test_a_spool_read_error_is_retried_and_the_drain_goes_on(setup: Setup) -> None:
    setup.spool.append([line(n) for n in range(10)])
    (segment,) = (setup.tmp / "spool").glob("*.seg")
    aside = segment.with_suffix(".aside")
    segment.rename(aside)
    segment.mkdir()  # reading it fails with EISDIR
    setup.drain.start()
    try:
        assert wait_until(lambda: setup.drain.health.active("drain_stalled"))
        assert "IsADirectoryError" in setup.drain.health.state().problems[0].detail
        assert setup.drain.alive
        segment.rmdir()
        aside.rename(segment)
        assert wait_until(lambda: setup.count() == 10)
        assert wait_until(lambda: not setup.drain.health.active("drain_stalled"))
    finally:
        setup.drain.stop()


def test_a_store_that_refuses_writes_is_a_health_problem_until_it_accepts(tmp_path: Path) -> None:
    s = Setup(tmp_path, busy_timeout=0.05)
    try:
        s.spool.append([line(n) for n in range(3)])
        blocker = sqlite3.connect(tmp_path / "sentinel.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        s.drain.start()
        assert wait_until(lambda: s.drain.health.active("store_refusing_writes"))
        state = s.drain.stats().collection
        assert state["status"] == "degraded"
        assert state["problems"][0]["kind"] == "store_refusing_writes"
        assert state["problems"][0]["since"]
        blocker.execute("ROLLBACK")
        blocker.close()
        assert wait_until(lambda: s.count() == 3)
        assert wait_until(lambda: not s.drain.health.active("store_refusing_writes"))
        assert s.drain.stats().collection == {"status": "ok", "problems": []}
        s.drain.stop()
    finally:
        s.close()


def test_a_fragment_left_by_a_disconnect_is_stored_and_tagged_partial(setup: Setup) -> None:
    setup.spool.append([SpoolItem(line(1)), SpoolItem(line(2), None, True)])
    setup.run_until_empty()
    events = setup.store.search_events(EventQuery(), Scope.everything(), limit=10).events
    tags = {str(e.doc["event"]["original"])[-12:]: e.doc.get("tags", []) for e in events}
    assert len(events) == 2
    assert sorted("partial" in t for t in tags.values()) == [False, True]


EDGE_LINES = [
    b"<34>1 0001-01-01T00:00:00+14:00 web01 app 12 ID47 - edge 1",
    b"<34>1 9999-12-31T23:59:59-12:00 web01 app 12 ID47 - edge 2",
    b"<34>1 2024-01-01T00:00:00Z web01 app 123456789012345678901 ID47 - edge 3",
    b"<34>1 2024-01-01T00:00:00Z web01 app 12 123456789012345678901234567890 - edge 4",
    b"<34>Jan  1 00:00:00 0001 web01 app: edge 5",
    b"<38>Oct 11 22:14:15 web01 sshd[123456789012345678901]: Failed password for root from 203.0.113.9 port "
    b"99999999999999999999999 ssh2",
]


def test_values_at_the_edges_are_stored_without_a_traceback(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    records = [line(0)._replace(raw=raw, origin=f"syslog:edge{n}") for n, raw in enumerate(EDGE_LINES)]
    with caplog.at_level(logging.WARNING):
        setup.spool.append(records)
        setup.run_until_empty()
    assert setup.count() == len(EDGE_LINES)
    assert setup.store.count_documents("dead_letters", Scope.everything()) == 0
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    docs = {
        e.doc["event"]["original"]: e.doc for e in setup.store.search_events(EventQuery(), Scope.everything()).events
    }
    first = docs[EDGE_LINES[0].decode()]
    assert "timestamp_out_of_range" in first["tags"]
    assert docs[EDGE_LINES[2].decode()]["log"]["syslog"]["procid"] == "123456789012345678901"
    assert docs[EDGE_LINES[3].decode()]["log"]["syslog"]["msgid"] == "123456789012345678901234567890"
    sshd = docs[EDGE_LINES[5].decode()]
    assert sshd["log"]["syslog"]["procid"] == "123456789012345678901"
    assert sshd["source"]["port"] == "99999999999999999999999"
