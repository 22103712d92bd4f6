"""Per-rule checkpoints in a real SQLite store, with optimistic concurrency."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentinel.detect.engine.checkpoints import Checkpoint, Checkpoints, MemoryCheckpoints
from sentinel.errors import ConflictError
from sentinel.store.sqlite import SqliteStore

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_save_get_and_move_forward(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    store.setup()
    try:
        book = Checkpoints(store)
        assert book.get("r1") is None
        saved = book.save(Checkpoint("r1", 1_000, 500), 60_000, NOW)
        again = book.get("r1")
        assert again == saved and again.until_ms == 60_000 and again.created_ms == 500
        moved = book.save(again, 120_000, NOW)
        assert Checkpoints(store).get("r1") == moved
        assert book.reset("r1") and book.get("r1") is None
    finally:
        store.close()


def test_two_runners_cannot_both_move_a_checkpoint(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    store.setup()
    try:
        Checkpoints(store).save(Checkpoint("r1", 0, 0), 60_000, NOW)
        a = Checkpoints(store).get("r1")
        b = Checkpoints(store).get("r1")
        assert a is not None and b is not None
        Checkpoints(store).save(a, 120_000, NOW)
        with pytest.raises(ConflictError):
            Checkpoints(store).save(b, 120_000, NOW)
        with pytest.raises(ConflictError):  # a second "first run" is refused too
            Checkpoints(store).save(Checkpoint("r1", 0, 0), 60_000, NOW)
    finally:
        store.close()


def test_memory_checkpoints_touch_no_store() -> None:
    book = MemoryCheckpoints()
    book.start_at("r1", 1_000, 0)
    cp = book.get("r1")
    assert cp is not None
    assert book.save(cp, 2_000, NOW).until_ms == 2_000 and book.get("r1").until_ms == 2_000  # type: ignore[union-attr]
