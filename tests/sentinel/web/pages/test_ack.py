"""``/ack/{token}`` on the real app: GET shows only, POST acknowledges; bad links get a clear page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.config import Settings
from sentinel.incidents.model import IncidentState
from sentinel.incidents.service import IncidentService
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.notify.conftest import NASTY_USER, Clock, open_incident, settings_for
from tests.sentinel.notify.conftest import clock as clock
from tests.sentinel.notify.conftest import inventory as inventory
from tests.sentinel.notify.conftest import store as store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def client(settings: Settings, store: SqliteStore, inventory: Inventory) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store=store, inventory=inventory)) as c:
        yield c


@pytest.fixture
def signer(settings: Settings) -> AckSigner:
    return AckSigner.from_data_dir(settings.resolved_data_dir())  # the file the app reads too


def test_get_shows_only_title_institution_severity(
    client: TestClient,
    settings: Settings,
    store: SqliteStore,
    clock: Clock,
    signer: AckSigner,
) -> None:
    incident = open_incident(store, settings, clock, user=NASTY_USER)
    token = signer.make(incident.id, "moh", "ict@moh.go.tz", timedelta(hours=1))
    page = client.get(f"/ack/{token}")
    assert page.status_code == 200
    assert "Ministry of Health" in page.text and "High" in page.text
    assert "web01" not in page.text and "ssh_brute_force" not in page.text  # no hosts, rules, alerts
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    for _ in range(3):  # link scanners may fetch it many times
        client.get(f"/ack/{token}")
    service = IncidentService(store, settings)
    assert service.get(incident.id, Scope.everything()).state is IncidentState.NEW
    assert not [e for e in service.audit(incident.id, Scope.everything()) if e.actor.startswith("contact:")]


def test_post_acknowledges_once_as_the_contact(
    client: TestClient,
    settings: Settings,
    store: SqliteStore,
    clock: Clock,
    signer: AckSigner,
) -> None:
    incident = open_incident(store, settings, clock, institution="tra", ip="10.20.0.7")
    token = signer.make(incident.id, "tra", "tehama@tra.go.tz", timedelta(hours=1))
    done = client.post(f"/ack/{token}")
    assert done.status_code == 200 and "Tukio limethibitishwa" in done.text  # Swahili institution
    again = client.post(f"/ack/{token}")
    assert again.status_code == 200 and "lilikwisha thibitishwa" in again.text
    service = IncidentService(store, settings)
    after = service.get(incident.id, Scope.everything())
    assert after.state is IncidentState.ACKNOWLEDGED and after.institution_acknowledged_by == "contact:tehama@tra.go.tz"
    entries = [e for e in service.audit(incident.id, Scope.everything()) if e.actor == "contact:tehama@tra.go.tz"]
    assert {e.field for e in entries} >= {"state", "institution_acknowledged_by"}
    assert len([e for e in entries if e.field == "state"]) == 1


def test_expired_forged_and_foreign_links(
    client: TestClient,
    settings: Settings,
    store: SqliteStore,
    clock: Clock,
    signer: AckSigner,
) -> None:
    incident = open_incident(store, settings, clock)
    past = AckSigner.from_data_dir(settings.resolved_data_dir(), clock=lambda: clock() - timedelta(days=1000))
    expired = past.make(incident.id, "moh", "ict@moh.go.tz", timedelta(hours=1))
    for method in (client.get, client.post):
        response = method(f"/ack/{expired}")
        assert response.status_code == 400 and "expired" in response.text and "Kiungo" in response.text
    forged = AckSigner(b"k" * 32).make(incident.id, "moh", "ict@moh.go.tz", timedelta(hours=1))
    for bad in (forged, "garbage", "a.b"):
        assert client.post(f"/ack/{bad}").status_code == 403
    # a genuine link of another institution cannot reach this incident (scope is the token's institution)
    foreign = signer.make(incident.id, "tra", "tehama@tra.go.tz", timedelta(hours=1))
    assert client.post(f"/ack/{foreign}").status_code == 404
    assert IncidentService(store, settings).get(incident.id, Scope.everything()).state is IncidentState.NEW
