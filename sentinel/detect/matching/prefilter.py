"""Cheap necessary-literal prefilter: skip many rules at once when an event cannot match them.

For a rule, :func:`necessary_literals` finds (field, text) pairs such that whenever the rule
matches an event, at least one of the texts occurs (caselessly) in that field. A
:class:`LiteralIndex` joins the pairs of many rules into one regex scan per field and tells which
rules' texts occur; the matcher skips every other rule that needs a literal. Most events hit no
literal of most rules, so an event costs a couple of searches instead of one test per rule.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.exceptions import SigmaError
from sigma.types import SigmaCasedString, SigmaExpansion, SigmaNumber, SigmaString, SigmaType, SpecialChars

from sentinel.detect.rulebook.ecs_pipeline import KEYWORD_FIELDS
from sentinel.detect.rulebook.sigma import SigmaRule

_T = TypeVar("_T")

Literals = dict[str, set[str]]  # field → texts, at least one of which must occur
# (field, kind, text): kind "eq" = the field's whole value is text; "\\" or "/" = the value's last
# path component (after that separator) is text. Lowercased.
Key = tuple[str, str, str]
_Search = Callable[..., "re.Match[str] | None"]  # a compiled pattern's search


class FieldSearch(NamedTuple):
    """``LiteralIndex``'s search of one field (or of message and event.original together)."""

    fields: tuple[str, ...]
    quick: _Search  # the texts' rare tails
    search: _Search  # the texts
    back: int  # the longest offset of a tail in its text
    table: dict[str, tuple[int, ...]]  # text found → positions of the rules that need it
    stat: list[int]  # [values searched, values where the tails occur, use the tail search]


SEPARATORS = ("\\", "/")
MIN_LENGTH = 3  # shorter texts occur everywhere and would keep the gate open
# Fields the rule index already decides (dataset, channel, EventID): their texts occur in every
# event a rule is tried on, so they would keep every gate open.
INDEXED_FIELDS = frozenset({"event.dataset", "winlog.channel", "winlog.event_id"})


def _trees(rule: SigmaRule) -> list[Any] | None:
    """The rule's parsed conditions; None when it has none to read (``trees`` given by the caller
    saves parsing them again: pySigma parses the condition anew on every read)."""
    if rule.processed is None:
        return None
    try:
        return [c.parsed for c in rule.processed.detection.parsed_condition]
    except SigmaError:
        return None


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
    if len(longest) >= MIN_LENGTH:
        return {field: {longest}}
    # a short text that is not ASCII (the right-to-left override U+202E) is rare in logs all the same
    return {field: {longest}} if not longest.isascii() and not isinstance(value, SigmaCasedString) else None


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


def _node_literals(node: Any, besides: frozenset[Key]) -> Literals | None:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _value_literals(node.field, node.value)
    if isinstance(node, ConditionOR):
        return _union(_node_literals(a, besides) for a in node.args)
    if isinstance(node, ConditionAND):
        pairs = [(a, s) for a in node.args if (s := _node_literals(a, besides))]
        if besides:  # a branch other than the one the keys test says more (``wmic.exe`` and `` group``)
            others = [(a, s) for a, s in pairs if not (keys := _node_keys(a)) or not keys <= besides]
            pairs = others or pairs
        return max((s for _, s in pairs), key=_strength) if pairs else None
    if isinstance(node, ConditionNOT):
        return None
    return None


def necessary_literals(
    rule: SigmaRule, besides: frozenset[Key] | None = None, trees: list[Any] | None = None
) -> Literals | None:
    """(field → texts) one of which occurs whenever the rule matches; None when there is none.

    ``besides``: the rule's necessary keys, tested anyway; literals from another branch of an AND
    are preferred, so that both tests together skip more events than either alone.
    """
    trees = _trees(rule) if trees is None else trees
    if trees is None:
        return None
    avoid = besides or frozenset()
    return _union(_node_literals(t, avoid) for t in trees if t is not None) if trees else None


# -- exact keys --------------------------------------------------------------------------------
# Most process-creation rules need an exact image name: ``Image|endswith: '\\rundll32.exe'`` or
# ``OriginalFileName: RUNDLL32.EXE``. Such a requirement is a dictionary key: an event's keys
# (the lowered value, its last path component) find the rules that may match it in one lookup
# each, however many rules there are, where a literal gate must search every text.


