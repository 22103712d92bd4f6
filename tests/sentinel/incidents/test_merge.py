"""Merging incidents: sources become duplicates, their alerts, observables and comments move."""

from __future__ import annotations

import pytest

from sentinel.errors import ConflictError, SentinelError
from sentinel.incidents import IncidentService, IncidentState, Severity
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.sentinel.incidents.factory import make_alert

ALL = Scope.everything()


def test_merge_moves_everything_and_audits_every_incident(service: IncidentService, store: SqliteStore) -> None:
    target, _ = service.open_or_attach(make_alert(store, 1), key="a", actor="playbook:bf")
    s1, _ = service.open_or_attach(
        make_alert(store, 2, ip="198.51.100.7", severity="critical"), key="b", actor="playbook:bf"
    )
    s2, _ = service.open_or_attach(make_alert(store, 3, ip="192.0.2.5"), key="c", actor="playbook:bf")
    service.comment(s1.id, "seen from the VPN too", actor="analyst:bob", scope=ALL)
    merged, sources = service.merge(target.id, [s1.id, s2.id], actor="analyst:ana", scope=ALL)
    assert merged.alert_ids == ["alert-moh-1", "alert-moh-2", "alert-moh-3"]
    assert merged.merged_from == [s1.id, s2.id]
    assert merged.severity is Severity.CRITICAL
    assert [(c.text, c.from_incident) for c in merged.comments] == [("seen from the VPN too", s1.id)]
    assert {"198.51.100.7", "192.0.2.5", "203.0.113.9"} <= {o.value for o in merged.observables}
    for source in sources:
        stored = service.get(source.id, ALL)
        assert stored.state is IncidentState.DUPLICATE and stored.merged_into == target.id
        assert stored.alert_ids == [] and stored.comments == []
        trail = service.audit(source.id, ALL)
        assert "duplicate" in [e.new for e in trail if e.field == "state"]
        assert any(e.field == "merged_into" and e.new == target.id and e.actor == "analyst:ana" for e in trail)
    target_trail = service.audit(target.id, ALL)
    assert [e.new for e in target_trail if e.field == "merged_from"] == [s1.id, s2.id]
    # alerts now resolve to the target
    assert service.incident_for_alert("alert-moh-2", ALL).id == target.id  # type: ignore[union-attr]


def test_merge_refusals(service: IncidentService, store: SqliteStore) -> None:
    target, _ = service.open_or_attach(make_alert(store, 1), key="a", actor="playbook:bf")
    source, _ = service.open_or_attach(make_alert(store, 2), key="b", actor="playbook:bf")
    foreign, _ = service.open_or_attach(make_alert(store, 3, institution="tra"), key="c", actor="playbook:bf")
    with pytest.raises(SentinelError, match="into itself"):
        service.merge(target.id, [target.id], actor="analyst:ana", scope=ALL)
    with pytest.raises(SentinelError, match="only one institution's incidents can be merged"):
        service.merge(target.id, [foreign.id], actor="analyst:ana", scope=ALL)
    with pytest.raises(SentinelError, match="at least one"):
        service.merge(target.id, [], actor="analyst:ana", scope=ALL)
    service.transition(source.id, "false_positive", actor="analyst:ana", scope=ALL)
    with pytest.raises(SentinelError, match="is false_positive: only open incidents can be merged"):
        service.merge(target.id, [source.id], actor="analyst:ana", scope=ALL)
    assert service.get(target.id, ALL).merged_from == []


def test_merge_is_all_or_nothing_on_a_concurrent_change(service: IncidentService, store: SqliteStore) -> None:
    target, _ = service.open_or_attach(make_alert(store, 1), key="a", actor="playbook:bf")
    source, _ = service.open_or_attach(make_alert(store, 2), key="b", actor="playbook:bf")
    seen = {target.id: target.version, source.id: source.version}
    # Another analyst comments on the source after this analyst looked at both.
    service.comment(source.id, "meanwhile", actor="analyst:bob", scope=ALL)
    with pytest.raises(ConflictError, match="changed by someone else meanwhile; reload and try again"):
        service.merge(target.id, [source.id], actor="analyst:ana", scope=ALL, expected_versions=seen)  # type: ignore[arg-type]
    # The target's write came first in the same transaction and was rolled back with the rest.
    after = service.get(target.id, ALL)
    assert after.version == target.version and after.alert_ids == ["alert-moh-1"] and after.merged_from == []
    assert service.get(source.id, ALL).state is IncidentState.NEW
    assert not [e for e in service.audit(target.id, ALL) if e.action == "merge"]
