"""Sigma correlation rules evaluated over the matches of their base rules.

For each group key (the correlation's ``group-by`` plus the institution, so an alert always
belongs to one institution) the matches are ordered by time and a sliding window of the
correlation's ``timespan`` is moved over them:

* ``event_count``: the number of matches in the window satisfies the condition;
* ``value_count``: the number of distinct values of the condition's ``field`` does;
* ``temporal``: every referenced rule matched within the window (any order);
* ``temporal_ordered``: they matched in the order listed.

A key fires in an alert window (``suppress``) when a window ending inside it fires. The alert then
counts every base-rule match of the key in the alert window, so a brute force of 10,000 lines is
one alert with a count of 10,000 per alert window and key, not 10,000 alerts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any, NamedTuple

from sentinel.detect.alerts import AlertCandidate
from sentinel.detect.detectors.base import (
    Evaluation,
    Group,
    RunContext,
    align,
    candidate,
    key_builder,
    key_value,
    lacks_a_value,
    run_pass,
    with_datasets,
)
from sentinel.detect.matching.field_values import field_reader
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.pack import PackRule
from sentinel.detect.rulebook.sigma import SigmaCorrelation, SigmaRule
from sentinel.detect.rulebook.typed_rules import Condition
from sentinel.errors import RuleError
from sentinel.events import Event


class Hit(NamedTuple):
    """One base-rule match (a tuple: a correlation keeps one per match, and tuples build fastest)."""

    ts_ms: int
    event_id: str
    rule_index: int  # position of the base rule in the correlation's ``rules``
    value: Any = None  # value_count: the counted field's value


def _condition(corr: SigmaCorrelation) -> Condition:
    ops = {k: v for k, v in corr.condition.items() if k in ("gt", "gte", "lt", "lte", "eq")}
    if corr.type in ("temporal", "temporal_ordered") and not ops:
        return Condition(gte=len(corr.rules))
    try:
        return Condition.model_validate(ops)
    except ValueError as exc:
        raise RuleError(f"correlation condition {corr.condition!r} is not supported: {exc}") from exc


class CorrelationDetector:
    def __init__(self, rule: PackRule) -> None:
        corr = rule.definition
        if not isinstance(corr, SigmaCorrelation):
            raise TypeError("CorrelationDetector needs a Sigma correlation")
        if not rule.base_rules:
            raise RuleError(f"correlation {rule.id} has no base rules")
        self.rule = rule
        self.corr = corr
        self.condition = _condition(corr)
        self.index = RuleIndex([with_datasets(b, rule.options.datasets) for b in rule.base_rules])
        if self.index.unsupported:
            base, reason = self.index.unsupported[0]
            raise RuleError(f"base rule {base.id} cannot run: {reason}")
        self.position = {id(base): i for i, base in enumerate(self.index.rules)}
        self.key_fields = [self._fields_for(g) for g in corr.group_by]
        # per base rule, its group key from a document (the fields each group-by name reads for it)
        self.key_of = [key_builder([fields[i] for fields in self.key_fields]) for i in range(len(rule.base_rules))]
        value_field = corr.condition.get("field")
        self.value_field: str | None = value_field[0] if isinstance(value_field, list) else value_field
        self.value_of = field_reader(self.value_field) if self.value_field else None
        if corr.type == "value_count" and not self.value_field:
            raise RuleError("a value_count correlation needs 'condition.field'")
        self.span_ms = corr.timespan_seconds * 1000
        if self.span_ms <= 0:
            raise RuleError("a correlation needs a positive timespan")

    def _fields_for(self, name: str) -> list[str]:
        """Per base rule, the ECS field a group-by name (or alias) reads."""
        alias = self.corr.aliases.get(name)
        if alias is None:
            return [name] * len(self.rule.base_rules)
        out = []
        for base in self.rule.base_rules:
            out.append(alias.get(base.id) or (alias.get(base.name) if base.name else None) or name)
        return out

    def first_ms(self, ctx: RunContext) -> int:
        return align(ctx.live_from_ms, ctx.suppress_ms) - self.span_ms

    def begin(self, ctx: RunContext) -> _CorrelationPass:
        return _CorrelationPass(self, ctx)

    def evaluate(self, ctx: RunContext) -> Evaluation:
        return run_pass(self, ctx)

    def candidates(
        self, ctx: RunContext, hits: dict[tuple[str | None, tuple[Any, ...]], list[Hit]]
    ) -> list[AlertCandidate]:
        """Alert candidates from every key's base-rule matches."""
        window_ms = ctx.suppress_ms
        first_window = align(ctx.live_from_ms, window_ms)
        group_names = list(self.corr.group_by)
        out: list[AlertCandidate] = []
        for (org, key), key_hits in hits.items():
            key_hits.sort(key=lambda h: (h.ts_ms, h.event_id))
            fired = self._fired_windows(key_hits, window_ms, first_window)
            for start in sorted(fired):
                inside = [h for h in key_hits if start <= h.ts_ms < start + window_ms]
                group = Group(
                    count=len(inside),
                    first_ms=inside[0].ts_ms,
                    last_ms=inside[-1].ts_ms,
                    samples=[h.event_id for h in inside[: ctx.sample_limit]],
                )
                details: dict[str, Any] = {"correlation": self.corr.type, "peak": fired[start]}
                details["timespan_seconds"] = self.corr.timespan_seconds
                if self.value_field:
                    values = sorted({str(h.value) for h in inside if h.value is not None})
                    details.update(field=self.value_field, distinct=len(values), values=values[:20])
                out.append(
                    candidate(
                        self.rule, org, dict(zip(group_names, key, strict=True)), start, window_ms, group, details
                    )
                )
        return out

    def _fired_windows(self, hits: Sequence[Hit], window_ms: int, first_window: int) -> dict[int, float]:
        """Alert windows (start) in which a sliding timespan ending there fires, with the peak figure."""
        fired: dict[int, float] = {}
        if self.corr.type == "event_count":
            times = [h.ts_ms for h in hits]
            lo = 0
            for hi, t in enumerate(times):
                while times[lo] <= t - self.span_ms:
                    lo += 1
                self._note(fired, t, float(hi - lo + 1), window_ms, first_window)
        elif self.corr.type == "value_count":
            window: deque[Hit] = deque()
            counts: Counter[Any] = Counter()
            for h in hits:
                window.append(h)
                if h.value is not None:
                    counts[h.value] += 1
                while window[0].ts_ms <= h.ts_ms - self.span_ms:
                    old = window.popleft()
                    if old.value is not None:
                        counts[old.value] -= 1
                        if counts[old.value] == 0:
                            del counts[old.value]
                self._note(fired, h.ts_ms, float(len(counts)), window_ms, first_window)
        else:
            ordered = self.corr.type == "temporal_ordered"
            n_rules, first_min = len(self.rule.base_rules), self.rule.options.first_min
            times = [h.ts_ms for h in hits]
            # later[i]: hits of any but the first rule among hits[:i]. A timespan holding none (a
            # brute force with no success yet) is judged from its size alone, without a scan: only
            # the first rule matched, as often as the timespan has hits.
            later = [0]
            for h in hits:
                later.append(later[-1] + (h.rule_index != 0))
            for end, h in enumerate(hits):
                lo = bisect_right(times, h.ts_ms - self.span_ms)
                if later[end + 1] == later[lo]:
                    seen = 1 if not ordered or end + 1 - lo >= first_min else 0
                else:
                    seen = _rules_seen(hits[lo : end + 1], n_rules, ordered, first_min)
                self._note(fired, h.ts_ms, float(seen), window_ms, first_window)
        return fired

    def _note(self, fired: dict[int, float], t: int, figure: float, window_ms: int, first_window: int) -> None:
        if t < first_window or not self.condition.holds(figure):
            return
        start = align(t, window_ms)
        fired[start] = max(fired.get(start, figure), figure)


