"""The scheduled detection engine: windows from each rule's checkpoint, alerts, health.

Each run of a rule does the windows from its checkpoint up to ``now - ingest_delay`` (aligned
to the rule's interval), oldest first, at most ``max_windows_per_run`` of them, so a restart after
an outage of any length catches up step by step with no gap. Events are fetched from the
alert window containing ``checkpoint - lookback``, so late events still match; alert ids are
deterministic (rule, institution, group key, alert window), so overlap, re-runs and catch-up
never duplicate an alert. The checkpoint moves only after the alerts are stored. A rule far
behind ends its steps a look-back past an alert-window boundary (``steps.step_end``), so a catch-up
re-reads only the look-back, not a whole alert window, per step.

``run_all`` runs the rules of a step together: those whose steps end alike share one fetch and
one match of their events (``shared_pass``), and their alerts, checkpoints and health are stored
in one batch each (``step_writes``; one by one if a batch meets a conflict).

One broken or slow rule is reported (health document + log) and skipped; the others run.
``backtest`` runs rules over a past range with in-memory checkpoints and alerts: it stores
nothing and notifies nobody.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeGuard

from sentinel.config import DetectSettings
from sentinel.detect.alerts import Alert, AlertSink, MemoryAlertSink, StoreAlertSink
from sentinel.detect.detectors.base import (
    Detector,
    MatchingDetector,
    RunContext,
    ScanningDetector,
    align,
)
from sentinel.detect.detectors.correlation import CorrelationDetector
from sentinel.detect.detectors.registry import build_detector
from sentinel.detect.detectors.sigma import SigmaDetector
from sentinel.detect.detectors.typed import NewValueDetector, ThresholdDetector
from sentinel.detect.engine.checkpoints import Checkpoint, Checkpoints, MemoryCheckpoints
from sentinel.detect.engine.health import HealthRecorder, RunReport
from sentinel.detect.engine.live_feed import LiveFeed
from sentinel.detect.engine.shared_pass import Member, Scanner, evaluate_together
from sentinel.detect.engine.step_writes import store_together
from sentinel.detect.engine.steps import Step, Timing, step_end
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.pack import PackRule, RulePack
from sentinel.errors import ConflictError, Location, RuleError
from sentinel.events import to_millis
from sentinel.inventory import Inventory
from sentinel.store.base import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# kinds that read every event of their datasets (or ask the store), not the matches of a rule
SCANNING_KINDS = ("threshold", "new_value", "silence")
_INDEX_CACHE = 16  # combined indexes kept (one per group of rules run together)


class CheckpointBook(Protocol):
    def get(self, rule_id: str) -> Checkpoint | None: ...

    def save(self, checkpoint: Checkpoint, until_ms: int, now: datetime) -> Checkpoint: ...


def _is_matching(detector: Detector) -> TypeGuard[MatchingDetector]:
    return isinstance(detector, SigmaDetector | CorrelationDetector)


def _is_scanning(detector: Detector) -> TypeGuard[ScanningDetector]:
    return isinstance(detector, ThresholdDetector | NewValueDetector) and detector.accepts is not None


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
        watch_from: datetime | None = None,
    ) -> None:
        self.store = store
        # a back-test's start: nothing before it was watched (see RunContext.watch_from_ms)
        self.watch_from_ms = to_millis(watch_from) if watch_from is not None else None
        self.settings = settings
        self.inventory = inventory
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.sink: AlertSink = sink or StoreAlertSink(store, sample_limit=settings.sample_event_ids, clock=self.clock)
        self.checkpoints: CheckpointBook = checkpoints or Checkpoints(store)
        self.health = health
        self._combined: dict[tuple[str, ...], RuleIndex] = {}  # shared-pass index by its rule ids
        self._feed: LiveFeed | None = None  # detect.follow_ingest: the kept matches of every matching rule
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
        default = s.scan_interval_seconds if rule.kind in SCANNING_KINDS and s.scan_interval_seconds else None
        interval = opts.interval or default or s.interval_seconds
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
        run = self._plan(rule_id, now or self.clock())
        if run.ctx is not None and run.error is None:
            self._evaluate_alone(run)
        return self._finish(run)

    def run_all(self, now: datetime | None = None, rule_ids: Iterable[str] | None = None) -> list[RunReport]:
        """One step of every rule (or the given ones); each rule's failure stays its own.

        Matching rules (Sigma detections and correlations) and scanning ones (threshold and new
        value, when their filters allow) whose step ends at the same time share one fetch and one
        match of their events (``shared_pass``); the others run one by one.
        """
        ids = list(rule_ids) if rule_ids is not None else list(self.rules)
        now = now or self.clock()
        runs = [self._plan(rule_id, now) for rule_id in ids]
        live = self.settings.follow_ingest
        by_end: dict[int, list[Step]] = {}
        for run in runs:
            if run.ctx is None or run.error is not None:
                continue
            detector = self.detectors[run.rule_id]
            # following ingest, matching rules read kept matches; scanning ones their own events
            if _is_matching(detector) or (_is_scanning(detector) and not live):
                by_end.setdefault(run.ctx.end_ms, []).append(run)
            else:
                self._evaluate_alone(run)
        feed = self._advance_feed(by_end, to_millis(now)) if live and by_end else None
        for group in by_end.values():
            if len(group) == 1 and feed is None:
                self._evaluate_alone(group[0])
            else:
                self._evaluate_together(group, feed)
        if feed is not None:
            feed.forget_before(min(self._first_ms(run) for group in by_end.values() for run in group))
        return self._finish_all(runs)

    def _first_ms(self, run: Step) -> int:
        detector = self.detectors[run.rule_id]
        assert run.ctx is not None and _is_matching(detector)
        return detector.first_ms(run.ctx)

    def _advance_feed(self, by_end: dict[int, list[Step]], now_ms: int) -> LiveFeed | None:
        """The live feed, having read what was stored since its last read (``detect.follow_ingest``)."""
        try:
            if self._feed is None:
                matching = [d for d in self.detectors.values() if _is_matching(d)]
                index = RuleIndex.combine(d.index for d in matching)
                datasets = {ds for d in matching for ds in d.rule.datasets}
                self._feed = LiveFeed(self.store, index, sorted(datasets), self.settings.ingest_margin_seconds * 1000)
            self._feed.advance(min(self._first_ms(run) for group in by_end.values() for run in group), now_ms)
        except Exception:  # the store failed: the rules read their events themselves this time
            log.exception("reading the newly stored events failed; the rules fetch their own this step")
            self._feed = None
        return self._feed

    # ------------------------------------------------------------------------------------
    def _plan(self, rule_id: str, now: datetime) -> Step:
        """Read the checkpoint and set out the step's range; nothing is evaluated yet."""
        started = time.perf_counter()
        rule = self.rules[rule_id]
        timing = self.timing(rule)
        now_ms = to_millis(now)
        limit = align(now_ms - self.settings.ingest_delay_seconds * 1000, timing.interval_ms)
        run = Step(rule_id, rule, timing, now, now_ms, limit)
        try:
            checkpoint = run.checkpoint = self.checkpoints.get(rule_id)
            if checkpoint is None:  # first run ever: start with the latest window, not all history
                checkpoint = run.checkpoint = Checkpoint(rule_id, limit - timing.interval_ms, now_ms, None)
            start = checkpoint.until_ms
            cfg = self.settings
            end = step_end(
                start,
                limit,
                cfg.max_windows_per_run,
                timing.interval_ms,
                cfg.lookback_seconds * 1000,
                cfg.realert_seconds * 1000,
            )
            if end > start:
                run.windows = -(-(end - start) // timing.interval_ms)
                run.ctx = RunContext(
                    store=self.store,
                    inventory=self.inventory,
                    sink=self.sink,
                    start_ms=start,
                    end_ms=end,
                    lookback_ms=timing.lookback_ms,
                    suppress_ms=timing.suppress_ms,
                    deadline=time.monotonic() + timing.max_run_seconds,
                    rule_created_ms=checkpoint.created_ms,
                    watch_from_ms=self.watch_from_ms,
                    sample_limit=self.settings.sample_event_ids,
                )
            elif checkpoint.version is None:
                run.checkpoint = self.checkpoints.save(checkpoint, start, now)
        except Exception as exc:
            self._fail(run, exc)
        run.elapsed += time.perf_counter() - started
        return run

    def _evaluate_alone(self, run: Step) -> None:
        assert run.ctx is not None
        started = time.perf_counter()
        run.ctx.deadline = time.monotonic() + run.timing.max_run_seconds  # its budget starts now
        try:
            run.evaluation = self.detectors[run.rule_id].evaluate(run.ctx)
        except Exception as exc:
            self._fail(run, exc)
        run.elapsed += time.perf_counter() - started

    def _evaluate_together(self, runs: list[Step], feed: LiveFeed | None = None) -> None:
        """One shared pass; if its shared part fails, every rule runs on its own instead."""
        started = time.perf_counter()
        members: list[Member] = []
        scanners: list[Scanner] = []
        shares: list[Member | Scanner] = []
        for run in runs:
            detector = self.detectors[run.rule_id]
            assert run.ctx is not None
            run.ctx.deadline = time.monotonic() + run.timing.max_run_seconds
            share: Member | Scanner
            if _is_matching(detector):
                share = Member(detector, run.ctx)
                members.append(share)
            else:
                assert _is_scanning(detector)
                share = Scanner(detector, run.ctx)
                scanners.append(share)
            shares.append(share)
        try:
            evaluate_together(self.store, members, self._index_for, scanners, feed)
        except Exception:
            log.exception("a shared detection pass failed; running its %d rules one by one", len(runs))
            for run in runs:
                self._evaluate_alone(run)
            return
        share_time = (time.perf_counter() - started) / len(runs)
        for run, done in zip(runs, shares, strict=True):
            run.elapsed += share_time
            if done.error is not None:
                self._fail(run, done.error)
            else:
                run.evaluation = done.evaluation

    def _index_for(self, members: Sequence[Member]) -> RuleIndex:
        """One index over the members' rules, kept for the next runs (the same groups recur)."""
        key = tuple(sorted(m.detector.rule.id for m in members))
        index = self._combined.pop(key, None)
        if index is None:
            index = RuleIndex.combine(m.detector.index for m in members)
        self._combined[key] = index  # most recently used last
        while len(self._combined) > _INDEX_CACHE:
            del self._combined[next(iter(self._combined))]
        return index

    def _fail(self, run: Step, exc: Exception) -> None:
        run.windows = 0
        if isinstance(exc, ConflictError):
            run.error = f"another runner moved this rule's checkpoint: {exc}"
            log.info("rule %s skipped: %s", run.rule_id, exc)
            return
        # one broken rule must not stop the others
        run.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuleError) else str(exc)
        log.error(
            "rule %s (%s) failed; the other rules keep running",
            run.rule_id,
            run.rule.title,
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    def _finish_all(self, runs: list[Step]) -> list[RunReport]:
        """Every run's alerts and checkpoint in one write, their health in one more (``step_writes``);
        if a batch fails, each run stores (or records) its own, as ``run_rule`` does."""
        ready = [run for run in runs if run.storable]
        if len(ready) > 1 and isinstance(self.sink, StoreAlertSink) and isinstance(self.checkpoints, Checkpoints):
            started = time.perf_counter()
            try:
                store_together(self.store, self.sink, self.checkpoints, ready)
            except Exception as exc:
                log.info("storing a step's alerts together failed (%s); each rule stores its own", exc)
            share = (time.perf_counter() - started) / len(ready)
            for run in ready:
                run.elapsed += share
        reports = [self._finish(run, record=False) for run in runs]
        if self.health is not None:
            health = [(report, self._lag_limit(run), _path(run)) for run, report in zip(runs, reports, strict=True)]
            try:
                self.health.record_all(health)
            except Exception:
                log.exception("could not record the health of a step's rules together; one by one instead")
                for item in health:
                    self._record(*item)
        return reports

    def _finish(self, run: Step, *, record: bool = True) -> RunReport:
        """Store the step's alerts, then move its checkpoint; report and record its health."""
        started = time.perf_counter()
        if run.storable and not run.stored:
            assert run.evaluation is not None and run.checkpoint is not None
            try:
                for cand in run.evaluation.candidates:
                    outcome = self.sink.upsert(cand)
                    run.created += outcome == "created"
                    run.updated += outcome == "updated"
                run.checkpoint = self.checkpoints.save(run.checkpoint, run.end_ms, run.now)
            except Exception as exc:
                self._fail(run, exc)
        run.elapsed += time.perf_counter() - started
        checkpoint, rule = run.checkpoint, run.rule
        lag = (run.now_ms - checkpoint.until_ms) / 1000 if checkpoint is not None else None
        report = RunReport(
            rule_id=run.rule_id,
            title=rule.title,
            started=run.now,
            duration_ms=run.elapsed * 1000,
            windows_done=run.windows,
            matches=run.evaluation.matches if run.evaluation is not None else 0,
            alerts_created=run.created,
            alerts_updated=run.updated,
            error=run.error,
            lag_seconds=lag,
            caught_up=run.error is None and checkpoint is not None and checkpoint.until_ms >= run.limit,
        )
        if record and self.health is not None:
            self._record(report, self._lag_limit(run), _path(run))
        return report

    def _lag_limit(self, run: Step) -> float:
        return (run.timing.interval_ms * 2) / 1000 + self.settings.ingest_delay_seconds

    def _record(self, report: RunReport, lag_limit: float, path: str | None) -> None:
        assert self.health is not None
        try:
            self.health.record(report, lag_limit_seconds=lag_limit, path=path)
        except Exception:
            log.exception("could not record the health of rule %s", report.rule_id)

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


def _path(run: Step) -> str | None:
    return str(run.rule.path) if run.rule.path else None


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
        update={
            "ingest_delay_seconds": 0,
            "max_windows_per_run": max(settings.max_windows_per_run, span),
            "follow_ingest": False,  # the past is read by event time
            "scan_interval_seconds": None,
        }
    )
    engine = DetectionEngine(
        store, pack, cfg, inventory, sink=sink, checkpoints=book, clock=lambda: end, watch_from=start
    )
    wanted = [r for r in engine.rules if rule_ids is None or r in set(rule_ids)]
    start_ms = to_millis(start)
    for rule_id in wanted:
        interval = engine.timing(engine.rules[rule_id]).interval_ms
        # created long ago: new-value rules judge against history, not a learning period
        book.start_at(rule_id, align(start_ms, interval), start_ms - 10 * 365 * 86_400_000)
    reports = engine.catch_up(end, wanted)
    alerts = sorted(sink.alerts.values(), key=lambda a: (a.first_seen, a.rule_id, a.id))
    return alerts, reports, engine.load_errors
