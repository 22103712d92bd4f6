"""``/healthz`` and the status API on a real app: 503 with the reason while collection is degraded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.collection_health import CollectionHealth
from sentinel.config import Settings
from sentinel.inventory import Inventory
from sentinel.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "sentinel.db")
    s.setup()
    yield s
    s.close()


def test_healthz_is_503_with_the_reason_while_degraded_and_200_after(store: SqliteStore) -> None:
    health = CollectionHealth()
    with TestClient(create_app(Settings(), store=store, inventory=Inventory([]), collection_health=health)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        health.report("spool_unwritable", "No space left on device")
        answer = client.get("/healthz")
        assert answer.status_code == 503
        (problem,) = answer.json()["problems"]
        assert problem["kind"] == "spool_unwritable"
        assert problem["reason"] == "the spool cannot write received records"
        assert problem["since"]
        assert "No space" not in answer.text  # details only for signed-in users
        token = create_token(store, name="soc", role=Role.SOC_ANALYST)
        status = client.get("/api/v1/status", headers={"Authorization": f"Bearer {token}"}).json()
        assert status["collection_state"]["status"] == "degraded"
        assert status["collection_state"]["problems"][0]["detail"] == "No space left on device"
        health.clear("spool_unwritable")
        assert client.get("/healthz").status_code == 200
