"""enrich: owner and network of addresses from the inventory, and earlier incidents with the same
observable, within the incident's own institution; what crosses institutions only in a SOC-only note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from fastapi.testclient import TestClient

from playbooks.steps.enrich import SOC_CONTEXT, SOC_CONTEXT_KIND
from playbooks.wiring import Response, build_response
from sentinel.app import create_app
from sentinel.auth import Role, create_token
from sentinel.detect.engine.runner import DetectionEngine
from sentinel.detect.rulebook.pack import builtin_rules_dir, load_rule_pack
from sentinel.incidents import IncidentState
from sentinel.inventory import parse_inventory
from sentinel.store.base import FieldFilter, Scope
from sentinel.store.sqlite import SqliteStore
from sentinel.yamlfile import YamlDocument
from tests.playbooks.support import BRUTE_FORCE_RULE, Clock, make_settings, raise_alert


def test_own_network_and_own_earlier_incidents(response: Response, store: SqliteStore, clock: Clock) -> None:
    attacker = "10.1.3.4"  # inside the ministry's own network
    first = response.runner.run_for_alert(raise_alert(store, clock, ip=attacker)).runs[0]
    first_id = first.incident_id or ""
    context = {s.key: s.detail for s in first.steps}["context"]
    assert context.startswith("10.1.3.4: Wizara ya Afya (moh), network 10.1.0.0/16; ")
    assert "no earlier incident with these observables in 90d" in context
    response.incidents.transition(first_id, IncidentState.FALSE_POSITIVE, actor="analyst:ana", scope=Scope.everything())

    clock.advance(days=2)
    second = response.runner.run_for_alert(raise_alert(store, clock, ip=attacker, window_minutes=120)).runs[0]

    assert second.incident_id != first_id  # the first was closed: a new incident
    context = {s.key: s.detail for s in second.steps}["context"]
    assert f"earlier incidents with the same observables: {first_id}" in context
    timeline = response.incidents.get(second.incident_id or "", Scope.everything()).timeline
    assert any(e.step_key.startswith("context@") and first_id in e.outcome for e in timeline)


def test_another_institution_s_address_and_incidents_are_not_named(
    response: Response, store: SqliteStore, clock: Clock
) -> None:
    attacker = "10.2.3.4"  # the revenue authority's network, attacking the ministry
    tra = response.runner.run_for_alert(raise_alert(store, clock, ip=attacker, institution="tra")).runs[0]
    clock.advance(hours=3)
    moh = response.runner.run_for_alert(raise_alert(store, clock, ip=attacker, window_minutes=180)).runs[0]
    context = {s.key: s.detail for s in moh.steps}["context"]
    # Said of an address TRA owns exactly as of one nobody owns; TRA's incident is not listed.
    assert context.startswith("10.2.3.4: private or reserved range, not in this institution's inventory; ")
    assert "no earlier incident with these observables in 90d" in context
    assert "tra" not in context.lower() and "Revenue" not in context and (tra.incident_id or "") not in context
    # The SOC gets it, in a note of no institution that the ministry's scope cannot read.
    notes = store.find_documents(SOC_CONTEXT, Scope.everything(), [FieldFilter("kind", "eq", SOC_CONTEXT_KIND)])
    assert len(notes) == 1 and notes[0].institution_id is None
    assert notes[0].body["incident_id"] == moh.incident_id
    assert notes[0].body["lines"] == [
        "10.2.3.4 is in the inventory of Revenue Authority (tra)",
        f"earlier incidents of other institutions with the same observables: {tra.incident_id} (tra)",
    ]
    assert (
        store.find_documents(SOC_CONTEXT, Scope.institution("moh"), [FieldFilter("kind", "eq", SOC_CONTEXT_KIND)]) == []
    )


def test_external_and_unknown_values(response: Response, store: SqliteStore, clock: Clock) -> None:
    run = response.runner.run_for_alert(raise_alert(store, clock, ip="41.59.1.1"), dry_run=True).runs[0]
    context = {s.key: s.detail for s in run.steps}["context"]
    assert context.startswith("41.59.1.1: external (not in this institution's inventory)")
    run = response.runner.run_for_alert(raise_alert(store, clock, ip="192.168.9.9"), dry_run=True).runs[0]
    assert {s.key: s.detail for s in run.steps}["context"].startswith("192.168.9.9: private or reserved range")
    # An incident of no institution is the SOC's alone: it may name any owner.
    run = response.runner.run_for_alert(raise_alert(store, clock, ip="10.2.3.4", institution=None), dry_run=True)
    context = {s.key: s.detail for s in run.runs[0].steps}["context"]
    assert context.startswith("10.2.3.4: Revenue Authority (tra), network 10.2.0.0/16")


DAR = ZoneInfo("Africa/Dar_es_Salaam")  # the institutions' time zone (the default): syslog times are local
TWO = """\
institutions:
  - id: inst-a
    name: Institution A
    networks: [10.1.0.0/16]
    hostnames: [web01.a]
  - id: inst-b
    name: Institution B
    networks: [10.2.0.0/16]
    hostnames: [db01.b]
