"""A real SQLite store, settings, inventory and the response services on a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from playbooks.wiring import Response, build_response
from sentinel.config import Settings
from sentinel.detect.rulebook.pack import RulePack
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore
from tests.playbooks.support import Clock, make_inventory, make_settings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.db")
    s.setup()
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inventory() -> Inventory:
    return make_inventory()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def response(settings: Settings, store: SqliteStore, inventory: Inventory, clock: Clock) -> Response:
    """The shipped library with every service real; rule names unresolved (the library uses ids and tags)."""
    return build_response(settings, store, inventory, pack=RulePack(), clock=clock)
