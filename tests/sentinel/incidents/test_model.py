"""Severities, states and the transition table."""

from __future__ import annotations

import itertools

import pytest

from sentinel.incidents.model import TRANSITIONS, IncidentState, Severity, allowed_transitions


def test_severity_rank_parse_and_label() -> None:
    assert Severity.CRITICAL.rank > Severity.HIGH.rank > Severity.MEDIUM.rank > Severity.LOW.rank
    assert Severity.parse("HIGH ") is Severity.HIGH
    assert Severity.parse("informational") is Severity.LOW  # Sigma's lowest level
    assert Severity.LOW.label_key == "severity.low"
    with pytest.raises(ValueError, match="unknown severity 'urgent'; use one of: critical, high, medium, low"):
        Severity.parse("urgent")


def test_the_workflow_chain_and_final_states() -> None:
    chain = ["new", "acknowledged", "investigating", "contained", "resolved", "closed"]
    for here, there in itertools.pairwise(chain):
        assert IncidentState(there) in allowed_transitions(IncidentState(here))
    for state in (IncidentState.CLOSED, IncidentState.FALSE_POSITIVE, IncidentState.DUPLICATE):
        assert TRANSITIONS[state] == ()
        assert not state.is_open
    for state in ("new", "acknowledged", "investigating", "contained"):
        assert IncidentState(state).is_open
        assert IncidentState.FALSE_POSITIVE in TRANSITIONS[IncidentState(state)]
        assert IncidentState.DUPLICATE in TRANSITIONS[IncidentState(state)]
    # reopen: a resolved incident may go back to investigating, never straight to new
    assert allowed_transitions(IncidentState.RESOLVED) == (IncidentState.CLOSED, IncidentState.INVESTIGATING)
    assert set(TRANSITIONS) == set(IncidentState)
