"""Sigma detections as fast Python predicates over ECS documents: one rule's condition, compiled.

Each rule's condition tree (after the ECS pipeline) compiles once into nested closures. Sigma
semantics: strings compare case-insensitively unless ``|cased``; ``*``/``?`` are wildcards (``\\``
escapes them); numbers and booleans compare as strings, so ``EventID: 4688`` matches 4688 and
"4688"; a list-valued field matches if any element does; a missing field never equals anything,
so ``not selection`` holds for it; ``null`` matches a missing, null or empty field; ``re`` is an
unanchored, case-sensitive search (flags ``i``/``m``/``s``); ``cidr``, ``gt``/``gte``/``lt``/``lte``,
``exists`` and ``fieldref`` do what their names say; values a modifier expands (``windash``,
``base64offset``) are OR-ed.

Compiling has two halves. ``program_of`` turns the condition tree (pySigma objects) into a
*program*: plain, picklable data (``Or``/``And``/``Not`` over leaf tests such as ``Strings``),
which the compiled rule cache keeps on disk. ``build`` turns a program into nested closures,
cheaply (a regular expression is compiled on its first use), each time rules are loaded.

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
from typing import Any, NamedTuple

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


# -- the program: a rule's condition as plain data ---------------------------------------------


class StringTest(NamedTuple):
    """OR-ed string patterns of one field, by the cheapest test that decides each."""

    equal: frozenset[str]
    prefix: tuple[str, ...]
    suffix: tuple[str, ...]
    contains: tuple[str, ...]
    regex: tuple[str, ...]  # whole-value wildcard patterns (``.``/``.*`` for ``?``/``*``)
    anything: bool  # a lone '*': any value


class Strings(NamedTuple):
    field: str
    cased: bool  # ``|cased``: compared with the values as they are, not lowercased
    test: StringTest


class Null(NamedTuple):  # ``null``: missing, null or empty
    field: str


class Exists(NamedTuple):
    field: str
    want: bool


class Text(NamedTuple):  # numbers and booleans compare as their text
    field: str
    text: str


class Regex(NamedTuple):
    field: str
    pattern: str
    flags: int


class Cidr(NamedTuple):
    field: str
    network: str


class Compare(NamedTuple):
    field: str
    op: str  # "lt" "lte" "gt" "gte" "neq"
    bound: float


class FieldRef(NamedTuple):
    field: str
    other: str
    starts: bool
    ends: bool


class Or(NamedTuple):
    parts: tuple[Node, ...]


class And(NamedTuple):
    parts: tuple[Node, ...]


class Not(NamedTuple):
    part: Node


Node = Strings | Null | Exists | Text | Regex | Cidr | Compare | FieldRef | Or | And | Not


class _Patterns:
    """Collects the OR-ed string patterns of one field (``StringTest`` when done)."""

    def __init__(self) -> None:
        self.equal: set[str] = set()
        self.prefix: list[str] = []
        self.suffix: list[str] = []
        self.contains: list[str] = []
        self.regex: list[str] = []
        self.anything = False

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

    def done(self) -> StringTest:
        return StringTest(
            frozenset(self.equal),
            tuple(self.prefix),
            tuple(self.suffix),
            tuple(self.contains),
            tuple(self.regex),
            self.anything,
        )


_COMPARE_NAMES: dict[CompareOperators, str] = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
    CompareOperators.NEQ: "neq",
}
_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def _value_node(field: str, value: SigmaType) -> Node:
    """One field and one non-string value (strings go through _Patterns)."""
    if isinstance(value, SigmaNull):
        return Null(field)
    if isinstance(value, SigmaExists):
        return Exists(field, bool(value.exists))
    if isinstance(value, (SigmaNumber, SigmaBool)):
        text = ("true" if value.boolean else "false") if isinstance(value, SigmaBool) else str(value.number)
        return Text(field, text)
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= _RE_FLAGS[flag]
        if value.regexp.contains_placeholder():
            raise RuleError("placeholders in a regular expression are not supported")
        pattern = str(value.regexp)
        re.compile(pattern, flags)  # a broken expression is the rule's error, found when it loads
        return Regex(field, pattern, flags)
    if isinstance(value, SigmaCIDRExpression):
        return Cidr(field, str(value.network))
    if isinstance(value, SigmaCompareExpression):
        return Compare(field, _COMPARE_NAMES[value.op], float(value.number.number))
    if isinstance(value, SigmaFieldReference):
        return FieldRef(field, value.field, bool(value.starts_with), bool(value.ends_with))
    if isinstance(value, SigmaExpansion):
        return _leaf_group(field, list(value.values))
    raise RuleError(f"value type {type(value).__name__} on field {field!r} is not supported by the matcher")


def _leaf_group(field: str, values: list[SigmaType]) -> Node:
    """OR of several values on one field: strings merge into one pattern test."""
    ci, cased = _Patterns(), _Patterns()
    has_ci = has_cased = False
    others: list[Node] = []
    for value in values:
        if isinstance(value, SigmaCasedString):
            cased.add(value, lower=False)
            has_cased = True
        elif isinstance(value, SigmaString):
            ci.add(value, lower=True)
            has_ci = True
        else:
            others.append(_value_node(field, value))
    nodes = others
    if has_ci:
        nodes.insert(0, Strings(field, False, ci.done()))
    if has_cased:
        nodes.insert(0, Strings(field, True, cased.done()))
    return _any(nodes)


def _any(nodes: list[Node]) -> Node:
    return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))


def _all(nodes: list[Node]) -> Node:
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _indexed_only(node: Any) -> bool:
    """True for a test only of fields the rule index decides (dataset, channel, EventID)."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return node.field in INDEXED_FIELDS
    if isinstance(node, (ConditionAND, ConditionOR)):
        return all(_indexed_only(arg) for arg in node.args)
    return False


