"""The JSON API on a real app and a real SQLite store, through an in-process HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.config import Settings
from sentinel.events import make_event_id, new_event
from sentinel.inventory import Institution, Inventory
from sentinel.store.sqlite import SqliteStore

INVENTORY = Inventory(
    [
        Institution(id="moh", name="Ministry of Health", networks=["10.10.0.0/16"]),
        Institution(id="tra", name="Revenue Authority", networks=["10.20.0.0/16"]),
    ]
)


def _event(n: int, org: str, message: str) -> object:
    return new_event(
        event_id=make_event_id("test", f"{org}-{n}"),
        timestamp=datetime.now(UTC) - timedelta(minutes=n),
        dataset="system.auth",
        fields={
            "message": message,
            "organization": {"id": org},
            "source": {"ip": f"203.0.113.{n}"},
            "event": {"outcome": "failure"},
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "sentinel.db")
    s.setup()
    s.write_events([_event(i, "moh", f"Failed password for root {i}") for i in range(1, 6)])  # type: ignore[misc]
    s.write_events([_event(i, "tra", f"Failed password for admin {i}") for i in range(1, 4)])  # type: ignore[misc]
    yield s
    s.close()


@pytest.fixture
def client(store: SqliteStore) -> Iterator[TestClient]:
    app = create_app(Settings(), store=store, inventory=INVENTORY)
    with TestClient(app) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_api_endpoint_needs_a_token(client: TestClient) -> None:
    for path in ("/api/v1/events", "/api/v1/events/count", "/api/v1/status", "/api/v1/whoami", "/api/openapi.json"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "token" in response.json()["error"]
    assert client.get("/api/v1/events", headers=auth("snt_wrong")).status_code == 401
    assert client.get("/api/v1/events", headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_healthz_is_open_and_says_nothing_else(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_analyst_sees_all_institution_user_only_its_own(client: TestClient, store: SqliteStore) -> None:
    analyst = create_token(store, name="ana", role=Role.SOC_ANALYST)
    officer = create_token(store, name="tra-ict", role=Role.INSTITUTION, institution_id="tra", inventory=INVENTORY)
    everything = client.get("/api/v1/events", params={"since": "1d"}, headers=auth(analyst)).json()
    assert everything["total"] == 8
    own = client.get("/api/v1/events", params={"since": "1d"}, headers=auth(officer)).json()
    assert own["total"] == 3
    assert {e["organization"]["id"] for e in own["events"]} == {"tra"}
    # Asking for another institution is refused, not silently widened.
    response = client.get("/api/v1/events", params={"institution": "moh"}, headers=auth(officer))
    assert response.status_code == 400
    count = client.get("/api/v1/events/count", params={"q": "admin", "since": "1d"}, headers=auth(officer))
    assert count.json() == {"count": 3}


def test_query_filters_and_paging(client: TestClient, store: SqliteStore) -> None:
    token = create_token(store, name="ana", role=Role.SOC_ANALYST)
    page = client.get(
        "/api/v1/events", params={"q": "source.ip:203.0.113.2", "since": "1d"}, headers=auth(token)
    ).json()
    assert page["total"] == 2
    first = client.get("/api/v1/events", params={"since": "1d", "limit": 3}, headers=auth(token)).json()
    assert len(first["events"]) == 3 and first["next_after"]
    rest = client.get(
        "/api/v1/events", params={"since": "1d", "limit": 10, "after": first["next_after"]}, headers=auth(token)
    ).json()
    seen = [e["event"]["id"] for e in first["events"] + rest["events"]]
    assert len(seen) == len(set(seen)) == 8


def test_bad_requests_get_4xx_with_a_message(client: TestClient, store: SqliteStore) -> None:
    token = create_token(store, name="ana", role=Role.SOC_ANALYST)
    bad_since = client.get("/api/v1/events", params={"since": "yesterday"}, headers=auth(token))
    assert bad_since.status_code == 400 and "invalid duration" in bad_since.json()["error"]
    too_long = client.get("/api/v1/events", params={"since": "1000000d"}, headers=auth(token))
    assert too_long.status_code == 400 and "too long" in too_long.json()["error"]
    bad_limit = client.get("/api/v1/events", params={"limit": 0}, headers=auth(token))
    assert bad_limit.status_code == 422 and bad_limit.json()["problems"][0]["where"] == "query.limit"
    unknown = client.get("/api/v1/events", params={"institution": "nasa"}, headers=auth(token))
    assert unknown.status_code == 400
    assert client.get("/api/v1/events", params={"after": "x"}, headers=auth(token)).status_code == 400
    assert client.get("/api/v1/events", params={"q": '"open'}, headers=auth(token)).status_code == 400


def test_revoked_token_stops_working(client: TestClient, store: SqliteStore) -> None:
    from sentinel.auth import revoke_tokens

    token = create_token(store, name="temp", role=Role.ADMIN)
    assert client.get("/api/v1/whoami", headers=auth(token)).json()["role"] == "admin"
    assert revoke_tokens(store, "temp") == 1
    assert client.get("/api/v1/whoami", headers=auth(token)).status_code == 401


def test_tokens_are_stored_hashed(store: SqliteStore) -> None:
    from sentinel.auth import hash_token
    from sentinel.store.base import Scope

    token = create_token(store, name="x", role=Role.SOC_MANAGER)
    assert store.get_document("tokens", token, Scope.everything()) is None
    doc = store.get_document("tokens", hash_token(token), Scope.everything())
    assert doc is not None and token not in str(doc.body)


def test_every_route_but_healthz_and_sign_in_needs_credentials(client: TestClient) -> None:
    """Walk the app's own routes (API from its OpenAPI description, pages from the route table), so a
    new endpoint without authentication fails here."""
    from sentinel.web.routes import route_table

    app = client.app
    routes = [(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops]  # type: ignore[attr-defined]
    routes += [(m, r.path) for r in route_table(app) if r.kind != "static" for m in r.methods]  # type: ignore[arg-type]
    open_routes = {"/healthz", "/login", "/logout", "/ack/{token}"}
    checked = set()
    for method, route_path in routes:
        if route_path in open_routes or (method, route_path) in checked:
            continue
        path = route_path.replace("{", "").replace("}", "")
        form = {"csrf": "x", "text": "x"} if method == "POST" and not path.startswith("/api/") else None
        response = client.request(method, path, data=form, follow_redirects=False)
        # The API answers 401; pages send the browser to the sign-in page.
        assert response.status_code in (401, 303), (method, route_path, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"] == "/login", (method, route_path)
        checked.add((method, route_path))
    assert len(checked) >= 25


@pytest.mark.parametrize(
    "params",
    [
        {"after": "99999999999999999999999:x"},  # were 503 (the store could not bind the number)
        {"q": "a..b:x"},
        {"q": "@timestamp:abc"},
        {"q": "source.ip:10.1*"},
    ],
)
def test_bad_search_values_are_400_with_a_message(
    client: TestClient, store: SqliteStore, params: dict[str, str]
) -> None:
    token = create_token(store, name="ana", role=Role.SOC_ANALYST)
    response = client.get("/api/v1/events", params=params, headers=auth(token))
    assert response.status_code == 400, response.text
    assert response.json()["error"]
