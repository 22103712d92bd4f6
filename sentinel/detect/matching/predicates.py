"""Sigma detections as fast Python predicates over ECS documents: one rule's condition, compiled.

Each rule's condition tree (after the ECS pipeline) compiles once into nested closures. Sigma
semantics: strings compare case-insensitively unless ``|cased``; ``*``/``?`` are wildcards (``\\``
escapes them); numbers and booleans compare as strings, so ``EventID: 4688`` matches 4688 and
"4688"; a list-valued field matches if any element does; a missing field never equals anything,
so ``not selection`` holds for it; ``null`` matches a missing, null or empty field; ``re`` is an
unanchored, case-sensitive search (flags ``i``/``m``/``s``); ``cidr``, ``gt``/``gte``/``lt``/``lte``,
``exists`` and ``fieldref`` do what their names say; values a modifier expands (``windash``,
``base64offset``) are OR-ed.

Speed comes from work done once: values OR-ed on one field merge into one test (a set for
equality, tuples for prefixes/suffixes, substrings, one regex for the rest), and each event's
fields are read and lowercased once per event (:class:`FieldValues`) however many rules look at
them. Running many rules over many events is :mod:`sentinel.detect.matching.index`'s job.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Mapping
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

from sentinel.detect.matching.field_values import FieldValues
from sentinel.detect.matching.prefilter import INDEXED_FIELDS, trie_regex
from sentinel.detect.rulebook.ecs_pipeline import KEYWORD_FIELDS
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.errors import RuleError

Predicate = Callable[[FieldValues], bool]


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
        # Python loop: a rule often lists dozens of substrings for one field. The substrings are
        # factored on common prefixes (``trie_regex``), which the regex engine tries much faster.
        searches = ([trie_regex(self.contains)] if self.contains else []) + [_anchored(r) for r in self.regex]
        if len(self.contains) == 1 and not self.regex:
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

        def cased_leaf(values: FieldValues) -> bool:
            return any(test(v) for v in values.raw[field])

        return cased_leaf

    def leaf(values: FieldValues) -> bool:
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

        def in_network(values: FieldValues) -> bool:
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

        def compared(values: FieldValues) -> bool:
            for v in values.raw[field]:
                n = _number(v)
                if n is not None and compare(n, bound):
                    return True
            return False

        return compared
    if isinstance(value, SigmaFieldReference):
        other, starts, ends = value.field, value.starts_with, value.ends_with

        def same(values: FieldValues) -> bool:
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

    def any_of(values: FieldValues) -> bool:
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

    def all_of(values: FieldValues) -> bool:
        for p in ps:
            if not p(values):
                return False
        return True

    return all_of


def _indexed_only(node: Any) -> bool:
    """True for a test only of fields the rule index decides (dataset, channel, EventID)."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return node.field in INDEXED_FIELDS
    if isinstance(node, (ConditionAND, ConditionOR)):
        return all(_indexed_only(arg) for arg in node.args)
    return False


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
        # The log-source tests (channel, EventID) go last: the rule index already chose the rule by
        # them, so they rarely fail, while the rule's own selection usually does. Tests have no side
        # effects, so the order changes the cost, never the result.
        args = sorted(node.args, key=_indexed_only)
        return _and([_compile_node(arg) for arg in args])
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
    return lambda doc: pred(FieldValues(doc))