def _node(node: Any) -> Node:
    if isinstance(node, ConditionOR):
        # Group consecutive leaves on the same field (a value list) into one merged test.
        groups: dict[str, list[SigmaType]] = {}
        rest: list[Node] = []
        for arg in node.args:
            if isinstance(arg, ConditionFieldEqualsValueExpression):
                groups.setdefault(arg.field, []).append(arg.value)
            else:
                rest.append(_node(arg))
        return _any([_leaf_group(f, vs) for f, vs in groups.items()] + rest)
    if isinstance(node, ConditionAND):
        # The log-source tests (channel, EventID) go last: the rule index already chose the rule by
        # them, so they rarely fail, while the rule's own selection usually does. Tests have no side
        # effects, so the order changes the cost, never the result.
        args = sorted(node.args, key=_indexed_only)
        return _all([_node(arg) for arg in args])
    if isinstance(node, ConditionNOT):
        return Not(_node(node.args[0]))
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
            return _any([_leaf_group(f, [wrapped]) for f in KEYWORD_FIELDS])
        return _any([_leaf_group(f, [value]) for f in KEYWORD_FIELDS])
    raise RuleError(f"condition element {type(node).__name__} is not supported")


def condition_trees(rule: SigmaRule) -> list[Any]:
    """The rule's parsed conditions (after the ECS pipeline); ``RuleError`` when they do not parse."""
    if rule.processed is None:
        raise RuleError("the rule was loaded without its Sigma detection (from the compiled rule cache)")
    try:
        return [c.parsed for c in rule.processed.detection.parsed_condition]
    except SigmaError as exc:
        raise RuleError(f"invalid condition: {exc}") from exc


def program_of(rule: SigmaRule, trees: list[Any] | None = None) -> Node:
    """The rule's condition as a program (plain data); ``RuleError`` if the matcher cannot run it."""
    nodes = [_node(t) for t in (condition_trees(rule) if trees is None else trees) if t is not None]
    if not nodes:
        raise RuleError("the rule has no condition left after mapping")
    return _any(nodes)


# -- building: a program as closures -----------------------------------------------------------

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "neq": operator.ne,
}


def _lazy_search(pattern: str, flags: int) -> Callable[[str], bool]:
    """``re.search(pattern, v) is not None``, the pattern compiled on first use: most rules loaded
    are never tried on an event of a run, and compiling thousands of patterns is slow."""
    search: Callable[[str], re.Match[str] | None] | None = None

    def test(v: str) -> bool:
        nonlocal search
        if search is None:
            search = re.compile(pattern, flags).search
        return search(v) is not None

    return test


