"""The scheduled detection engine: windows from each rule's checkpoint, alerts, health.

Each run of a rule does the windows from its checkpoint up to ``now - ingest_delay`` (aligned
to the rule's interval), oldest first, at most ``max_windows_per_run`` of them, so a restart after
an outage of any length catches up step by step with no gap. Events are fetched from the
alert window containing ``checkpoint - lookback``, so late events still match; alert ids are
deterministic (rule, institution, group key, alert window), so overlap, re-runs and catch-up
never duplicate an alert. The checkpoint moves only after the alerts are stored.

One broken or slow rule is reported (health document + log) and skipped; the others run.
``backtest`` runs rules over a past range with in-memory checkpoints and alerts: it stores
nothing and notifies nobody.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sentinel.config import DetectSettings
from sentinel.detect.alerts import Alert, AlertSink, MemoryAlertSink, StoreAlertSink
from sentinel.detect.checkpoints import Checkpoint, Checkpoints, MemoryCheckpoints
from sentinel.detect.detectors import Detector, RunContext, align, build_detector
from sentinel.detect.health import HealthRecorder, RunReport
from sentinel.detect.rule_pack import PackRule, RulePack
from sentinel.errors import ConflictError, Location, RuleError
from sentinel.events import to_millis
from sentinel.inventory import Inventory
from sentinel.store.base import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class CheckpointBook(Protocol):
    def get(self, rule_id: str) -> Checkpoint | None: ...

    def save(self, checkpoint: Checkpoint, until_ms: int, now: datetime) -> Checkpoint: ...


@dataclass(frozen=True, slots=True)
class Timing:
    interval_ms: int
    lookback_ms: int
    suppress_ms: int
    max_run_seconds: float


class DetectionEngine:
    """Runs the rules of a pack against a store; every dependency is handed in."""

    def __init__(
        self,
        store: Store,
        pack: RulePack,
        settings: DetectSettings,
        inventory: Inventory,
        *,
        sink: AlertSink | None = None,
        checkpoints: CheckpointBook | None = None,
        health: HealthRecorder | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.inventory = inventory
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.sink: AlertSink = sink or StoreAlertSink(store, sample_limit=settings.sample_event_ids, clock=self.clock)
        self.checkpoints: CheckpointBook = checkpoints or Checkpoints(store)
        self.health = health
        self.load_errors: list[RuleError] = list(pack.errors)
        self.rules: dict[str, PackRule] = {}
        self.detectors: dict[str, Detector] = {}
        for rule in pack.runnable(settings.disabled_rules):
            try:
                self.detectors[rule.id] = build_detector(rule)
            except RuleError as exc:
                self.load_errors.append(
                    RuleError(f"rule {rule.id} ({rule.title}): {exc.message}", exc.location or _loc(rule))
                )
                log.warning("rule %s cannot run: %s", rule.id, exc)
                continue
            self.rules[rule.id] = rule
        if self.health is not None and self.load_errors:
            self.health.record_load_errors(self.load_errors, self.clock())

    def timing(self, rule: PackRule) -> Timing:
        s = self.settings
        opts = rule.options
        interval = opts.interval or s.interval_seconds
        lookback = opts.lookback if opts.lookback is not None else s.lookback_seconds
        return Timing(
            interval_ms=interval * 1000,
            lookback_ms=lookback * 1000,
            suppress_ms=(opts.suppress or s.realert_seconds) * 1000,
            max_run_seconds=opts.max_run_seconds or s.max_run_seconds,
        )

    # ------------------------------------------------------------------------------------
    def run_rule(self, rule_id: str, now: datetime | None = None) -> RunReport:
        """One bounded step of one rule. Never raises for a rule's own failure: it is reported."""
        rule = self.rules[rule_id]
        now = now or self.clock()
        started = time.perf_counter()
        timing = self.timing(rule)
        now_ms = to_millis(now)
        limit = align(now_ms - self.settings.ingest_delay_seconds * 1000, timing.interval_ms)
        checkpoint: Checkpoint | None = None
        windows = matches = created = updated = 0
        error: str | None = None
        try:
            checkpoint = self.checkpoints.get(rule_id)
            if checkpoint is None:  # first run ever: start with the latest window, not all history
                checkpoint = Checkpoint(rule_id, limit - timing.interval_ms, now_ms, None)
            start = checkpoint.until_ms
            end = min(start + self.settings.max_windows_per_run * timing.interval_ms, limit)
            if end > start:
                windows = -(-(end - start) // timing.interval_ms)
                ctx = RunContext(
                    store=self.store,
                    inventory=self.inventory,
                    sink=self.sink,
                    start_ms=start,
                    end_ms=end,
                    lookback_ms=timing.lookback_ms,
                    suppress_ms=timing.suppress_ms,
                    deadline=time.monotonic() + timing.max_run_seconds,
                    rule_created_ms=checkpoint.created_ms,
                    sample_limit=self.settings.sample_event_ids,
                )
                evaluation = self.detectors[rule_id].evaluate(ctx)
                matches = evaluation.matches
                for cand in evaluation.candidates:
                    outcome = self.sink.upsert(cand)
                    created += outcome == "created"
                    updated += outcome == "updated"
                checkpoint = self.checkpoints.save(checkpoint, end, now)
            elif checkpoint.version is None:
                checkpoint = self.checkpoints.save(checkpoint, start, now)
        except ConflictError as exc:
            error = f"another runner moved this rule's checkpoint: {exc}"
            windows = 0
            log.info("rule %s skipped: %s", rule_id, exc)
        except Exception as exc:  # one broken rule must not stop the others
            error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuleError) else str(exc)
            windows = 0
            log.exception("rule %s (%s) failed; the other rules keep running", rule_id, rule.title)
        lag = (now_ms - checkpoint.until_ms) / 1000 if checkpoint is not None else None
        report = RunReport(
            rule_id=rule_id,
            title=rule.title,
            started=now,
            duration_ms=(time.perf_counter() - started) * 1000,
            windows_done=windows,
            matches=matches,
            alerts_created=created,
            alerts_updated=updated,
            error=error,
            lag_seconds=lag,
            caught_up=error is None and checkpoint is not None and checkpoint.until_ms >= limit,
        )
        if self.health is not None:
            lag_limit = (timing.interval_ms * 2) / 1000 + self.settings.ingest_delay_seconds
            try:
                self.health.record(report, lag_limit_seconds=lag_limit, path=str(rule.path) if rule.path else None)
            except Exception:
                log.exception("could not record the health of rule %s", rule_id)
        return report

    def run_all(self, now: datetime | None = None, rule_ids: Iterable[str] | None = None) -> list[RunReport]:
        """One step of every rule (or the given ones); each rule's failure stays its own."""
        ids = list(rule_ids) if rule_ids is not None else list(self.rules)
        return [self.run_rule(rule_id, now) for rule_id in ids]

    def catch_up(
        self, now: datetime | None = None, rule_ids: Iterable[str] | None = None, max_steps: int = 10_000
    ) -> list[RunReport]:
        """Run steps until every rule reached ``now - ingest_delay`` (or failed, or ``max_steps``)."""
        pending = list(rule_ids) if rule_ids is not None else list(self.rules)
        reports: list[RunReport] = []
        for _ in range(max_steps):
            if not pending:
                break
            step = self.run_all(now, pending)
            reports.extend(step)
            pending = [r.rule_id for r in step if not r.caught_up and r.error is None]
        return reports


