"""How each kind of rule turns the events of a run's range into alert candidates.

The engine hands a detector a ``RunContext``: the range of event time to do ``[start, end)``
(from the checkpoint), the look-back and the alert window (``suppress``). Every detector
recomputes the alert windows it touches from the store - from the start of the alert window
containing ``start - lookback`` - so its figures are exact and a re-run yields the same
candidates (the alert sink merges them idempotently). Late events within the look-back land in
a touched window and are counted.

Silence, new-value and threshold rules (``rule_types``) and Sigma detection rules live here;
Sigma correlations in ``correlation``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sentinel.detect.alerts import AlertCandidate, AlertSink
from sentinel.detect.matcher import RuleIndex
from sentinel.detect.rule_pack import PackRule
from sentinel.detect.rule_types import NewValueRule, SilenceRule, ThresholdRule, read_field
from sentinel.detect.sigma_rules import SigmaRule
from sentinel.errors import RuleError
from sentinel.events import Event, format_timestamp, from_millis, parse_timestamp, to_millis
from sentinel.inventory import Inventory
from sentinel.store.base import EventQuery, FieldFilter, Scope, Store

PAGE_SIZE = 5000


@dataclass
class RunContext:
    store: Store
    inventory: Inventory
    sink: AlertSink
    start_ms: int
    end_ms: int
    lookback_ms: int
    suppress_ms: int
    deadline: float  # time.monotonic() after which the run is abandoned
    rule_created_ms: int  # the rule's first run (new-value rules learn from here)
    sample_limit: int = 20

    @property
    def live_from_ms(self) -> int:
        """Events from here on may have changed since the last run (late arrivals)."""
        return self.start_ms - self.lookback_ms

    def check_deadline(self, rule: PackRule) -> None:
        if time.monotonic() > self.deadline:
            raise RuleError(f"rule {rule.id} exceeded its run time budget and was stopped")


@dataclass
class Evaluation:
    candidates: list[AlertCandidate] = field(default_factory=list)
    matches: int = 0


class Detector(Protocol):
    rule: PackRule

    def evaluate(self, ctx: RunContext) -> Evaluation: ...


def align(ms: int, step_ms: int) -> int:
    return ms - ms % step_ms


def fetch(
    ctx: RunContext,
    rule: PackRule,
    start_ms: int,
    end_ms: int,
    filters: Sequence[FieldFilter] = (),
    scope: Scope | None = None,
) -> Iterator[list[Event]]:
    """Pages of the rule's events in ``[start, end)``, oldest first, through ``after`` paging."""
    query = EventQuery(
        start=from_millis(start_ms), end=from_millis(end_ms), datasets=rule.datasets, filters=tuple(filters)
    )
    after: tuple[int, str] | None = None
    while True:
        ctx.check_deadline(rule)
        page = ctx.store.search_events(query, scope or Scope.everything(), limit=PAGE_SIZE, order="asc", after=after)
        if page.events:
            yield page.events
        if page.next_after is None or len(page.events) < PAGE_SIZE:
            return
        after = page.next_after


def with_datasets(rule: SigmaRule, datasets: tuple[str, ...]) -> SigmaRule:
    """The rule, reading the datasets a rule file's ``sentinel.datasets`` names (if any)."""
    return dataclasses.replace(rule, datasets=datasets) if datasets else rule


