"""What reports need to know about each rule: its texts (names per language, category), ATT&CK
tactics and techniques, the controls it evidences and the datasets it reads (for "was it watched?")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sentinel.notify.responses import RuleText, RuleTexts

OTHER = "other"  # the category of an incident whose rule has no response section


@dataclass(frozen=True)
class ReportRule:
    text: RuleText
    kind: str  # sigma, correlation, silence, new_value, threshold
    datasets: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.text.rule_id

    @property
    def controls(self) -> tuple[str, ...]:
        return self.text.controls


@dataclass
class ReportRules:
    by_id: dict[str, ReportRule] = field(default_factory=dict)
    texts: RuleTexts = field(default_factory=RuleTexts)

    @classmethod
    def from_rules(cls, rules: Iterable[Any]) -> ReportRules:
        """From loaded rules (``PackRule``: id, title, tags, controls, kind, datasets, path)."""
        rules = list(rules)
        texts = RuleTexts.from_rules(rules)
        by_id = {
            str(r.id): ReportRule(texts.by_id[str(r.id)], str(r.kind), tuple(getattr(r, "datasets", ()) or ()))
            for r in rules
        }
        return cls(by_id, texts)

    def get(self, rule_id: str) -> ReportRule | None:
        return self.by_id.get(rule_id)

    def category(self, rule_id: str) -> str:
        rule = self.by_id.get(rule_id)
        return (rule.text.category if rule else None) or OTHER

    def for_control(self, control_id: str) -> list[ReportRule]:
        return [r for r in self.by_id.values() if control_id in r.controls]

    def name(self, rule_id: str, language: str) -> str:
        return self.texts.name(rule_id, language)