def _loc(rule: PackRule) -> Location | None:
    return Location(str(rule.path)) if rule.path else None


def backtest(
    store: Store,
    pack: RulePack,
    settings: DetectSettings,
    inventory: Inventory,
    start: datetime,
    end: datetime,
    rule_ids: Iterable[str] | None = None,
) -> tuple[list[Alert], list[RunReport], list[RuleError]]:
    """The alerts the rules would have raised over ``[start, end)``; nothing is stored or sent."""
    sink = MemoryAlertSink(sample_limit=settings.sample_event_ids, clock=lambda: end)
    book = MemoryCheckpoints()
    # A whole range per step: no delay (the past is complete) and one pass when possible.
    span = max(1, int((end - start).total_seconds()))
    cfg = settings.model_copy(
        update={"ingest_delay_seconds": 0, "max_windows_per_run": max(settings.max_windows_per_run, span)}
    )
    engine = DetectionEngine(store, pack, cfg, inventory, sink=sink, checkpoints=book, clock=lambda: end)
    wanted = [r for r in engine.rules if rule_ids is None or r in set(rule_ids)]
    start_ms = to_millis(start)
    for rule_id in wanted:
        interval = engine.timing(engine.rules[rule_id]).interval_ms
        # created long ago: new-value rules judge against history, not a learning period
        book.start_at(rule_id, align(start_ms, interval), start_ms - 10 * 365 * 86_400_000)
    reports = engine.catch_up(end, wanted)
    alerts = sorted(sink.alerts.values(), key=lambda a: (a.first_seen, a.rule_id, a.id))
    return alerts, reports, engine.load_errors
