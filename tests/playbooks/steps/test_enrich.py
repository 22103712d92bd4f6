"""enrich: owner and network of addresses from the inventory, and earlier incidents with the same observable."""

from __future__ import annotations

from playbooks.wiring import Response
from sentinel.incidents import IncidentState
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.playbooks.support import Clock, raise_alert


def test_owner_network_and_earlier_incidents(response: Response, store: SqliteStore, clock: Clock) -> None:
    attacker = "10.2.3.4"  # inside the revenue authority's network, attacking the ministry
    first = response.runner.run_for_alert(raise_alert(store, clock, ip=attacker)).runs[0]
    first_id = first.incident_id or ""
    context = {s.key: s.detail for s in first.steps}["context"]
    assert context.startswith("10.2.3.4: Revenue Authority (tra), network 10.2.0.0/16; ")
    assert "no earlier incident with these observables in 90d" in context
    response.incidents.transition(first_id, IncidentState.FALSE_POSITIVE, actor="analyst:ana", scope=Scope.everything())

    clock.advance(days=2)
    second = response.runner.run_for_alert(raise_alert(store, clock, ip=attacker, window_minutes=120)).runs[0]

    assert second.incident_id != first_id  # the first was closed: a new incident
    context = {s.key: s.detail for s in second.steps}["context"]
    assert f"earlier incidents with the same observables: {first_id}" in context
    timeline = response.incidents.get(second.incident_id or "", Scope.everything()).timeline
    assert any(e.step_key.startswith("context@") and first_id in e.outcome for e in timeline)


def test_external_and_unknown_values(response: Response, store: SqliteStore, clock: Clock) -> None:
    run = response.runner.run_for_alert(raise_alert(store, clock, ip="41.59.1.1"), dry_run=True).runs[0]
    assert {s.key: s.detail for s in run.steps}["context"].startswith("41.59.1.1: external (not in the inventory)")
    run = response.runner.run_for_alert(raise_alert(store, clock, ip="192.168.9.9"), dry_run=True).runs[0]
    assert {s.key: s.detail for s in run.steps}["context"].startswith("192.168.9.9: private or reserved range")
