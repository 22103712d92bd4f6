"""Sigma detections as fast Python predicates over ECS documents, and an index for many rules.

Each rule's condition tree (after the ECS pipeline) compiles once into nested closures. Sigma
semantics: strings compare case-insensitively unless ``|cased``; ``*``/``?`` are wildcards (``\\``
escapes them); numbers and booleans compare as strings, so ``EventID: 4688`` matches 4688 and
"4688"; a list-valued field matches if any element does; a missing field never equals anything,
so ``not selection`` holds for it; ``null`` matches a missing, null or empty field; ``re`` is an
unanchored, case-sensitive search (flags ``i``/``m``/``s``); ``cidr``, ``gt``/``gte``/``lt``/``lte``,
``exists`` and ``fieldref`` do what their names say; values a modifier expands (``windash``,
``base64offset``) are OR-ed.

Speed comes from work done once: values OR-ed on one field merge into one test (a set for
equality, tuples for prefixes/suffixes, substrings, one regex for the rest); each event's
fields are read and lowercased once per event however many rules look at them;
:class:`RuleIndex` tries an event only against rules whose dataset (and Windows EventID) fit;
and a necessary-literal prefilter (:mod:`sentinel.detect.prefilter`) skips, with one search
per field, every rule none of whose required texts occur in the event.
"""

from __future__ import annotations

import ipaddress
import logging
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from sentinel.detect.ecs_pipeline import KEYWORD_FIELDS
from sentinel.detect.prefilter import Gate, Key, KeyIndex, Literals, necessary_keys, necessary_literals
from sentinel.detect.sigma_rules import SigmaRule
from sentinel.errors import RuleError
from sentinel.events import Event

log = logging.getLogger(__name__)

Predicate = Callable[["_Values"], bool]
_EMPTY: tuple[str, ...] = ()


