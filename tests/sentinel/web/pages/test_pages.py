"""Browser pages: sign-in with CSRF, scoped overview and search, escaping of log content."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.config import Settings
from sentinel.events import new_event
from sentinel.inventory import Institution, Inventory
from sentinel.store.sqlite import SqliteStore


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, SqliteStore]]:
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    store.write_events(
        [
            new_event(
                event_id="e1",
                timestamp=datetime.now(UTC),
                dataset="system.auth",
                fields={"message": "<script>alert(1)</script> {{ 7*7 }}", "organization": {"id": "moh"}},
            )
        ]
    )
    inventory = Inventory([Institution(id="moh", name="MoH")])
    with TestClient(create_app(Settings(), store=store, inventory=inventory)) as client:
        yield client, store
    store.close()


def login(client: TestClient, token: str) -> int:
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return client.post("/login", data={"token": token, "csrf": csrf.group(1)}, follow_redirects=False).status_code


def test_pages_need_sign_in(setup: tuple[TestClient, SqliteStore]) -> None:
    client, _ = setup
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/events", follow_redirects=False).status_code == 303


def test_login_needs_csrf_and_a_valid_token(setup: tuple[TestClient, SqliteStore]) -> None:
    client, store = setup
    client.get("/login")
    assert client.post("/login", data={"token": "x", "csrf": "forged"}, follow_redirects=False).status_code == 400
    assert login(client, "snt_not-a-token") == 401
    token = create_token(store, name="ana", role=Role.SOC_ANALYST)
    assert login(client, token) == 303
    overview = client.get("/")
    assert overview.status_code == 200 and "Collection overview" in overview.text


def test_log_content_is_escaped(setup: tuple[TestClient, SqliteStore]) -> None:
    client, store = setup
    assert login(client, create_token(store, name="ana", role=Role.SOC_ANALYST)) == 303
    page = client.get("/events", params={"since": "1h"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "{{ 7*7 }}" in page.text  # shown literally, never evaluated
