"""The figures ``sentinel status`` and ``/api/v1/status`` show: sources, rates, spool, dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel.store.base import EventQuery, Scope, Store

COLLECTOR_STATS_ID = "collector-stats"  # document id in the "state" collection, written by the drain


@dataclass(frozen=True, slots=True)
class SourceSeen:
    name: str
    events_last_hour: int


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


def build_status(store: Store, scope: Scope, now: datetime | None = None) -> StatusReport:
    now = now or datetime.now(UTC)
    last_minute = EventQuery(start=now - timedelta(minutes=1), end=now, time_field="event.ingested")
    last_hour = EventQuery(start=now - timedelta(hours=1), end=now, time_field="event.ingested")
    per_minute = store.count_events(last_minute, scope)
    collector_doc = store.get_document("state", COLLECTOR_STATS_ID, Scope.everything()) if scope.institution_id is None else None
    return StatusReport(
        generated_at=now.isoformat(),
        events_last_minute=per_minute,
        events_per_second_last_minute=round(per_minute / 60.0, 2),
        events_last_hour=store.count_events(last_hour, scope),
        datasets_last_hour=[SourceSeen(str(b.key), b.count) for b in store.terms(last_hour, scope, "event.dataset", 20)],
        hosts_last_hour=[SourceSeen(str(b.key), b.count) for b in store.terms(last_hour, scope, "host.hostname", 20)],
        dead_letters=store.count_documents("dead_letters", scope),
        collector=dict(collector_doc.body) if collector_doc else {},
    )
