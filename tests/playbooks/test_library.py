"""Every shipped playbook loads, refers to rules that exist, matches its alerts and dry-runs cleanly."""

from __future__ import annotations

import pytest

from playbooks.loader import LIBRARY_DIR, load_playbooks, resolve_rule_ids
from playbooks.wiring import Response, rule_names
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.playbooks.support import Clock, outbox, raise_alert

LIBRARY = load_playbooks([LIBRARY_DIR])
EXPECTED = {"brute_force", "web_attack", "malware_persistence", "exposed_service", "source_silent", "default_high"}

# One real-looking alert per playbook: (rule id, title, severity, tags, group key).
SAMPLES = {
    "brute_force": (
        "6b1f7a9c-2d4e-4f8a-8b3c-0e5d7a1c9f02",
        "SSH brute force",
        "high",
        ("attack.t1110.001",),
        {"source.ip": "203.0.113.9"},
    ),
    "web_attack": (
        "d0357ceb-1b8b-4901-9a0b-b7b69c418322",
        "SQL injection",
        "high",
        ("attack.t1190",),
        {"source.ip": "45.1.1.1", "destination.domain": "web01.moh.go.tz"},
    ),
    "malware_persistence": (
        "e92216d3-03cc-48e2-a9a3-aaf44ee4cc6f",
        "New systemd service",
        "medium",
        ("attack.persistence",),
        {"host.hostname": "labsz", "user.name": "bob"},
    ),
    "exposed_service": (
        "4d0b3c7e-2a55-4f0e-9a51-8f1c2e6b7a01",
        "Forbidden service",
        "high",
        ("attack.t1133",),
        {"destination.ip": "10.1.0.5", "destination.port": 23},
    ),
    "source_silent": (
        "9edb24f5-ecdd-4501-986d-c1e80f30e685",
        "Expected source silent",
        "medium",
        ("sentinel.control.log-01",),
        {"expected_source": "web01 auth log"},
    ),
    "default_high": (
        "b2e6cdf7-1bcc-428e-a85e-daf80ac73a7b",
        "Log clearing",
        "high",
        ("attack.defense_evasion",),
        {"host.hostname": "labsz"},
    ),
}


def test_library_loads_without_errors() -> None:
    assert LIBRARY.errors == []
    assert {p.id for p in LIBRARY.playbooks} == EXPECTED
    assert [p.id for p in LIBRARY.playbooks if p.default] == ["default_high"]


def test_library_rules_exist_in_the_shipped_rule_pack() -> None:
    names = rule_names(_pack())
    for playbook in LIBRARY.playbooks:
        _, unknown = resolve_rule_ids(playbook, names)
        assert unknown == [], f"{playbook.id} names rules that do not exist: {unknown}"
        for rule_id in playbook.when.rules:
            assert rule_id in names, f"{playbook.id}: {rule_id}"


def _pack():  # type: ignore[no-untyped-def]
    from sentinel.config import Settings
    from sentinel.detect.rulebook.pack import pack_from_settings

    return pack_from_settings(Settings())


@pytest.mark.parametrize("playbook_id", sorted(EXPECTED))
def test_each_playbook_matches_its_alert_and_dry_runs(
    playbook_id: str, response: Response, store: SqliteStore, clock: Clock
) -> None:
    rule_id, title, severity, tags, key = SAMPLES[playbook_id]
    alert = raise_alert(store, clock, rule_id=rule_id, title=title, severity=severity, tags=tags, group_key=key)

    result = response.runner.run_for_alert(alert, dry_run=True)

    assert result.matched == [playbook_id]
    run = result.runs[0]
    assert run.status == ("waiting" if playbook_id == "malware_persistence" else "done"), run.steps
    playbook = LIBRARY.get(playbook_id)
    assert playbook is not None
    assert [s.key for s in run.steps] == [s.key for s in playbook.steps]
    assert all(s.status in ("done", "skipped", "waiting") and s.detail for s in run.steps)
    assert store.count_documents("incidents", Scope.everything()) == 0
    assert outbox(store) == []
