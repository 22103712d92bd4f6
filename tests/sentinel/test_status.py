"""The status figures' collection state: live, saved with the figures, or stale when no longer saved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinel.collection_health import CollectionHealth
from sentinel.status import COLLECTOR_STATS_ID, build_status
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "sentinel.db")
    s.setup()
    yield s
    s.close()


def save_figures(store: SqliteStore, updated: datetime, health: CollectionHealth) -> None:
    body = {
        "updated_at": updated.isoformat(timespec="seconds"),
        "received": 10,
        "receivers": {"udp_kernel_drops": 7},
        "collection": health.state().as_dict(),
    }
    store.create_document("state", COLLECTOR_STATS_ID, body)


def test_the_saved_state_shows_each_problem_with_its_start(store: SqliteStore) -> None:
    health = CollectionHealth()
    health.report("spool_unwritable", "No space left on device")
    save_figures(store, NOW - timedelta(seconds=5), health)
    report = build_status(store, Scope.everything(), now=NOW)
    assert report.collection_state is not None
    assert report.collection_state.status == "degraded"
    (problem,) = report.collection_state.problems
    assert problem["kind"] == "spool_unwritable" and problem["detail"] == "No space left on device"
    assert problem["since"]
    assert report.collector["udp_kernel_drops"] == 7  # receiver figures shown with the others
    assert "collection" not in report.collector


def test_figures_no_longer_saved_are_a_problem_since_the_last_save(store: SqliteStore) -> None:
    save_figures(store, NOW - timedelta(minutes=10), CollectionHealth())
    state = build_status(store, Scope.everything(), now=NOW).collection_state
    assert state is not None and state.status == "degraded"
    assert state.problems[0]["kind"] == "not_reporting"
    assert state.problems[0]["since"] == (NOW - timedelta(minutes=10)).isoformat(timespec="seconds")


def test_the_live_state_wins_and_keeps_the_saved_details(store: SqliteStore) -> None:
    saved = CollectionHealth()
    saved.report("store_refusing_writes", "database or disk is full")
    save_figures(store, NOW - timedelta(minutes=10), saved)  # stale: the store could not save later
    live = CollectionHealth()
    live.report("store_refusing_writes", "")
    state = build_status(store, Scope.everything(), now=NOW, health=live).collection_state
    assert state is not None and (state.status, state.source) == ("degraded", "live")
    assert [p["kind"] for p in state.problems] == ["store_refusing_writes"]
    assert state.problems[0]["detail"] == "database or disk is full"


def test_institution_users_do_not_see_the_service_state(store: SqliteStore) -> None:
    save_figures(store, NOW, CollectionHealth())
    assert build_status(store, Scope.institution("moh"), now=NOW).collection_state is None
