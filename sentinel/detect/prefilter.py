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
from sigma.types import SigmaExpansion, SigmaString, SigmaType, SpecialChars

from sentinel.detect.ecs_pipeline import KEYWORD_FIELDS
from sentinel.detect.sigma_rules import SigmaRule

Literals = dict[str, set[str]]  # field → texts, at least one of which must occur
# (field, kind, text): kind "eq" = the field's whole value is text; "\\" or "/" = the value's last
# path component (after that separator) is text. Lowercased.
Key = tuple[str, str, str]
SEPARATORS = ("\\", "/")
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


# -- exact keys --------------------------------------------------------------------------------
# Most process-creation rules need an exact image name: ``Image|endswith: '\\rundll32.exe'`` or
# ``OriginalFileName: RUNDLL32.EXE``. Such a requirement is a dictionary key: an event's keys
# (the lowered value, its last path component) find the rules that may match it in one lookup
# each, however many rules there are, where a literal gate must search every text.


def _value_keys(field: str, value: SigmaType) -> set[Key] | None:
    if isinstance(value, SigmaExpansion):
        return _all_keys([_value_keys(field, v) for v in value.values])
    if not isinstance(value, SigmaString):
        return None
    parts = list(value.s)
    if all(isinstance(p, str) for p in parts):  # no wildcard: the whole value
        return {(field, "eq", "".join(str(p) for p in parts).lower())}
    if parts[0] is SpecialChars.WILDCARD_MULTI and all(isinstance(p, str) for p in parts[1:]):
        tail = "".join(str(p) for p in parts[1:])
        for sep in SEPARATORS:
            # endswith "\\name" (no other separator in name) == the last component is "name"
            if len(tail) > 1 and tail[0] == sep and sep not in tail[1:]:
                return {(field, sep, tail[1:].lower())}
    return None


def _all_keys(sets: Iterable[set[Key] | None]) -> set[Key] | None:
    merged: set[Key] = set()
    for s in sets:
        if s is None:
            return None
        merged |= s
    return merged


def _node_keys(node: Any) -> set[Key] | None:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return None if node.field in INDEXED_FIELDS else _value_keys(node.field, node.value)
    if isinstance(node, ConditionOR):
        return _all_keys(_node_keys(a) for a in node.args)
    if isinstance(node, ConditionAND):
        candidates = [k for k in (_node_keys(a) for a in node.args) if k]
        return min(candidates, key=len) if candidates else None
    return None  # NOT, keywords, anything else: no key


def necessary_keys(rule: SigmaRule) -> frozenset[Key] | None:
    """Keys one of which an event has whenever the rule matches it (see ``event_keys``); None if none."""
    try:
        trees = [c.parsed for c in rule.processed.detection.parsed_condition]
    except SigmaError:
        return None
    if not trees or any(t is None for t in trees):
        return None
    keys = _all_keys(_node_keys(t) for t in trees)
    return frozenset(keys) if keys else None


class KeyIndex:
    """Rules by their necessary keys: the positions of the rules an event's keys point to."""

    __slots__ = ("fields", "positions")

    def __init__(self, keyed: Iterable[tuple[int, frozenset[Key]]]) -> None:
        self.positions: dict[Key, list[int]] = {}
        wanted: dict[str, set[str]] = {}
        for position, keys in keyed:
            for key in keys:
                self.positions.setdefault(key, []).append(position)
                wanted.setdefault(key[0], set()).add(key[1])
        self.fields = tuple(
            (field, "eq" in kinds, tuple(k for k in SEPARATORS if k in kinds)) for field, kinds in wanted.items()
        )

    def __bool__(self) -> bool:
        return bool(self.positions)

    def lookup(self, values: Mapping[str, tuple[str, ...]]) -> set[int]:
        """Positions of the keyed rules the event may match (lowered values, as the matcher reads them)."""
        found: set[int] = set()
        get = self.positions.get
        for field, whole, seps in self.fields:
            for v in values[field]:
                if whole and (hit := get((field, "eq", v))):
                    found.update(hit)
                for sep in seps:
                    i = v.rfind(sep)
                    if i >= 0 and (hit := get((field, sep, v[i + 1 :]))):
                        found.update(hit)
        return found


def trie_regex(texts: Iterable[str]) -> str:
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


# Characters common in log text, most common first: poor places for a search to start.
_COMMON = " etaoinsrhldcumfpgwybvkxjqz0123456789.:-_/[]=,()'\""
_RANK = {c: i for i, c in enumerate(_COMMON)}


def _anchored(text: str) -> str:
    """The tail of ``text`` (at least ``MIN_LENGTH`` long) that starts at its rarest character.

    Python's regex search skips the positions where no alternative can start; texts that start
    with rare characters leave it fewer places to try. A piece of a necessary text is itself
    necessary, so a gate of tails opens whenever one of whole texts would (a little more often).
    """
    if len(text) <= MIN_LENGTH:
        return text
    start = min(range(len(text) - MIN_LENGTH + 1), key=lambda i: (-_RANK.get(text[i], len(_COMMON)), i))
    return text[start:]


class Gate:
    """One search per field over the union of many rules' necessary literals.

    Fields with the same texts share one search, and so do ``message`` and ``event.original``
    (keyword rules look in both) with the union of their texts: a search that also finds the
    other field's texts can only open the gate more often, never shut it wrongly. A value that
    occurs inside another value of the same search is not searched itself: any text it holds
    occurs in the longer one too. A syslog message is the tail of its original line, so such an
    event costs one search, not two.
    """

    __slots__ = ("tests",)

    def __init__(self, literal_sets: Iterable[Literals], *, anchored: bool = False) -> None:
        """``anchored``: search for the texts' rare tails (``_anchored``), for a gate before other gates."""
        merged: Literals = {}
        for s in literal_sets:
            for field, texts in s.items():
                merged.setdefault(field, set()).update(map(_anchored, texts) if anchored else texts)
        keyword = set().union(*(texts for field, texts in merged.items() if field in KEYWORD_FIELDS))
        by_texts: dict[frozenset[str], list[str]] = {}
        for field, texts in merged.items():
            by_texts.setdefault(frozenset(keyword if field in KEYWORD_FIELDS else texts), []).append(field)
        self.tests = tuple(
            (tuple(fields), re.compile(trie_regex(texts), re.DOTALL).search) for texts, fields in by_texts.items()
        )

    def open(self, values: Mapping[str, tuple[str, ...]]) -> bool:
        """True when some literal occurs, so the gated rules must be tried."""
        for fields, search in self.tests:
            if len(fields) == 1:
                for v in values[fields[0]]:
                    if search(v) is not None:
                        return True
                continue
            texts = [v for field in fields for v in values[field]]
            if len(texts) == 2:
                a, b = texts
                if a in b:
                    texts = [b]
                elif b in a:
                    texts = [a]
            for v in texts:
                if search(v) is not None:
                    return True
        return False
