"""Detectors of Sentinel's own rule types: threshold, new value, silence (``rule_types``).

Threshold and new-value rules read every event of their datasets that their ``where`` filters
select. Each is a pass over those events (``begin`` → ``add`` each event in time order →
``finish``), fed by its own store query (``evaluate``) or, when its filters can be evaluated on
fetched documents (``event_filters``), by the engine's shared fetch of the range (``shared_pass``):
the events, and their order, are the same either way. Both hand over a page at a time
(``add_all``): a clock-skew threshold takes nearly every event, so its per-event work is kept to
local names, and the group key's readers are built once (``key_builder``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sentinel.detect.detectors.base import (
    Evaluation,
    Group,
    Grouper,
    RunContext,
    Slot,
    align,
    candidate,
    fetch,
    key_builder,
    key_value,
    lacks_a_value,
)
from sentinel.detect.matching.event_filters import DocPredicate, compile_filters
from sentinel.detect.matching.field_values import field_reader
from sentinel.detect.rulebook.pack import PackRule
from sentinel.detect.rulebook.typed_rules import NewValueRule, SilenceRule, ThresholdRule
from sentinel.events import Event, format_timestamp, from_millis, parse_timestamp, to_millis
from sentinel.store.base import EventQuery, FieldFilter, Scope


class ThresholdDetector:
    """A metric of a field per key and timespan, compared with a condition; one alert per timespan."""

    def __init__(self, rule: PackRule) -> None:
        assert isinstance(rule.definition, ThresholdRule)
        self.rule = rule
        self.spec: ThresholdRule = rule.definition
        # set when the engine may feed this rule from a shared fetch (its datasets and filters allow)
        self.accepts: DocPredicate | None = compile_filters(self.spec.filters) if rule.datasets else None

    def first_ms(self, ctx: RunContext) -> int:
        return align(ctx.live_from_ms, self.spec.timespan * 1000)

    def begin(self, ctx: RunContext) -> _ThresholdPass:
        return _ThresholdPass(self, ctx)

    def evaluate(self, ctx: RunContext) -> Evaluation:
        state = self.begin(ctx)
        for page in fetch(ctx, self.rule, self.first_ms(ctx), ctx.end_ms, self.spec.filters):
            state.add_all(page)
        return state.finish()


class _ThresholdPass:
    def __init__(self, detector: ThresholdDetector, ctx: RunContext) -> None:
        self.rule = detector.rule
        self.spec = spec = detector.spec
        self.span = spec.timespan * 1000
        self.grouper = Grouper(self.span, ctx.sample_limit)
        self.numbers: dict[Slot, list[float]] = {}
        self.matches = 0
        self.metric_field = spec.metric.field
        self.numeric = spec.metric.op in ("sum", "min", "max", "avg")
        self.distinct = spec.metric.op == "cardinality"
        self.key_of = key_builder(spec.group_by)
        self.metric_reader = field_reader(self.metric_field) if self.metric_field else None

    def add(self, event: Event) -> None:
        self.add_all((event,))

    def add_all(self, events: Iterable[Event]) -> None:
        """``add`` each event in turn; the per-event work with everything it needs held locally
        (clock skew takes every event of its datasets)."""
        key_of, metric_reader, distinct, numeric = self.key_of, self.metric_reader, self.distinct, self.numeric
        add, numbers = self.grouper.add, self.numbers
        matches = 0
        try:
            for event in events:
                doc = event.doc
                key = key_of(doc)
                if lacks_a_value(key):
                    continue
                if metric_reader is None:
                    value = None
                else:
                    value = metric_reader(doc)
                    if value is None:
                        continue
                matches += 1
                org = event.organization_id
                ts = event.timestamp_ms
                slot = add(org, key, ts, event.id, key_value(value) if distinct else None)
                if numeric:
                    if type(value) is float or type(value) is int:
                        number = float(value)  # what float(str(value)) gives, without the text
                    else:
                        try:
                            number = float(str(value))  # numbers as text count; True ("True") does not
                        except (TypeError, ValueError):
                            continue
                    found = numbers.get(slot)
                    if found is None:
                        numbers[slot] = [number]
                    else:
                        found.append(number)
        finally:
            self.matches += matches  # as far as it got, as one ``add`` at a time would have counted

    def finish(self) -> Evaluation:
        spec, span = self.spec, self.span
        result = Evaluation(matches=self.matches)
        for slot, group in self.grouper.groups.items():
            metric = _metric(spec.metric.op, group, self.numbers.get(slot, []))
            if metric is None or not spec.condition.holds(metric):
                continue
            org, key, start = slot
            details = {
                "metric": spec.metric.op,
                "field": self.metric_field,
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
        self.accepts: DocPredicate | None = compile_filters(self.spec.filters) if rule.datasets else None

    def first_ms(self, ctx: RunContext) -> int:
        return ctx.live_from_ms

    def begin(self, ctx: RunContext) -> _NewValuePass:
        return _NewValuePass(self, ctx)

    def evaluate(self, ctx: RunContext) -> Evaluation:
        state = self.begin(ctx)
        for page in fetch(ctx, self.rule, self.first_ms(ctx), ctx.end_ms, self.spec.filters):
            state.add_all(page)
        return state.finish()

    def seen_before(self, ctx: RunContext, org: str | None, key: tuple[Any, ...], value: Any, ts: int) -> bool:
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


class _NewValuePass:
    def __init__(self, detector: NewValueDetector, ctx: RunContext) -> None:
        self.detector = detector
        self.ctx = ctx
        self.spec = detector.spec
        self.first: dict[tuple[str | None, tuple[Any, ...], Any], tuple[int, str, int]] = {}
        self.value_reader = field_reader(self.spec.field)
        self.key_of = key_builder(self.spec.key)

    def add(self, event: Event) -> None:
        self.add_all((event,))

    def add_all(self, events: Iterable[Event]) -> None:
        first, value_reader, key_of = self.first, self.value_reader, self.key_of
        for event in events:
            doc = event.doc
            raw = value_reader(doc)
            values = raw if isinstance(raw, list) else (raw,)
            key = key_of(doc)
            if lacks_a_value(key):
                continue
            for value in values:
                if value is None or isinstance(value, dict):
                    continue
                slot = (event.organization_id, key, value)
                seen = first.get(slot)
                if seen is None:
                    first[slot] = (event.timestamp_ms, event.id, 1)
                else:
                    first[slot] = (seen[0], seen[1], seen[2] + 1)

    def finish(self) -> Evaluation:
        detector, ctx, spec = self.detector, self.ctx, self.spec
        result = Evaluation()
        learned_from = ctx.rule_created_ms + spec.learn * 1000
        for (org, key, value), (ts, event_id, count) in self.first.items():
            result.matches += 1
            if ts < learned_from:
                continue  # still learning: remember silently (history does the remembering)
            ctx.check_deadline(detector.rule)
            if detector.seen_before(ctx, org, key, value, ts):
                continue
            group_key = {**dict(zip(spec.key, key, strict=True)), spec.field: key_value(value)}
            window = align(ts, ctx.suppress_ms)
            group = Group(count=count, first_ms=ts, last_ms=ts, samples=[event_id])
            details = {"field": spec.field, "value": key_value(value), "history_days": round(spec.history / 86400, 2)}
            result.candidates.append(candidate(detector.rule, org, group_key, window, ctx.suppress_ms, group, details))
        return result


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
                page = ctx.store.search_events(
                    query, Scope.institution(inst.id), limit=1, order="desc", with_total=False
                )
                last_ms = page.events[0].timestamp_ms if page.events else None
                silent_since = last_ms if last_ms is not None else ctx.watched_from_ms
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
        page = ctx.store.search_events(query, Scope.institution(org), limit=1, order="asc", with_total=False)
        return page.events[0].timestamp_ms if page.events else None


def _ms(stamp: str) -> int:
    return to_millis(parse_timestamp(stamp))


def _iso(ms: int) -> str:
    return format_timestamp(from_millis(ms))