"""


def _failed_logins(host: str, attacker: str, at: datetime, n: int = 12) -> bytes:
    lines = [
        f"<38>{(at + timedelta(seconds=20 * i)).astimezone(DAR).strftime('%b %d %H:%M:%S')} {host} sshd[{4000 + i}]: "
        f"Failed password for root from {attacker} port {40000 + i} ssh2"
        for i in range(n)
    ]
    return b"\n".join(orjson.dumps({"message": line}) for line in lines)


def test_issue_scenario_institution_a_cannot_look_up_institution_b(tmp_path: Path) -> None:
    """Institution A posts 12 failed logins from an address of institution B, as in the probe that found
    the leak; B has an incident with that address. A's incident, its timeline and audit trail read
    through A's own token name nothing of B; the SOC-only note does."""
    inventory = parse_inventory(YamlDocument.parse(TWO, "inventory.yaml"))
    settings = make_settings(tmp_path / "data")
    store = SqliteStore(tmp_path / "sentinel.db")
    store.setup()
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        with TestClient(create_app(settings, store=store, inventory=inventory)) as client:
            tokens = {
                inst: create_token(
                    store, name="rsyslog", role=Role.INSTITUTION, institution_id=inst, inventory=inventory
                )
                for inst in ("inst-a", "inst-b")
            }

            def post(inst: str, body: bytes) -> None:
                answer = client.post(
                    "/api/v1/ingest",
                    content=body,
                    headers={"Authorization": f"Bearer {tokens[inst]}", "Content-Type": "application/x-ndjson"},
                )
                assert answer.status_code == 200 and answer.json()["stored"] == 12, answer.text

            engine = DetectionEngine(
                store, load_rule_pack([builtin_rules_dir()], builtin=True), settings.detect, inventory
            )
            engine.run_all(now - timedelta(hours=4), [BRUTE_FORCE_RULE])
            response = build_response(settings, store, inventory, clock=lambda: now + timedelta(minutes=30))

            post("inst-b", _failed_logins("db01.b", "10.2.6.6", now - timedelta(hours=3)))  # B's own host misbehaving
            assert not [r.error for r in engine.catch_up(now - timedelta(hours=2), [BRUTE_FORCE_RULE]) if r.error]
            response.runner.process_new_alerts()
            (b_incident,) = response.incidents.list(Scope.institution("inst-b"))

            post("inst-a", _failed_logins("web01.a", "10.2.6.6", now - timedelta(minutes=20)))
            assert not [r.error for r in engine.catch_up(now + timedelta(minutes=30), [BRUTE_FORCE_RULE]) if r.error]
            response.runner.process_new_alerts()
            (a_incident,) = response.incidents.list(Scope.institution("inst-a"))
            assert "10.2.6.6" in {o.value for o in a_incident.observables}

            seen_by_a = ""
            for path in (f"/api/v1/incidents/{a_incident.id}", f"/api/v1/incidents/{a_incident.id}/audit"):
                answer = client.get(path, headers={"Authorization": f"Bearer {tokens['inst-a']}"})
                assert answer.status_code == 200, answer.text
                seen_by_a += answer.text
            assert "context@" in seen_by_a and "10.2.6.6: private or reserved range" in seen_by_a
            for secret in ("inst-b", "Institution B", "10.2.0.0/16", b_incident.id):
                assert secret not in seen_by_a, secret
            notes = store.find_documents(
                SOC_CONTEXT,
                Scope.everything(),
                [FieldFilter("kind", "eq", SOC_CONTEXT_KIND), FieldFilter("incident_id", "eq", a_incident.id)],
            )
            assert [n.institution_id for n in notes] == [None]
            assert f"{b_incident.id} (inst-b)" in notes[0].body["lines"][-1]
    finally:
        store.close()