def key_value(value: Any) -> Any:
    """A group-key value that hashes and serialises: lists become comma-joined text."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return str(value)
    return value


@dataclass
class Group:
    count: int = 0
    first_ms: int = 0
    last_ms: int = 0
    samples: list[str] = field(default_factory=list)
    values: set[Any] = field(default_factory=set)


class Grouper:
    """Counts matches per (institution, group key, alert window)."""

    def __init__(self, window_ms: int, sample_limit: int) -> None:
        self.window_ms = window_ms
        self.sample_limit = sample_limit
        self.groups: dict[tuple[str | None, tuple[Any, ...], int], Group] = {}

    def add(self, org: str | None, key: tuple[Any, ...], ts_ms: int, event_id: str, value: Any = None) -> None:
        slot = (org, key, align(ts_ms, self.window_ms))
        group = self.groups.get(slot)
        if group is None:
            group = self.groups[slot] = Group(first_ms=ts_ms, last_ms=ts_ms)
        group.count += 1
        group.first_ms = min(group.first_ms, ts_ms)
        group.last_ms = max(group.last_ms, ts_ms)
        if len(group.samples) < self.sample_limit:
            group.samples.append(event_id)
        if value is not None:
            group.values.add(value)


def candidate(
    rule: PackRule,
    org: str | None,
    group_key: dict[str, Any],
    window_start_ms: int,
    window_ms: int,
    group: Group,
    details: dict[str, Any] | None = None,
) -> AlertCandidate:
    return AlertCandidate(
        rule_id=rule.id,
        rule_title=rule.title,
        rule_kind=rule.kind,
        severity=rule.level,
        description=rule.description,
        tags=rule.tags,
        attack=rule.attack,
        controls=rule.controls,
        institution_id=org,
        group_key=group_key,
        window_start_ms=window_start_ms,
        window_end_ms=window_start_ms + window_ms,
        first_seen_ms=group.first_ms,
        last_seen_ms=group.last_ms,
        count=group.count,
        sample_event_ids=list(group.samples),
        details=details or {},
    )


# ---------------------------------------------------------------------------------------------


class MatchPass(Protocol):
    """One run of a matching detector, fed the (rule, event) matches of its events in time order."""

    def add(self, rule: SigmaRule, event: Event) -> None: ...

    def finish(self) -> Evaluation: ...


class MatchingDetector(Protocol):
    """A detector that is one pass of its ``index`` over its events, so the engine can feed many
    of them from one fetch and one match of each page (see ``shared_pass``)."""

    rule: PackRule
    index: RuleIndex

    def first_ms(self, ctx: RunContext) -> int:
        """The first event time the run needs (its range is ``[first_ms, ctx.end_ms)``)."""
        ...

    def begin(self, ctx: RunContext) -> MatchPass: ...


def run_pass(detector: MatchingDetector, ctx: RunContext) -> Evaluation:
    """A matching detector on its own: its events fetched and matched for it alone."""
    state = detector.begin(ctx)
    for page in fetch(ctx, detector.rule, detector.first_ms(ctx), ctx.end_ms):
        for rule, event in detector.index.match(page):
            state.add(rule, event)
    return state.finish()


class SigmaDetector:
    """A Sigma detection rule: every matching event counts towards its (key, alert window)."""

    def __init__(self, rule: PackRule) -> None:
        if not isinstance(rule.definition, SigmaRule):
            raise TypeError("SigmaDetector needs a Sigma detection rule")
        self.rule = rule
        self.index = RuleIndex([with_datasets(rule.definition, rule.options.datasets)])
        if self.index.unsupported:
            raise RuleError(f"rule cannot run: {self.index.unsupported[0][1]}")

    def first_ms(self, ctx: RunContext) -> int:
        return align(ctx.live_from_ms, ctx.suppress_ms)

    def begin(self, ctx: RunContext) -> _SigmaPass:
        return _SigmaPass(self.rule, ctx)

    def evaluate(self, ctx: RunContext) -> Evaluation:
        return run_pass(self, ctx)


class _SigmaPass:
    def __init__(self, rule: PackRule, ctx: RunContext) -> None:
        self.rule = rule
        self.window_ms = ctx.suppress_ms
        self.fields = rule.options.group_by
        self.grouper = Grouper(ctx.suppress_ms, ctx.sample_limit)
        self.matches = 0

    def add(self, rule: SigmaRule, event: Event) -> None:
        self.matches += 1
        key = tuple(key_value(read_field(event.doc, f)) for f in self.fields)
        self.grouper.add(event.organization_id, key, event.timestamp_ms, event.id)

    def finish(self) -> Evaluation:
        result = Evaluation(matches=self.matches)
        for (org, key, start), group in self.grouper.groups.items():
            result.candidates.append(
                candidate(self.rule, org, dict(zip(self.fields, key, strict=True)), start, self.window_ms, group)
            )
        return result


class ThresholdDetector:
    """A metric of a field per key and timespan, compared with a condition; one alert per timespan."""

    def __init__(self, rule: PackRule) -> None:
        assert isinstance(rule.definition, ThresholdRule)
        self.rule = rule
        self.spec: ThresholdRule = rule.definition

    def evaluate(self, ctx: RunContext) -> Evaluation:
        spec = self.spec
        span = spec.timespan * 1000
        grouper = Grouper(span, ctx.sample_limit)
        numbers: dict[tuple[str | None, tuple[Any, ...], int], list[float]] = {}
        result = Evaluation()
        metric_field = spec.metric.field
        for page in fetch(ctx, self.rule, align(ctx.live_from_ms, span), ctx.end_ms, spec.filters):
            for event in page:
                key = tuple(key_value(read_field(event.doc, f)) for f in spec.group_by)
                value = read_field(event.doc, metric_field) if metric_field else None
                if metric_field and value is None:
                    continue
                result.matches += 1
                org = event.organization_id
                grouper.add(
                    org,
                    key,
                    event.timestamp_ms,
                    event.id,
                    key_value(value) if spec.metric.op == "cardinality" else None,
                )
                if spec.metric.op in ("sum", "min", "max", "avg"):
                    try:
                        numbers.setdefault((org, key, align(event.timestamp_ms, span)), []).append(float(str(value)))
                    except (TypeError, ValueError):
                        continue
        for slot, group in grouper.groups.items():
            metric = _metric(spec.metric.op, group, numbers.get(slot, []))
            if metric is None or not spec.condition.holds(metric):
                continue
            org, key, start = slot
            details = {
                "metric": spec.metric.op,
                "field": metric_field,
                "value": metric,
                "condition": spec.condition.describe(),
            }
            result.candidates.append(
                candidate(self.rule, org, dict(zip(spec.group_by, key, strict=True)), start, span, group, details)
            )
        return result


def _metric(op: str, group: Group, numbers: list[float]) -> float | None:
    if op == "count":
        return float(group.count)
    if op == "cardinality":
        return float(len(group.values))
    if not numbers:
        return None
    if op == "sum":
        return sum(numbers)
    if op == "min":
        return min(numbers)
    if op == "max":
        return max(numbers)
    return sum(numbers) / len(numbers)


class NewValueDetector:
    """The first time a value is seen for a key within the history window (after a silent learning time)."""

    def __init__(self, rule: PackRule) -> None:
        assert isinstance(rule.definition, NewValueRule)
        self.rule = rule
        self.spec: NewValueRule = rule.definition

    def evaluate(self, ctx: RunContext) -> Evaluation:
        spec = self.spec
        first: dict[tuple[str | None, tuple[Any, ...], Any], tuple[int, str, int]] = {}
        result = Evaluation()
        for page in fetch(ctx, self.rule, ctx.live_from_ms, ctx.end_ms, spec.filters):
            for event in page:
                raw = read_field(event.doc, spec.field)
                values = raw if isinstance(raw, list) else [raw]
                key = tuple(key_value(read_field(event.doc, f)) for f in spec.key)
                for value in values:
                    if value is None or isinstance(value, dict):
                        continue
                    slot = (event.organization_id, key, value)
                    seen = first.get(slot)
                    if seen is None:
                        first[slot] = (event.timestamp_ms, event.id, 1)
                    else:
                        first[slot] = (seen[0], seen[1], seen[2] + 1)
        learned_from = ctx.rule_created_ms + spec.learn * 1000
        for (org, key, value), (ts, event_id, count) in first.items():
            result.matches += 1
            if ts < learned_from:
                continue  # still learning: remember silently (history does the remembering)
            ctx.check_deadline(self.rule)
            if self._seen_before(ctx, org, key, value, ts):
                continue
            group_key = {**dict(zip(spec.key, key, strict=True)), spec.field: key_value(value)}
            window = align(ts, ctx.suppress_ms)
            group = Group(count=count, first_ms=ts, last_ms=ts, samples=[event_id])
            details = {"field": spec.field, "value": key_value(value), "history_days": round(spec.history / 86400, 2)}
            result.candidates.append(candidate(self.rule, org, group_key, window, ctx.suppress_ms, group, details))
        return result

    def _seen_before(self, ctx: RunContext, org: str | None, key: tuple[Any, ...], value: Any, ts: int) -> bool:
        spec = self.spec
        filters = list(spec.filters)
        filters += [
            FieldFilter(f, "eq", v) if v is not None else FieldFilter(f, "missing")
            for f, v in zip(spec.key, key, strict=True)
        ]
        filters.append(FieldFilter(spec.field, "eq", value))
        if org is None:
            filters.append(FieldFilter("organization.id", "missing"))
        query = EventQuery(
            start=from_millis(ts - spec.history * 1000),
            end=from_millis(ts),
            datasets=self.rule.datasets,
            filters=tuple(filters),
        )
        scope = Scope.institution(org) if org else Scope.everything()
        return ctx.store.count_events(query, scope) > 0


class SilenceDetector:
    """An institution's expected source silent for its ``silence_minutes``; resolved when it resumes."""

    def __init__(self, rule: PackRule) -> None:
        assert isinstance(rule.definition, SilenceRule)
        self.rule = rule
        self.spec: SilenceRule = rule.definition

    def evaluate(self, ctx: RunContext) -> Evaluation:
        result = Evaluation()
        open_by_key: dict[tuple[str | None, str], list[Any]] = {}
        for alert in ctx.sink.open_alerts(self.rule.id):
            open_by_key.setdefault((alert.institution_id, str(alert.group_key.get("source"))), []).append(alert)
        for inst in ctx.inventory:
            for source in inst.expected_sources:
                if self.spec.sources and source.name not in self.spec.sources:
                    continue
                ctx.check_deadline(self.rule)
                filters = list(self.spec.filters)
                if source.host:
                    filters.append(FieldFilter("host.hostname", "eq", source.host))
                datasets = (source.dataset,) if source.dataset else self.rule.datasets
                query = EventQuery(end=from_millis(ctx.end_ms), datasets=datasets, filters=tuple(filters))
                page = ctx.store.search_events(query, Scope.institution(inst.id), limit=1, order="desc")
                last_ms = page.events[0].timestamp_ms if page.events else None
                silent_since = last_ms if last_ms is not None else ctx.rule_created_ms
                limit_ms = source.silence_minutes * 60_000
                group_key = {"source": source.name, "dataset": source.dataset, "host": source.host}
                still_open = open_by_key.get((inst.id, source.name), [])
                silent = ctx.end_ms - silent_since >= limit_ms
                for alert in still_open:
                    started = _ms(alert.window_start)
                    if silent and started == silent_since:
                        continue
                    # the source sent something after this silence began: it is over
                    resumed = self._first_after(ctx, inst.id, datasets, filters, started) or ctx.end_ms
                    group = Group(count=alert.count, first_ms=_ms(alert.first_seen), last_ms=_ms(alert.last_seen))
                    done = candidate(self.rule, inst.id, dict(alert.group_key), started, limit_ms, group)
                    done.state = "resolved"
                    done.resolved_at_ms = resumed
                    result.candidates.append(done)
                if silent:
                    result.matches += 1
                    group = Group(count=1, first_ms=silent_since, last_ms=silent_since + limit_ms)
                    details = {
                        "silence_minutes": source.silence_minutes,
                        "last_event": _iso(last_ms) if last_ms is not None else None,
                    }
                    result.candidates.append(
                        candidate(self.rule, inst.id, group_key, silent_since, limit_ms, group, details)
                    )
        return result

    def _first_after(
        self, ctx: RunContext, org: str, datasets: tuple[str, ...], filters: list[FieldFilter], after_ms: int
    ) -> int | None:
        query = EventQuery(
            start=from_millis(after_ms + 1), end=from_millis(ctx.end_ms), datasets=datasets, filters=tuple(filters)
        )
        page = ctx.store.search_events(query, Scope.institution(org), limit=1, order="asc")
        return page.events[0].timestamp_ms if page.events else None


def _ms(stamp: str) -> int:
    return to_millis(parse_timestamp(stamp))


def _iso(ms: int) -> str:
    return format_timestamp(from_millis(ms))


def build_detector(rule: PackRule) -> Detector:
    """The detector for a rule; ``RuleError`` when the rule cannot run (reported, others go on)."""
    from sentinel.detect.correlation import CorrelationDetector

    if rule.kind == "sigma":
        return SigmaDetector(rule)
    if rule.kind == "correlation":
        return CorrelationDetector(rule)
    if rule.kind == "threshold":
        return ThresholdDetector(rule)
    if rule.kind == "new_value":
        return NewValueDetector(rule)
    if rule.kind == "silence":
        return SilenceDetector(rule)
    raise RuleError(f"unknown rule kind {rule.kind!r}")