def _as_text(value: Any) -> str | None:
    """How Sigma sees a field value: text. Numbers and booleans as their usual spelling."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None  # objects have no text value


def _lookup(doc: Mapping[str, Any], name: str) -> Any:
    if name in doc:
        return doc[name]
    node: Any = doc
    for part in name.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


class _Raw(dict[str, tuple[str, ...]]):
    """Field → its values as text, read from the document on first use."""

    __slots__ = ("doc",)

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc

    def __missing__(self, name: str) -> tuple[str, ...]:
        value = _lookup(self.doc, name)
        if value is None:
            texts: tuple[str, ...] = _EMPTY
        elif isinstance(value, list):
            texts = tuple(t for t in map(_as_text, value) if t is not None)
        else:
            text = _as_text(value)
            texts = _EMPTY if text is None else (text,)
        self[name] = texts
        return texts


class _Values(dict[str, tuple[str, ...]]):
    """Field → lowercased text values (the common case); ``raw`` holds them as they are."""

    __slots__ = ("raw",)

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.raw = _Raw(doc)

    def __missing__(self, name: str) -> tuple[str, ...]:
        texts = tuple(t.lower() for t in self.raw[name])
        self[name] = texts
        return texts

    def present(self, name: str) -> bool:
        return _lookup(self.raw.doc, name) is not None


# -- string patterns -------------------------------------------------------------------------


def _anchored(body: str) -> str:
    """A whole-value wildcard regex as a search pattern: leading/trailing ``.*`` become no anchor."""
    start = body[2:] if body.startswith(".*") else r"\A" + body
    return "(?:" + (start[:-2] if start.endswith(".*") and not start.endswith("\\.*") else start + r"\Z") + ")"


class _Patterns:
    """OR-ed string patterns for one field, sorted by the cheapest test that decides each."""

    def __init__(self) -> None:
        self.equal: set[str] = set()
        self.prefix: list[str] = []
        self.suffix: list[str] = []
        self.contains: list[str] = []
        self.regex: list[str] = []
        self.anything = False  # a lone '*': any value

    def add(self, s: SigmaString, lower: bool) -> None:
        parts: list[str | SpecialChars] = []
        for part in s.s:
            if isinstance(part, Placeholder):
                raise RuleError(f"placeholder %{part.name}% is not resolved (the 'expand' modifier needs a value list)")
            parts.append(part.lower() if lower and isinstance(part, str) else part)
        star, one = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
        texts = [p for p in parts if isinstance(p, str)]
        if one not in parts:
            shape = ["*" if p is star else "s" for p in parts]
            # collapse runs of '*' (they mean the same as one)
            compact = [c for i, c in enumerate(shape) if not (c == "*" and i > 0 and shape[i - 1] == "*")]
            joined = "".join(compact)
            if joined == "":
                self.equal.add("")
                return
            if joined == "s":
                self.equal.add(texts[0])
                return
            if joined == "*":
                self.anything = True
                return
            if joined == "s*":
                self.prefix.append(texts[0])
                return
            if joined == "*s":
                self.suffix.append(texts[0])
                return
            if joined == "*s*":
                self.contains.append(texts[0])
                return
        self.regex.append("".join(re.escape(p) if isinstance(p, str) else (".*" if p is star else ".") for p in parts))

    def test(self) -> Callable[[str], bool]:
        if self.anything:
            return lambda v: True
        tests: list[Callable[[str], bool]] = []
        if self.equal:
            equal = frozenset(self.equal)
            tests.append(equal.__contains__)
        if self.prefix:
            prefixes = tuple(self.prefix)
            tests.append(lambda v: v.startswith(prefixes))
        if self.suffix:
            suffixes = tuple(self.suffix)
            tests.append(lambda v: v.endswith(suffixes))
        # Substrings and wildcard patterns become one regex search (C speed, one call), not a
        # Python loop: a rule often lists dozens of substrings for one field.
        searches = [re.escape(sub) for sub in self.contains] + [_anchored(r) for r in self.regex]
        if len(searches) == 1 and self.contains:
            sub = self.contains[0]
            tests.append(lambda v: sub in v)
        elif searches:
            search = re.compile("|".join(searches), re.DOTALL).search
            tests.append(lambda v: search(v) is not None)
        if len(tests) == 1:
            return tests[0]
        if len(tests) == 2:
            a, b = tests
            return lambda v: a(v) or b(v)
        return lambda v: any(t(v) for t in tests)


def _string_leaf(field: str, patterns: _Patterns, cased: bool) -> Predicate:
    test = patterns.test()
    if cased:

        def cased_leaf(values: _Values) -> bool:
            return any(test(v) for v in values.raw[field])

        return cased_leaf

    def leaf(values: _Values) -> bool:
        vs = values[field]
        if len(vs) == 1:
            return test(vs[0])
        return any(test(v) for v in vs)

    return leaf


# -- other value types -----------------------------------------------------------------------

_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}
_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _value_leaf(field: str, value: SigmaType) -> Predicate:
    """A predicate for one field and one non-string value (strings go through _Patterns)."""
    if isinstance(value, SigmaNull):
        return lambda values: all(v == "" for v in values.raw[field])
    if isinstance(value, SigmaExists):
        want = bool(value.exists)
        return lambda values: values.present(field) is want
    if isinstance(value, (SigmaNumber, SigmaBool)):
        text = ("true" if value.boolean else "false") if isinstance(value, SigmaBool) else str(value.number)
        return lambda values: text in values[field]
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= _RE_FLAGS[flag]
        if value.regexp.contains_placeholder():
            raise RuleError("placeholders in a regular expression are not supported")
        search = re.compile(str(value.regexp), flags).search
        return lambda values: any(search(v) is not None for v in values.raw[field])
    if isinstance(value, SigmaCIDRExpression):
        network = value.network

        def in_network(values: _Values) -> bool:
            for v in values.raw[field]:
                try:
                    if ipaddress.ip_address(v.split("%", 1)[0]) in network:
                        return True
                except ValueError:
                    continue
            return False

        return in_network
    if isinstance(value, SigmaCompareExpression):
        compare, bound = _COMPARE[value.op], float(value.number.number)

        def compared(values: _Values) -> bool:
            for v in values.raw[field]:
                n = _number(v)
                if n is not None and compare(n, bound):
                    return True
            return False

        return compared
    if isinstance(value, SigmaFieldReference):
        other, starts, ends = value.field, value.starts_with, value.ends_with

        def same(values: _Values) -> bool:
            mine, theirs = values[field], values[other]
            for a in mine:
                for b in theirs:
                    if (starts and a.startswith(b)) or (ends and a.endswith(b)) or (not starts and not ends and a == b):
                        return True
            return False

        return same
    if isinstance(value, SigmaExpansion):
        return _or([_leaf_group(field, list(value.values))])
    raise RuleError(f"value type {type(value).__name__} on field {field!r} is not supported by the matcher")


def _leaf_group(field: str, values: list[SigmaType]) -> Predicate:
    """OR of several values on one field: strings merge into one pattern test."""
    ci, cased = _Patterns(), _Patterns()
    has_ci = has_cased = False
    others: list[Predicate] = []
    for value in values:
        if isinstance(value, SigmaCasedString):
            cased.add(value, lower=False)
            has_cased = True
        elif isinstance(value, SigmaString):
            ci.add(value, lower=True)
            has_ci = True
        else:
            others.append(_value_leaf(field, value))
    preds = others
    if has_ci:
        preds.insert(0, _string_leaf(field, ci, cased=False))
    if has_cased:
        preds.insert(0, _string_leaf(field, cased, cased=True))
    return _or(preds)


# -- boolean structure -----------------------------------------------------------------------


def _or(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda values: a(values) or b(values)
    ps = tuple(preds)

    def any_of(values: _Values) -> bool:
        for p in ps:
            if p(values):
                return True
        return False

    return any_of


def _and(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda values: a(values) and b(values)
    ps = tuple(preds)

    def all_of(values: _Values) -> bool:
        for p in ps:
            if not p(values):
                return False
        return True

    return all_of


def _compile_node(node: Any) -> Predicate:
    if isinstance(node, ConditionOR):
        # Group consecutive leaves on the same field (a value list) into one merged test.
        groups: dict[str, list[SigmaType]] = {}
        rest: list[Predicate] = []
        for arg in node.args:
            if isinstance(arg, ConditionFieldEqualsValueExpression):
                groups.setdefault(arg.field, []).append(arg.value)
            else:
                rest.append(_compile_node(arg))
        return _or([_leaf_group(f, vs) for f, vs in groups.items()] + rest)
    if isinstance(node, ConditionAND):
        return _and([_compile_node(arg) for arg in node.args])
    if isinstance(node, ConditionNOT):
        inner = _compile_node(node.args[0])
        return lambda values: not inner(values)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf_group(node.field, [node.value])
    if isinstance(node, ConditionValueExpression):  # a keyword the pipeline did not map
        value = node.value
        if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
            wrapped = value
            if not wrapped.startswith(SpecialChars.WILDCARD_MULTI):
                wrapped = SpecialChars.WILDCARD_MULTI + wrapped
            if not wrapped.endswith(SpecialChars.WILDCARD_MULTI):
                wrapped = wrapped + SpecialChars.WILDCARD_MULTI
            return _or([_leaf_group(f, [wrapped]) for f in KEYWORD_FIELDS])
        return _or([_leaf_group(f, [value]) for f in KEYWORD_FIELDS])
    raise RuleError(f"condition element {type(node).__name__} is not supported")


def compile_values_predicate(rule: SigmaRule) -> Predicate:
    """The rule as a predicate over per-event field values (what RuleIndex runs)."""
    try:
        trees = [c.parsed for c in rule.processed.detection.parsed_condition]
    except SigmaError as exc:
        raise RuleError(f"invalid condition: {exc}") from exc
    preds = [_compile_node(t) for t in trees if t is not None]
    if not preds:
        raise RuleError("the rule has no condition left after mapping")
    return _or(preds)


def compile_predicate(rule: SigmaRule) -> Callable[[Mapping[str, Any]], bool]:
    """The rule as ``predicate(ecs_doc) -> bool``. Raises ``RuleError`` if it cannot be compiled."""
    pred = compile_values_predicate(rule)
    return lambda doc: pred(_Values(doc))


# -- many rules over many events -------------------------------------------------------------

_Compiled = tuple[SigmaRule, Predicate]
# a compiled rule with its prefilter data: necessary literals and necessary keys
_Entry = tuple[SigmaRule, Predicate, Literals | None, frozenset[Key] | None]


_CHUNK = 8  # gated rules per second-level gate
_KEY_SHARE = 32  # a key more rules than this need (e.g. auditd's SYSCALL) is left to the literal gates


class _RuleList:
    """Rules one event may meet, in load order: keyed rules, then the rest behind literal gates.

    Rules with necessary keys (exact image names and the like, see ``prefilter.KeyIndex``) are
    found by dictionary lookups from the event's values: only those tried. For the rest, ``gate``
    covers every gated rule: when it stays shut (the usual case) only ``ungated`` runs. When it
    opens, each segment of up to ``_CHUNK`` consecutive gated rules has its own gate, so an event
    that hits one rule's literal pays for a few searches, not for every rule.
    """

    __slots__ = ("gate", "items", "keys", "position", "segments", "ungated")

    def __init__(
        self, items: list[_Compiled], literals: dict[int, Literals | None], keys: dict[int, frozenset[Key] | None]
    ) -> None:
        self.items = items
        self.position = {id(rule): i for i, (rule, _) in enumerate(items)}
        shared: dict[Key, int] = {}
        for rule, _ in items:
            for key in keys.get(id(rule)) or ():
                shared[key] = shared.get(key, 0) + 1
        keyed: list[tuple[int, frozenset[Key]]] = []
        rest: list[_Compiled] = []
        for i, compiled in enumerate(items):
            rule_keys = keys.get(id(compiled[0]))
            if rule_keys and all(shared[k] <= _KEY_SHARE for k in rule_keys):
                keyed.append((i, rule_keys))
            else:
                rest.append(compiled)
        self.keys = KeyIndex(keyed)  # its positions index ``items``
        self.gate: Gate | None = None
        self.ungated = rest
        self.segments: list[tuple[Gate | None, list[_Compiled]]] = [(None, rest)]
        gated = [c for c in rest if literals.get(id(c[0]))]
        if len(gated) < 2:  # a gate pays off only when it can skip several rules at once
            return
        self.gate = Gate(literals[id(rule)] or {} for rule, _ in gated)
        self.ungated = [c for c in rest if not literals.get(id(c[0]))]
        self.segments = []
        chunk: list[_Compiled] = []
        for compiled in rest:
            if literals.get(id(compiled[0])):
                chunk.append(compiled)
                if len(chunk) == _CHUNK:
                    self._close(chunk, literals)
                    chunk = []
            else:  # close the open chunk first, so segments stay in load order
                if chunk:
                    self._close(chunk, literals)
                    chunk = []
                self.segments.append((None, [compiled]))
        if chunk:
            self._close(chunk, literals)

    def _close(self, chunk: list[_Compiled], literals: dict[int, Literals | None]) -> None:
        gate = Gate(literals[id(rule)] or {} for rule, _ in chunk) if len(chunk) > 1 else None
        self.segments.append((gate, chunk))

    def unkeyed(self, values: _Values) -> Iterator[SigmaRule]:
        """The rules without keys that the event matches, in load order."""
        gate = self.gate
        if gate is None or not gate.open(values):
            for rule, pred in self.ungated:
                if pred(values):
                    yield rule
            return
        # Some literal occurs: walk the segments (load order), skipping shut ones.
        for segment_gate, items in self.segments:
            if segment_gate is not None and not segment_gate.open(values):
                continue
            for rule, pred in items:
                if pred(values):
                    yield rule

    def matching(self, values: _Values) -> Iterator[SigmaRule]:
        """Every rule of the list the event matches, in load order."""
        found = self.keys.lookup(values) if self.keys else None
        if not found:
            yield from self.unkeyed(values)
            return
        hits = [(self.position[id(rule)], rule) for rule in self.unkeyed(values)]
        for i in found:
            rule, pred = self.items[i]
            if pred(values):
                hits.append((i, rule))
        hits.sort(key=lambda hit: hit[0])
        for _, rule in hits:
            yield rule


class _DatasetRules:
    """Rules of one dataset: by Windows EventID (as text) plus those that take any EventID."""

    __slots__ = ("any_id", "by_id", "lists_any", "lists_by_id")

    def __init__(self) -> None:
        self.any_id: list[_Compiled] = []
        self.by_id: dict[str, list[_Compiled]] = {}
        self.lists_any = _RuleList([], {}, {})
        self.lists_by_id: dict[str, _RuleList] = {}

    def finish(
        self, order: dict[int, int], literals: dict[int, Literals | None], keys: dict[int, frozenset[Key] | None]
    ) -> None:
        # Each EventID list also holds the any-id rules, in load order, so lookup is one step.
        self.lists_any = _RuleList(self.any_id, literals, keys)
        for key, rules in self.by_id.items():
            merged = sorted(rules + self.any_id, key=lambda c: order[id(c[0])])
            self.lists_by_id[key] = _RuleList(merged, literals, keys)


class RuleIndex:
    """Many compiled rules; ``match`` tries each event only against rules that can apply to it."""

    def __init__(self, rules: Sequence[SigmaRule]) -> None:
        self.unsupported: list[tuple[SigmaRule, str]] = []
        compiled: list[_Entry] = []
        for rule in rules:
            try:
                pred = compile_values_predicate(rule)
            except (RuleError, SigmaError, re.error) as exc:
                reason = exc.message if isinstance(exc, RuleError) else str(exc)
                self.unsupported.append((rule, reason))
                log.warning("rule %s (%s) cannot run: %s", rule.id, rule.path, reason)
                continue
            compiled.append((rule, pred, necessary_literals(rule), necessary_keys(rule)))
        self._build(compiled)

    @classmethod
    def combine(cls, indexes: Iterable[RuleIndex]) -> RuleIndex:
        """One index over the rules of several (each rule object once), reusing their compiled
        predicates: the engine matches a page of events once for many rules."""
        index = cls.__new__(cls)
        index.unsupported = []
        seen: set[int] = set()
        compiled: list[_Entry] = []
        for part in indexes:
            index.unsupported.extend(part.unsupported)
            for entry in part._compiled:
                if id(entry[0]) not in seen:
                    seen.add(id(entry[0]))
                    compiled.append(entry)
        index._build(compiled)
        return index

    def _build(self, compiled: list[_Entry]) -> None:
        self._compiled = compiled
        self.rules: list[SigmaRule] = [entry[0] for entry in compiled]
        self._by_dataset: dict[str, _DatasetRules] = {}
        for rule, pred, _, _ in compiled:
            for dataset in rule.datasets:
                bucket = self._by_dataset.setdefault(dataset, _DatasetRules())
                if rule.event_ids:
                    for event_id in rule.event_ids:
                        bucket.by_id.setdefault(str(event_id), []).append((rule, pred))
                else:
                    bucket.any_id.append((rule, pred))
        order = {id(rule): i for i, rule in enumerate(self.rules)}
        literals = {id(rule): lits for rule, _, lits, _ in compiled}
        keys = {id(rule): rule_keys for rule, _, _, rule_keys in compiled}
        for bucket in self._by_dataset.values():
            bucket.finish(order, literals, keys)

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_dataset))

    def _lists(self, event: Event) -> _RuleList | None:
        bucket = self._by_dataset.get(event.dataset)
        if bucket is None:
            return None
        if not bucket.lists_by_id:
            return bucket.lists_any
        winlog = event.doc.get("winlog")
        event_id = winlog.get("event_id") if isinstance(winlog, dict) else None
        if event_id is None:
            return bucket.lists_any
        return bucket.lists_by_id.get(str(event_id), bucket.lists_any)

    def candidates(self, event: Event) -> list[SigmaRule]:
        """Rules that apply to the event's dataset (and Windows EventID), before the prefilter."""
        lists = self._lists(event)
        return [rule for rule, _ in lists.items] if lists is not None else []

    def match(self, events: Sequence[Event]) -> Iterator[tuple[SigmaRule, Event]]:
        """(rule, event) for every rule an event matches, events in order, rules in load order."""
        lookup = self._lists
        for event in events:
            lists = lookup(event)
            if lists is None or not lists.items:
                continue
            values = _Values(event.doc)
            if lists.keys:
                for rule in lists.matching(values):
                    yield rule, event
                continue
            # No keyed rules (most Linux lists): the gates inline, without a generator per event.
            gate = lists.gate
            if gate is None or not gate.open(values):
                for rule, pred in lists.ungated:
                    if pred(values):
                        yield rule, event
                continue
            for segment_gate, items in lists.segments:
                if segment_gate is not None and not segment_gate.open(values):
                    continue
                for rule, pred in items:
                    if pred(values):
                        yield rule, event