def _value_keys(field: str, value: SigmaType) -> set[Key] | None:
    if isinstance(value, SigmaExpansion):
        return _union_or_none([_value_keys(field, v) for v in value.values])
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


def _union_or_none(sets: Iterable[set[_T] | None]) -> set[_T] | None:
    """The union of ``sets``, or None when any is None (one branch with no key or text: none for the rule)."""
    merged: set[_T] = set()
    for s in sets:
        if s is None:
            return None
        merged |= s
    return merged


def _node_keys(node: Any) -> set[Key] | None:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return None if node.field in INDEXED_FIELDS else _value_keys(node.field, node.value)
    if isinstance(node, ConditionOR):
        return _union_or_none(_node_keys(a) for a in node.args)
    if isinstance(node, ConditionAND):
        candidates = [k for k in (_node_keys(a) for a in node.args) if k]
        return min(candidates, key=len) if candidates else None
    return None  # NOT, keywords, anything else: no key


def necessary_keys(rule: SigmaRule, trees: list[Any] | None = None) -> frozenset[Key] | None:
    """Keys one of which an event has whenever the rule matches it (see ``event_keys``); None if none."""
    trees = _trees(rule) if trees is None else trees
    if trees is None:
        return None
    if not trees or any(t is None for t in trees):
        return None
    keys = _union_or_none(_node_keys(t) for t in trees)
    return frozenset(keys) if keys else None


# -- exact texts of one field ------------------------------------------------------------------
# Windows rules of a service log source (security, system) name their EventIDs in the condition
# (``EventID: 4625``), not in the log source; the rule index files such rules under those IDs.


def _leaf_texts(value: SigmaType) -> set[str] | None:
    """The texts a field equals for this value, as the predicate compares them (``predicates``)."""
    if isinstance(value, SigmaExpansion):
        return _union_or_none([_leaf_texts(v) for v in value.values])
    if isinstance(value, SigmaNumber):
        return {str(value.number)}  # the predicate tests ``str(number) in values[field]``
    if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
        if all(isinstance(p, str) for p in value.s):
            text = "".join(str(p) for p in value.s)
            if text.isascii() and text.isdigit():  # digits: the same lowered or not
                return {text}
    return None


def _node_texts(node: Any, field: str) -> set[str] | None:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf_texts(node.value) if node.field == field else None
    if isinstance(node, ConditionOR):
        return _union_or_none(_node_texts(a, field) for a in node.args)
    if isinstance(node, ConditionAND):
        candidates = [t for t in (_node_texts(a, field) for a in node.args) if t]
        return min(candidates, key=len) if candidates else None
    return None  # NOT, keywords, anything else: no text


