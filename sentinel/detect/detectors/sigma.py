"""Sigma detection rules: every matching event counts towards its (group key, alert window)."""

from __future__ import annotations

from sentinel.detect.detectors.base import (
    Evaluation,
    Grouper,
    RunContext,
    align,
    candidate,
    key_builder,
    run_pass,
    with_datasets,
)
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.pack import PackRule
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.errors import RuleError
from sentinel.events import Event


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
        self.key_of = key_builder(self.fields)
        self.grouper = Grouper(ctx.suppress_ms, ctx.sample_limit)
        self.matches = 0

    def add(self, rule: SigmaRule, event: Event) -> None:
        self.matches += 1
        self.grouper.add(event.organization_id, self.key_of(event.doc), event.timestamp_ms, event.id)

    def finish(self) -> Evaluation:
        result = Evaluation(matches=self.matches)
        for (org, key, start), group in self.grouper.groups.items():
            result.candidates.append(
                candidate(self.rule, org, dict(zip(self.fields, key, strict=True)), start, self.window_ms, group)
            )
        return result
