"""The runner on the shipped library: matching, idempotency, the default playbook, the alert cursor."""

from __future__ import annotations

from playbooks.runs import RunBook
from playbooks.wiring import Response
from sentinel.incidents import IncidentState
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.playbooks.support import Clock, outbox, raise_alert


def _incidents(store: SqliteStore) -> list[dict]:  # type: ignore[type-arg]
    return [d.body for d in store.find_documents("incidents", Scope.everything(), limit=100)]


def test_brute_force_alert_opens_incident_and_queues_notices_once(
    response: Response, store: SqliteStore, clock: Clock
) -> None:
    alert = raise_alert(store, clock)
    result = response.runner.run_for_alert(alert)

    assert result.matched == ["brute_force"]
    run = result.runs[0]
    assert run.status == "done", run.steps
    assert [s.key for s in run.steps] == ["incident", "context", "tell-soc", "tell-institution", "assign", "chase"]
    incident = response.incidents.get(run.incident_id or "", Scope.everything())
    assert incident.institution_id == "moh"
    assert incident.title == "SSH brute force from one source from 203.0.113.9"
    assert incident.assignee == "ana"
    assert incident.state is IncidentState.NEW
    notices = outbox(store)
    by_channel = sorted((n["channel"], n["recipient"], n["language"]) for n in notices)
    # the institution's security contact in Swahili; the SOC on Slack in English; the manager role is not notified
    assert by_channel == [("email", "ict@moh.go.tz", "sw"), ("slack", "#soc", "en")]
    timeline = {e.step_key.split("@")[0]: e.outcome for e in incident.timeline}
    assert set(timeline) == {"incident", "context", "tell-soc", "tell-institution", "assign", "chase"}
    assert timeline["tell-institution"].startswith("done: 1 notice(s) queued for ict@moh.go.tz (sw)")
    audit_before = len(response.incidents.audit(incident.id, Scope.everything()))
    versions_before = {d.id: d.version for d in store.find_documents("state", Scope.everything(), limit=1000)}

    # The same alert again, twice: nothing changes, nothing is queued twice.
    for _ in range(2):
        again = response.runner.run_for_alert(alert)
        assert [r.status for r in again.runs] == ["unchanged"]
    assert len(outbox(store)) == 2
    assert len(_incidents(store)) == 1
    assert len(response.incidents.audit(incident.id, Scope.everything())) == audit_before
    assert {d.id: d.version for d in store.find_documents("state", Scope.everything(), limit=1000)} == versions_before


def test_lost_run_record_still_sends_nothing_twice(response: Response, store: SqliteStore, clock: Clock) -> None:
    """A crash after the steps but before the run record is saved: every step is idempotent on its own."""
    alert = raise_alert(store, clock)
    first = response.runner.run_for_alert(alert).runs[0]
    record = RunBook(store).get("brute_force", alert.id)
    assert record is not None
    store.delete_document("state", record.id)

    again = response.runner.run_for_alert(alert).runs[0]

    assert again.status == "done"
    assert again.incident_id == first.incident_id
    details = {s.key: s.detail for s in again.steps}
    assert "attached the alert to" in details["incident"] or "opened" not in details["incident"]
    assert details["tell-soc"].startswith("0 notice(s) queued") and "1 already queued" in details["tell-soc"]
    assert details["assign"].startswith("already assigned to ana")
    assert len(outbox(store)) == 2
    assert len(_incidents(store)) == 1


def test_updated_alert_joins_the_same_incident_without_new_notices(
    response: Response, store: SqliteStore, clock: Clock
) -> None:
    alert = raise_alert(store, clock)
    response.runner.process_new_alerts()
    clock.advance(minutes=5)
    raise_alert(store, clock, count=40)  # the engine merges a bigger count into the same alert
    # a new alert window from the same address: a new alert, the same incident
    clock.advance(hours=1)
    later = raise_alert(store, clock, window_minutes=60)
    assert later.id != alert.id

    report = response.runner.process_new_alerts()

    assert report.alerts == 2
    incidents = _incidents(store)
    assert len(incidents) == 1
    assert sorted(incidents[0]["alert_ids"]) == sorted([alert.id, later.id])
    assert len(outbox(store)) == 2  # once per incident (once_per: incident is the default)
    assert response.runner.process_new_alerts().alerts == 0  # the cursor moved past both


def test_default_playbook_only_for_unmatched_high_alerts(response: Response, store: SqliteStore, clock: Clock) -> None:
    odd = raise_alert(
        store, clock, rule_id="custom-rule", title="Custom rule", tags=("attack.impact",), group_key={"host.name": "x"}
    )
    low = raise_alert(store, clock, rule_id="custom-low", title="Low", severity="medium", tags=(), group_key={})

    assert response.runner.run_for_alert(odd, dry_run=True).matched == ["default_high"]
    assert response.runner.run_for_alert(low, dry_run=True).matched == []
    brute = raise_alert(store, clock, ip="198.51.100.4")
    assert response.runner.run_for_alert(brute, dry_run=True).matched == ["brute_force"]


def test_dry_run_changes_nothing_and_says_what_it_would_do(
    response: Response, store: SqliteStore, clock: Clock
) -> None:
    alert = raise_alert(store, clock)
    result = response.runner.run_for_alert(alert, dry_run=True)

    details = {s.key: s.detail for s in result.runs[0].steps}
    assert details["incident"].startswith("would open an incident")
    assert details["tell-institution"].startswith("would notify")
    assert _incidents(store) == []
    assert outbox(store) == []
    assert RunBook(store).get("brute_force", alert.id) is None


def test_closed_alerts_are_not_run(response: Response, store: SqliteStore, clock: Clock) -> None:
    alert = raise_alert(store, clock)
    doc = store.get_document("alerts", alert.id, Scope.everything())
    assert doc is not None
    store.replace_document("alerts", alert.id, {**doc.body, "state": "closed"}, expected_version=doc.version)

    report = response.runner.process_new_alerts()

    assert report.alerts == 1 and report.runs == 0
    assert _incidents(store) == []


def test_alert_cursor_pages_through_equal_timestamps(response: Response, store: SqliteStore, clock: Clock) -> None:
    """Five alerts stored at the same instant, read three at a time: every one is run exactly once."""
    alerts = [raise_alert(store, clock, ip=f"203.0.113.{i}") for i in range(5)]
    assert len({a.updated_at for a in alerts}) == 1

    first = response.runner.process_new_alerts(limit=3)
    second = response.runner.process_new_alerts(limit=3)
    third = response.runner.process_new_alerts(limit=3)

    assert (first.alerts, second.alerts, third.alerts) == (3, 2, 0)
    assert len(_incidents(store)) == 5
    assert len(RunBook(store).find(Scope.everything(), limit=100)) == 5


def test_one_address_against_two_institutions_makes_two_incidents(
    response: Response, store: SqliteStore, clock: Clock
) -> None:
    moh = raise_alert(store, clock, institution="moh")
    tra = raise_alert(store, clock, institution="tra")

    response.runner.process_new_alerts()

    by_institution = {i["institution_id"]: i for i in _incidents(store)}
    assert set(by_institution) == {"moh", "tra"}
    assert by_institution["moh"]["alert_ids"] == [moh.id]
    assert by_institution["tra"]["alert_ids"] == [tra.id]
    assert by_institution["moh"]["key"] == "institution=moh|source.ip=203.0.113.9"
    emails = sorted((n["recipient"], n["language"]) for n in outbox(store) if n["channel"] == "email")
    assert emails == [("ict@moh.go.tz", "sw"), ("soc@tra.go.tz", "en")]