def string_test(spec: StringTest) -> Callable[[str], bool]:
    if spec.anything:
        return lambda v: True
    tests: list[Callable[[str], bool]] = []
    if spec.equal:
        equal = spec.equal
        tests.append(equal.__contains__)
    if spec.prefix:
        prefixes = spec.prefix
        tests.append(lambda v: v.startswith(prefixes))
    if spec.suffix:
        suffixes = spec.suffix
        tests.append(lambda v: v.endswith(suffixes))
    # Substrings and wildcard patterns become one regex search (C speed, one call), not a
    # Python loop: a rule often lists dozens of substrings for one field. The substrings are
    # factored on common prefixes (``trie_regex``), which the regex engine tries much faster.
    if len(spec.contains) == 1 and not spec.regex:
        sub = spec.contains[0]
        tests.append(lambda v: sub in v)
    elif spec.contains or spec.regex:
        searches = ([trie_regex(spec.contains)] if spec.contains else []) + [_anchored(r) for r in spec.regex]
        tests.append(_lazy_search("|".join(searches), re.DOTALL))
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda v: a(v) or b(v)
    return lambda v: any(t(v) for t in tests)


def _strings(node: Strings) -> Predicate:
    field, test = node.field, string_test(node.test)
    if node.cased:

        def cased_leaf(values: FieldValues) -> bool:
            return any(test(v) for v in values.raw[field])

        return cased_leaf

    def leaf(values: FieldValues) -> bool:
        vs = values[field]
        if len(vs) == 1:
            return test(vs[0])
        return any(test(v) for v in vs)

    return leaf


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _leaf(node: Node) -> Predicate:
    if isinstance(node, Null):
        field = node.field
        return lambda values: all(v == "" for v in values.raw[field])
    if isinstance(node, Exists):
        field, want = node.field, node.want
        return lambda values: values.present(field) is want
    if isinstance(node, Text):
        field, text = node.field, node.text
        return lambda values: text in values[field]
    if isinstance(node, Regex):
        field, search = node.field, _lazy_search(node.pattern, node.flags)
        return lambda values: any(search(v) for v in values.raw[field])
    if isinstance(node, Cidr):
        field, network = node.field, ipaddress.ip_network(node.network)

        def in_network(values: FieldValues) -> bool:
            for v in values.raw[field]:
                try:
                    if ipaddress.ip_address(v.split("%", 1)[0]) in network:
                        return True
                except ValueError:
                    continue
            return False

        return in_network
    if isinstance(node, Compare):
        field, compare, bound = node.field, _COMPARE[node.op], node.bound

        def compared(values: FieldValues) -> bool:
            for v in values.raw[field]:
                n = _number(v)
                if n is not None and compare(n, bound):
                    return True
            return False

        return compared
    if isinstance(node, FieldRef):
        field, other, starts, ends = node.field, node.other, node.starts, node.ends

        def same(values: FieldValues) -> bool:
            mine, theirs = values[field], values[other]
            for a in mine:
                for b in theirs:
                    if (starts and a.startswith(b)) or (ends and a.endswith(b)) or (not starts and not ends and a == b):
                        return True
            return False

        return same
    raise RuleError(f"unknown program node {type(node).__name__}")


def build(node: Node) -> Predicate:
    """The program as a predicate over an event's field values (what ``RuleIndex`` runs)."""
    if isinstance(node, Or):
        preds = [build(p) for p in node.parts]
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
    if isinstance(node, And):
        preds = [build(p) for p in node.parts]
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
    if isinstance(node, Not):
        inner = build(node.part)
        return lambda values: not inner(values)
    if isinstance(node, Strings):
        return _strings(node)
    return _leaf(node)


def compile_values_predicate(rule: SigmaRule) -> Predicate:
    """The rule as a predicate over per-event field values (its compiled program where it has one)."""
    program = rule.compiled.program if rule.compiled is not None else program_of(rule)
    return build(program)


def compile_predicate(rule: SigmaRule) -> Callable[[Mapping[str, Any]], bool]:
    """The rule as ``predicate(ecs_doc) -> bool``. Raises ``RuleError`` if it cannot be compiled."""
    pred = compile_values_predicate(rule)
    return lambda doc: pred(FieldValues(doc))
