"""assign: round-robin over the on-call list, shared by workers; never takes work from someone."""

from __future__ import annotations

from playbooks.wiring import Response
from sentinel.store.base import Scope
from sentinel.store.sqlite import SqliteStore
from tests.playbooks.support import Clock, raise_alert


def test_round_robin_and_never_reassign(response: Response, store: SqliteStore, clock: Clock) -> None:
    assignees, ids = [], []
    for n in range(3):
        run = response.runner.run_for_alert(raise_alert(store, clock, ip=f"203.0.113.{n + 1}")).runs[0]
        ids.append(run.incident_id or "")
        assignees.append(response.incidents.get(ids[-1], Scope.everything()).assignee)
    assert assignees == ["ana", "baraka", "ana"]

    # An analyst took the incident over; a later alert joining it does not take it back.
    response.incidents.assign(ids[0], "zuhura", actor="analyst:zuhura", scope=Scope.everything())
    later = raise_alert(store, clock, ip="203.0.113.1", window_minutes=60)
    step = {s.key: s for s in response.runner.run_for_alert(later).runs[0].steps}["assign"]
    assert (step.status, step.detail) == ("skipped", "already assigned to zuhura")
