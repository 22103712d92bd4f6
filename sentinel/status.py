"""The figures ``sentinel status`` and ``/api/v1/status`` show: sources, rates, spool, dead letters,
and the collection state (ok, or degraded: why and since when)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel.collection_health import CollectionHealth, HealthState
from sentinel.detect.engine.health import HealthRecorder
from sentinel.store.base import EventQuery, Scope, Store

COLLECTOR_STATS_ID = "collector-stats"  # document id in the "state" collection, written by the drain
STALE_SECONDS = 30.0  # the service saves its figures every few seconds; older ones are not current
NOT_REPORTING = "not_reporting"


@dataclass(frozen=True, slots=True)
class CollectionState:
    """ok, degraded (with each problem: kind, reason, detail, since) or unknown (no service reported)."""

    status: str
    problems: list[dict[str, Any]] = field(default_factory=list)
    source: str = "saved"  # "live" from the running service, or "saved" with its figures


def collection_state(
    collector: dict[str, Any], now: datetime, live: HealthState | None = None, source: str = "live"
) -> CollectionState:
    """The collection state: the live one when given, else the one saved with the figures, which
    counts as degraded when the service stopped saving them (stopped, or its store refuses writes)."""
    saved = HealthState.from_dict(collector.get("collection"))
    if live is not None:
        details = {p.kind: p.detail for p in saved.problems} if saved is not None else {}
        problems = [asdict(p) for p in live.problems]
        for problem in problems:  # /healthz gives no details; the saved state may have them
            problem["detail"] = problem["detail"] or details.get(problem["kind"], "")
        return CollectionState(live.status, problems, source)
    if not collector:
        return CollectionState("unknown")
    problems = [asdict(p) for p in saved.problems] if saved is not None else []
    updated = collector.get("updated_at")
    try:
        age = (now - datetime.fromisoformat(str(updated))).total_seconds()
    except (TypeError, ValueError):
        age = float("inf")
    if age > STALE_SECONDS:
        problems.append(
            {
                "kind": NOT_REPORTING,
                "reason": "the service has not saved its figures since then (stopped, or its store refuses writes)",
                "detail": f"last saved {updated}",
                "since": str(updated),
                "occurrences": 1,
            }
        )
    return CollectionState("degraded" if problems else "ok", problems, "saved")


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
    collection_state: CollectionState | None = None  # SOC only: ok, or degraded with why and since when
    rules_total: int = 0
    rules_ok: int = 0
    rule_problems: list[RuleProblem] = field(default_factory=list)


def build_status(
    store: Store,
    scope: Scope,
    now: datetime | None = None,
    health: CollectionHealth | None = None,
    live: HealthState | None = None,
) -> StatusReport:
    """``health`` (in-process callers) or ``live`` (what the running service's ``/healthz`` said):
    the current collection state, even when the store cannot save the figures."""
    now = now or datetime.now(UTC)
    last_minute = EventQuery(start=now - timedelta(minutes=1), end=now, time_field="event.ingested")
    last_hour = EventQuery(start=now - timedelta(hours=1), end=now, time_field="event.ingested")
    per_minute = store.count_events(last_minute, scope)
    # Service internals (collector counters, rule health) are for the SOC, not institution users.
    soc = scope.institution_id is None
    collector_doc = store.get_document("state", COLLECTOR_STATS_ID, Scope.everything()) if soc else None
    rule_health = HealthRecorder(store).all() if soc else []
    collector = dict(collector_doc.body) if collector_doc else {}
    current = health.state() if health is not None else live
    state = collection_state(collector, now, current) if soc else None
    collector.pop("collection", None)
    collector.update(collector.pop("receivers", None) or {})
    problems = [
        RuleProblem(
            h.rule_id, h.title, h.status, h.last_error or (f"lag {h.lag_seconds:.0f} s" if h.lag_seconds else None)
        )
        for h in rule_health
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
        collector=collector,
        collection_state=state,
        rules_total=len(rule_health),
        rules_ok=len(rule_health) - len(problems),
        rule_problems=problems,
    )
