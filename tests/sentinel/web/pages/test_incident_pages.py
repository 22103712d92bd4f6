"""Incident pages on a real app and store: scoped to the user, CSRF on forms, content escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.config import Settings
from sentinel.incidents.service import IncidentService
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import make_alert

INVENTORY = Inventory([Institution(id="moh", name="MoH"), Institution(id="tra", name="TRA")])


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, SqliteStore, dict[str, str]]]:
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    settings = Settings(data_dir=tmp_path / "data")
    service = IncidentService(store, settings)
    ids = {}
    for n, org in ((1, "moh"), (2, "tra")):
        alert = make_alert(store, n, institution=org, user="<script>x</script>")
        incident, _ = service.open_or_attach(alert, key=f"{org}|k", title=f"{org} brute force <b>", actor="playbook:t")
        ids[org] = incident.id
    with TestClient(create_app(settings, store=store, inventory=INVENTORY)) as client:
        yield client, store, ids
    store.close()


def sign_in(client: TestClient, token: str) -> str:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert csrf is not None
    assert (
        client.post("/login", data={"token": token, "csrf": csrf.group(1)}, follow_redirects=False).status_code == 303
    )
    return csrf.group(1)


def test_institution_user_sees_only_its_own(env: tuple[TestClient, SqliteStore, dict[str, str]]) -> None:
    client, store, ids = env
    sign_in(
        client, create_token(store, name="tra-ict", role=Role.INSTITUTION, institution_id="tra", inventory=INVENTORY)
    )
    listing = client.get("/incidents").text
    assert "tra brute force" in listing and "moh brute force" not in listing
    assert client.get(f"/incidents/{ids['moh']}").status_code == 404
    page = client.get(f"/incidents/{ids['tra']}")
    assert page.status_code == 200
    assert "tra brute force &lt;b&gt;" in page.text  # titles come from rules and logs: escaped
    assert "<script>x</script>" not in page.text


def test_comment_and_acknowledge_need_csrf_and_are_audited(env: tuple[TestClient, SqliteStore, dict[str, str]]) -> None:
    client, store, ids = env
    csrf = sign_in(client, create_token(store, name="ana", role=Role.SOC_ANALYST))
    url = f"/incidents/{ids['moh']}"
    forged = client.post(f"{url}/comment", data={"text": "x", "csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403  # the CSRF token belongs to the server-side session
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(url).text).group(1)  # type: ignore[union-attr]
    done = client.post(
        f"{url}/comment", data={"text": "{{ 7*7 }} checked the host", "csrf": csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    assert client.post(f"{url}/acknowledge", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    page = client.get(url).text
    assert "{{ 7*7 }} checked the host" in page
    incident = IncidentService(store, Settings()).get(ids["moh"], Scope.everything())
    assert incident.state.value == "acknowledged" and incident.acknowledged_by == "analyst:ana"
    assert "analyst:ana" in page  # the audit trail on the page


def test_pages_need_sign_in(env: tuple[TestClient, SqliteStore, dict[str, str]]) -> None:
    client, _, ids = env
    assert client.get("/incidents", follow_redirects=False).status_code == 303
    assert (
        client.post(f"/incidents/{ids['moh']}/acknowledge", data={"csrf": "x"}, follow_redirects=False).headers[
            "location"
        ]
        == "/login"
    )
