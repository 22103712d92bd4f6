"""Cheap necessary-literal prefilter: skip many rules at once when an event cannot match them.

For a rule, :func:`necessary_literals` finds (field, text) pairs such that whenever the rule
matches an event, at least one of the texts occurs (caselessly) in that field. A :class:`Gate`
joins the pairs of many rules into one regex search per field; when no text occurs anywhere,
none of those rules can match and the matcher skips them all. Most events hit no literal of
most rules, so an event costs a couple of searches instead of one test per rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.exceptions import SigmaError
from sigma.types import SigmaExpansion, SigmaString, SigmaType

from sentinel.detect.sigma_rules import SigmaRule

Literals = dict[str, set[str]]  # field → texts, at least one of which must occur
MIN_LENGTH = 3  # shorter texts occur everywhere and would keep the gate open
# Fields the rule index already decides (dataset, channel, EventID): their texts occur in every
# event a rule is tried on, so they would keep every gate open.
INDEXED_FIELDS = frozenset({"event.dataset", "winlog.channel", "winlog.event_id"})


def _value_literals(field: str, value: SigmaType) -> Literals | None:
    if field in INDEXED_FIELDS:
        return None
    if isinstance(value, SigmaExpansion):
        return _union([_value_literals(field, v) for v in value.values])
    if not isinstance(value, SigmaString):
        return None
    parts = [p for p in value.s if isinstance(p, str)]
    if not parts:
        return None
    longest = max(parts, key=len).lower()  # lowered: a cased text also occurs in the lowered value
    return {field: {longest}} if len(longest) >= MIN_LENGTH else None


def _union(sets: Iterable[Literals | None]) -> Literals | None:
    merged: Literals = {}
    for s in sets:
        if s is None:
            return None
        for field, texts in s.items():
            merged.setdefault(field, set()).update(texts)
    return merged


def _strength(s: Literals) -> tuple[int, int]:
    """Prefer the AND branch whose texts are long (rare) and few."""
    texts = [t for ts in s.values() for t in ts]
    return (min(len(t) for t in texts), -len(texts))


def _node_literals(node: Any) -> Literals | None:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _value_literals(node.field, node.value)
    if isinstance(node, ConditionOR):
        return _union(_node_literals(a) for a in node.args)
    if isinstance(node, ConditionAND):
        candidates = [s for s in (_node_literals(a) for a in node.args) if s]
        return max(candidates, key=_strength) if candidates else None
    if isinstance(node, ConditionNOT):
        return None
    return None


def necessary_literals(rule: SigmaRule) -> Literals | None:
    """(field → texts) one of which occurs whenever the rule matches; None when there is none."""
    try:
        trees = [c.parsed for c in rule.processed.detection.parsed_condition]
    except SigmaError:
        return None
    return _union(_node_literals(t) for t in trees if t is not None) if trees else None


def _trie_regex(texts: Iterable[str]) -> str:
    """An alternation of literal texts factored on common prefixes (``ab(?:c|d)``), which Python's
    backtracking engine tries far faster than a flat list of hundreds of alternatives."""
    trie: dict[str, Any] = {}
    for text in texts:
        node = trie
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node and len(node) == 1:
            return ""
        optional = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch != ""]
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if optional:  # a shorter text ends here: the rest is not needed for a hit
            return ""
        return body

    return build(trie)


class Gate:
    """One search per field over the union of many rules' necessary literals."""

    __slots__ = ("tests",)

    def __init__(self, literal_sets: Iterable[Literals]) -> None:
        merged: Literals = {}
        for s in literal_sets:
            for field, texts in s.items():
                merged.setdefault(field, set()).update(texts)
        self.tests = tuple((field, re.compile(_trie_regex(texts), re.DOTALL).search) for field, texts in merged.items())

    def open(self, values: Mapping[str, tuple[str, ...]]) -> bool:
        """True when some literal occurs, so the gated rules must be tried."""
        for field, search in self.tests:
            for v in values[field]:
                if search(v) is not None:
                    return True
        return False