class _CorrelationPass:
    """One run of a correlation: base-rule matches collected per key, judged at the end."""

    def __init__(self, detector: CorrelationDetector, ctx: RunContext) -> None:
        self.detector = detector
        self.ctx = ctx
        self.hits: dict[tuple[str | None, tuple[Any, ...]], list[Hit]] = {}
        self.matches = 0

    def add(self, rule: SigmaRule, event: Event) -> None:
        det = self.detector
        i = det.position[id(rule)]
        self.matches += 1
        doc = event.doc
        value = det.value_of(doc) if det.value_of is not None else None
        group = det.key_of[i](doc)
        if lacks_a_value(group):
            return  # an event without a group-by value is in no group (Sigma correlation semantics)
        key = (event.organization_id, group)
        hit = Hit(event.timestamp_ms, event.id, i, key_value(value))
        found = self.hits.get(key)
        if found is None:
            self.hits[key] = [hit]
        else:
            found.append(hit)

    def finish(self) -> Evaluation:
        return Evaluation(candidates=self.detector.candidates(self.ctx, self.hits), matches=self.matches)


def _rules_seen(hits: Sequence[Hit], n_rules: int, ordered: bool, first_min: int = 1) -> int:
    """How many of the base rules matched in the slice (in order, for temporal_ordered).

    With ``first_min`` > 1 the first rule must match that many times before the second counts.
    """
    if not ordered:
        return len({h.rule_index for h in hits})
    want = 0
    firsts = 0
    for h in hits:
        if want == 0 and h.rule_index == 0:
            firsts += 1
            if firsts >= first_min:
                want = 1
        elif want > 0 and h.rule_index == want:
            want += 1
        if want == n_rules:
            break
    return want


def base_rules_of(corr: SigmaCorrelation, rules: Sequence[SigmaRule]) -> list[SigmaRule]:
    """The detection rules a correlation refers to (by id or name), in its order."""
    out = []
    for ref in corr.rules:
        match = next((r for r in rules if ref in {r.id, r.name}), None)
        if match is None:
            raise RuleError(f"correlation {corr.id} references unknown rule {ref!r}")
        out.append(match)
    return out