def necessary_texts(rule: SigmaRule, field: str, trees: list[Any] | None = None) -> frozenset[str] | None:
    """Texts one of which the field's value (as text) equals whenever the rule matches; None if none.

    Only whole numbers and digit strings: their text is the same lowered or not, and the rule
    index compares it with the event's value as the predicate reads it.
    """
    trees = _trees(rule) if trees is None else trees
    if trees is None:
        return None
    if not trees or any(t is None for t in trees):
        return None
    texts = _union_or_none(_node_texts(t, field) for t in trees)
    return frozenset(texts) if texts else None


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
    backtracking engine tries far faster than a flat list of hundreds of alternatives.

    Where one text is a prefix of another, only the shorter is kept (a hit is a hit). Built over
    the sorted texts, a run of texts with one common continuation is escaped at once.
    """
    items = sorted(set(texts))

    def build(group: list[str], depth: int) -> str:
        if len(group[0]) == depth:  # a text ends here (it sorts first): the rest is not needed
            return ""
        if len(group) == 1:
            return re.escape(group[0][depth:])
        branches = [
            re.escape(ch) + build(list(same), depth + 1)
            for ch, same in itertools.groupby(group, key=lambda t: t[depth])
        ]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return build(items, 0) if items else ""


# Characters common in log text, most common first: poor places for a search to start.
_COMMON = " etaoinsrhldcumfpgwybvkxjqz0123456789.:-_/[]=,()'\""
_RANK = {c: i for i, c in enumerate(_COMMON)}


def _anchored(text: str) -> str:
    """The tail of ``text`` (at least ``MIN_LENGTH`` long) that starts at its rarest character.

    Python's regex search skips the positions where no alternative can start; texts that start
    with rare characters leave it fewer places to try. A piece of a necessary text is itself
    necessary, so a tail is found whenever its whole text occurs (and a little more often).
    """
    if len(text) <= MIN_LENGTH:
        return text
    start = min(range(len(text) - MIN_LENGTH + 1), key=lambda i: (-_RANK.get(text[i], len(_COMMON)), i))
    return text[start:]


_PROBE = 512  # values a field's search sees between two choices of whether its tail search pays


class LiteralIndex:
    """Which rules' necessary literals occur in an event: one scan per field, however many rules.

    The texts of one field join in one regex factored on prefixes (``trie_regex``). At any position
    it matches the one shortest text that starts there, so searching again from one past each hit
    finds every position where some text starts, overlaps included. A hit marks every rule that
    has a text starting with the text found: a rule is never missed when its text occurs, and is
    rarely marked when it does not.

    Where most values hold none of the texts (syslog messages), a first search for the texts' rare
    tails (``_anchored``) says so faster: the regex engine skips the positions where no tail can
    start. When a tail occurs, the full scan starts where the leftmost text holding it could. Where
    most values do hold a text (image names), that first search is wasted: each field counts how
    often it finds something and, every ``_PROBE`` values, keeps the tail search only while it
    finds something in under half of them. The choice changes the cost, never the result.

    ``message`` and ``event.original`` (keyword rules look in both) share one search with the union
    of their texts and rules: a syslog message is the tail of its original line, so such an event
    costs one scan, not two. A value that occurs inside the other is not searched itself.
    """

    __slots__ = ("tests",)

    def __init__(self, literal_sets: Iterable[tuple[int, Literals]]) -> None:
        by_field: dict[str, dict[str, set[int]]] = {}
        for position, literals in literal_sets:
            for field, texts in literals.items():
                table = by_field.setdefault("" if field in KEYWORD_FIELDS else field, {})
                for text in texts:
                    table.setdefault(text, set()).add(position)
        tests = []
        for group, table in by_field.items():
            if not table:
                continue
            fields = tuple(sorted(KEYWORD_FIELDS)) if group == "" else (group,)
            tails = {text: _anchored(text) for text in table}
            back = max(len(text) - len(tail) for text, tail in tails.items())  # a tail's offset in its text
            quick = re.compile(trie_regex(set(tails.values())), re.DOTALL).search
            search = re.compile(trie_regex(table), re.DOTALL).search
            # stat: [values searched, values where something was found, use the tail search]
            tests.append(FieldSearch(fields, quick, search, back, _by_shortest(table), [0, 0, 1]))
        self.tests: tuple[FieldSearch, ...] = tuple(tests)

    def hits(self, values: Mapping[str, tuple[str, ...]]) -> set[int]:
        """Positions of the rules one of whose texts may occur in the event (lowered values)."""
        found: set[int] = set()
        for fields, quick, search, back, table, stat in self.tests:
            if len(fields) == 1:
                texts = values[fields[0]]
            else:
                texts = ()
                for field in fields:
                    texts += values[field]
                if len(texts) == 2:
                    a, b = texts
                    if a in b:
                        texts = (b,)
                    elif b in a:
                        texts = (a,)
            for v in texts:
                if stat[2]:
                    m = quick(v)
                    if m is None:
                        stat[0] += 1
                        continue
                    start = m.start() - back
                    m = search(v, start if start > 0 else 0)
                    stat[1] += 1  # the tail search found something (the first search was spent)
                else:
                    m = search(v)
                    if m is not None:
                        stat[1] += 1
                stat[0] += 1
                while m is not None:
                    found.update(table[m.group()])
                    m = search(v, m.start() + 1)
            if stat[0] >= _PROBE:
                stat[:] = [0, 0, int(stat[1] * 2 < stat[0])]
        return found


def _by_shortest(table: dict[str, set[int]]) -> dict[str, tuple[int, ...]]:
    """Text → positions, keyed by the shortest text of ``table`` that each text starts with: what
    ``trie_regex`` reports when the longer text occurs."""
    shortest = {t for t in table if not any(t[:n] in table for n in range(1, len(t)))}
    merged: dict[str, set[int]] = {}
    for text, positions in table.items():
        head = next(text[:n] for n in range(1, len(text) + 1) if text[:n] in shortest)
        merged.setdefault(head, set()).update(positions)
    return {text: tuple(sorted(positions)) for text, positions in merged.items()}
