"""The figures ``sentinel status`` and ``/api/v1/status`` show: sources, rates, spool, dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel.detect.engine.health import HealthRecorder
from sentinel.store.base import EventQuery, Scope, Store

COLLECTOR_STATS_ID = "collector-stats"  # document id in the "state" collection, written by the drain


@dataclass(frozen=True, slots=True)
class SourceSeen:
    name: str
    events_last_hour: int


@dataclass(frozen=True, slots=True)
class RuleProblem:
    rule_id: str
    title: str
    status: str  # error, lagging, never_run, not_loaded
    detail: str | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    generated_at: str
    events_last_minute: int
    events_per_second_last_minute: float
    events_last_hour: int
    datasets_last_hour: list[SourceSeen]
    hosts_last_hour: list[SourceSeen]
    dead_letters: int
    collector: dict[str, Any] = field(default_factory=dict)  # live counters of the running service
    rules_total: int = 0
    rules_ok: int = 0
    rule_problems: list[RuleProblem] = field(default_factory=list)


def build_status(store: Store, scope: Scope, now: datetime | None = None) -> StatusReport:
    now = now or datetime.now(UTC)
    last_minute = EventQuery(start=now - timedelta(minutes=1), end=now, time_field="event.ingested")
    last_hour = EventQuery(start=now - timedelta(hours=1), end=now, time_field="event.ingested")
    per_minute = store.count_events(last_minute, scope)
    # Service internals (collector counters, rule health) are for the SOC, not institution users.
    soc = scope.institution_id is None
    collector_doc = store.get_document("state", COLLECTOR_STATS_ID, Scope.everything()) if soc else None
    health = HealthRecorder(store).all() if soc else []
    problems = [
        RuleProblem(
            h.rule_id, h.title, h.status, h.last_error or (f"lag {h.lag_seconds:.0f} s" if h.lag_seconds else None)
        )
        for h in health
        if h.status != "ok"
    ]
    return StatusReport(
        generated_at=now.isoformat(),
        events_last_minute=per_minute,
        events_per_second_last_minute=round(per_minute / 60.0, 2),
        events_last_hour=store.count_events(last_hour, scope),
        datasets_last_hour=[
            SourceSeen(str(b.key), b.count) for b in store.terms(last_hour, scope, "event.dataset", 20)
        ],
        hosts_last_hour=[SourceSeen(str(b.key), b.count) for b in store.terms(last_hour, scope, "host.hostname", 20)],
        dead_letters=store.count_documents("dead_letters", scope),
        collector=dict(collector_doc.body) if collector_doc else {},
        rules_total=len(health),
        rules_ok=len(health) - len(problems),
        rule_problems=problems,
    )
