"""``/ack/{token}`` on the real app: GET shows only, POST acknowledges; bad links get a clear page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.app import create_app
from sentinel.config import Settings
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack
from sentinel.incidents.model import IncidentState
from sentinel.incidents.service import IncidentService
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckSigner
from sentinel.notify.factory import NoticeFactory
from sentinel.notify.notice import notice_writes
from sentinel.notify.responses import RuleTexts
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


def test_the_note_lands_on_the_incident_and_in_the_audit_trail_once(
    client: TestClient,
    settings: Settings,
    store: SqliteStore,
    clock: Clock,
    signer: AckSigner,
) -> None:
    incident = open_incident(store, settings, clock, institution="tra", ip="10.20.0.7")
    token = signer.make(incident.id, "tra", "tehama@tra.go.tz", timedelta(hours=1))
    page = client.get(f"/ack/{token}")
    assert 'name="note"' in page.text and "Tulichobaini / tulichofanya" in page.text  # Swahili label
    note = "Tumezuia 10.20.0.7; <b>hakuna</b> kuingia kulikofanikiwa."
    done = client.post(f"/ack/{token}", data={"note": note})
    assert done.status_code == 200 and "Maelezo yenu yameongezwa" in done.text
    assert client.post(f"/ack/{token}", data={"note": note}).status_code == 200  # a double click
    later = client.post(f"/ack/{token}", data={"note": "Seva imekaguliwa."})  # after the acknowledgement
    assert later.status_code == 200
    service = IncidentService(store, settings)
    after = service.get(incident.id, Scope.everything())
    assert after.state is IncidentState.ACKNOWLEDGED
    assert [(c.author, c.text) for c in after.comments] == [
        ("contact:tehama@tra.go.tz", note),
        ("contact:tehama@tra.go.tz", "Seva imekaguliwa."),
    ]
    trail = service.audit(incident.id, Scope.everything())
    assert [e.new for e in trail if e.field == "comments" and e.actor == "contact:tehama@tra.go.tz"] == [
        note,
        "Seva imekaguliwa.",
    ]
    # the acknowledgement and the first note are one change: same audit sequence number
    first = next(e for e in trail if e.field == "comments")
    ack = next(e for e in trail if e.field == "institution_acknowledged_by")
    assert first.id.split(".")[1] == ack.id.split(".")[1]


def test_a_note_too_long_is_refused_with_a_page_and_changes_nothing(
    client: TestClient,
    settings: Settings,
    store: SqliteStore,
    clock: Clock,
    signer: AckSigner,
) -> None:
    incident = open_incident(store, settings, clock)
    token = signer.make(incident.id, "moh", "ict@moh.go.tz", timedelta(hours=1))
    refused = client.post(f"/ack/{token}", data={"note": "x" * 5000})
    assert refused.status_code == 400 and "too long" in refused.text
    assert IncidentService(store, settings).get(incident.id, Scope.everything()).state is IncidentState.NEW


def test_the_page_shows_the_title_the_notice_showed_in_the_contacts_language(
    client: TestClient,
    settings: Settings,
    store: SqliteStore,
    clock: Clock,
    signer: AckSigner,
    inventory: Inventory,
) -> None:
    incident = open_incident(store, settings, clock, institution="tra", ip="10.20.0.7")
    pack = load_rule_pack([builtin_rules_dir()], builtin=True)
    brute_force = RuleTexts.from_rules(pack.rules).by_id["6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02"]
    texts = RuleTexts(by_id={"ssh_brute_force": replace(brute_force, rule_id="ssh_brute_force")})
    factory = NoticeFactory(settings, inventory, signer, clock=clock, store=store, rule_texts=texts)
    notices = factory.for_institution(incident, "incident_opened", reason="test")
    store.write_documents(notice_writes(notices))
    token = signer.make(incident.id, "tra", "tehama@tra.go.tz", timedelta(hours=1))
    page = client.get(f"/ack/{token}")
    assert "Kubahatisha nenosiri la SSH kutoka anwani moja (10.20.0.7)" in page.text
    assert incident.title not in page.text  # the stored title is English
