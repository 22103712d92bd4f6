"""A real SQLite store and an incident service on a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.config import Settings
from sentinel.incidents import IncidentService
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import Clock


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "s.db")
    s.setup()
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: SqliteStore, clock: Clock) -> IncidentService:
    return IncidentService(store, Settings(), clock=clock)
