"""A plain reference interpreter of a Sigma rule over a raw event: the semantics, written once, slowly.

No index, no prefilter, no compiled program, no cached field values: the rule's condition tree
(after the ECS pipeline) is walked for one event, each field read from the document as it is.
The optimised matcher (``index``, ``prefilter``, ``predicates``) must decide exactly what this
decides; a test holds them equal over the shared corpora and over generated events. When the
two disagree, this module is the one to read first.

Semantics (Sigma, as Sentinel applies it):

- an event is considered only if its dataset is one of the rule's, and its Windows EventID one
  of those the log source implies (when it implies any);
- a field's values are texts: a string as it is, a boolean ``true``/``false``, an integer in
  decimal, a float in decimal without ``.0`` when whole; a list gives each element that has a
  text; an object has none; ``a.b.*`` is every value of the object ``a.b``;
- strings compare caselessly (both sides lowercased) unless ``|cased``; ``*`` any text, ``?`` one
  character; the whole value must match;
- numbers and booleans in a rule equal a value whose text is theirs (``4688`` and ``"4688"``);
- ``null`` holds when every value is empty (a missing field has none, so it holds);
- ``exists``: the field is there (not null); ``re``: a search in the values as they are, with the
  rule's flags; ``cidr``: a value that is an address in the network; ``lt``/``gt``/...: a value
  that reads as a number and compares; ``fieldref``: a value equal to (or starting/ending with,
  caselessly) a value of the other field;
- a value list is OR-ed; ``not`` of a test on a missing field holds.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
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

from sentinel.detect.rulebook.ecs_pipeline import KEYWORD_FIELDS
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.errors import RuleError

_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def reference_match(rule: SigmaRule, doc: Mapping[str, Any], dataset: str) -> bool:
    """Whether the rule matches the event (its ECS document and dataset), decided the plain way."""
    if dataset not in rule.datasets:
        return False
    if rule.event_ids:
        winlog = doc.get("winlog")
        event_id = winlog.get("event_id") if isinstance(winlog, Mapping) else None
        if event_id is None or str(event_id) not in {str(i) for i in rule.event_ids}:
            return False
    return any(_holds(tree, doc) for tree in _trees(rule) if tree is not None)


@functools.lru_cache(maxsize=8192)
def _trees(rule: SigmaRule) -> tuple[Any, ...]:
    """The rule's parsed conditions (pySigma parses them anew on every read: once per rule here)."""
    if rule.processed is None:
        raise RuleError("the reference interpreter needs the rule's Sigma detection (load it without the cache)")
    return tuple(c.parsed for c in rule.processed.detection.parsed_condition)


def _holds(node: Any, doc: Mapping[str, Any]) -> bool:
    if isinstance(node, ConditionOR):
        return any(_holds(arg, doc) for arg in node.args)
    if isinstance(node, ConditionAND):
        return all(_holds(arg, doc) for arg in node.args)
    if isinstance(node, ConditionNOT):
        return not _holds(node.args[0], doc)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _value_holds(node.field, node.value, doc)
    if isinstance(node, ConditionValueExpression):  # a keyword no pipeline item mapped: a substring
        value = node.value
        if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
            parts = list(value.s)
            if parts[:1] != [SpecialChars.WILDCARD_MULTI]:
                parts.insert(0, SpecialChars.WILDCARD_MULTI)
            if parts[-1:] != [SpecialChars.WILDCARD_MULTI]:
                parts.append(SpecialChars.WILDCARD_MULTI)
            pattern = _wildcards(parts, lower=True)
            return any(pattern.fullmatch(v.lower()) for f in KEYWORD_FIELDS for v in texts(doc, f))
        return any(_value_holds(f, value, doc) for f in KEYWORD_FIELDS)
    raise RuleError(f"condition element {type(node).__name__} is not supported")


def _value_holds(field: str, value: SigmaType, doc: Mapping[str, Any]) -> bool:
    values = texts(doc, field)
    if isinstance(value, SigmaExpansion):
        return any(_value_holds(field, v, doc) for v in value.values)
    if isinstance(value, SigmaString):
        cased = isinstance(value, SigmaCasedString)
        pattern = _wildcards(list(value.s), lower=not cased)
        return any(pattern.fullmatch(v if cased else v.lower()) for v in values)
    if isinstance(value, SigmaBool):
        return ("true" if value.boolean else "false") in [v.lower() for v in values]
    if isinstance(value, SigmaNumber):
        return str(value.number) in [v.lower() for v in values]
    if isinstance(value, SigmaNull):
        return all(v == "" for v in values)
    if isinstance(value, SigmaExists):
        return (read(doc, field) is not None) is bool(value.exists)
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= _FLAGS[flag]
        return any(re.search(str(value.regexp), v, flags) for v in values)
    if isinstance(value, SigmaCIDRExpression):
        return any(_in_network(v, value.network) for v in values)
    if isinstance(value, SigmaCompareExpression):
        return any(_compares(v, value.op, float(value.number.number)) for v in values)
    if isinstance(value, SigmaFieldReference):
        others = [o.lower() for o in texts(doc, value.field)]
        for mine in (v.lower() for v in values):
            for other in others:
                if value.starts_with and mine.startswith(other):
                    return True
                if value.ends_with and mine.endswith(other):
                    return True
                if not value.starts_with and not value.ends_with and mine == other:
                    return True
        return False
    raise RuleError(f"value type {type(value).__name__} is not supported")


def _wildcards(parts: list[Any], *, lower: bool) -> re.Pattern[str]:
    body = ""
    for part in parts:
        if part is SpecialChars.WILDCARD_MULTI:
            body += ".*"
        elif part is SpecialChars.WILDCARD_SINGLE:
            body += "."
        elif isinstance(part, str):
            body += re.escape(part.lower() if lower else part)
        else:
            raise RuleError(f"unresolved {part!r} in a value")
    return re.compile(body, re.DOTALL)


def _in_network(text: str, network: Any) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]) in network
    except ValueError:
        return False


def _compares(text: str, op: CompareOperators, bound: float) -> bool:
    try:
        number = float(text)
    except ValueError:
        return False
    return {
        CompareOperators.LT: number < bound,
        CompareOperators.LTE: number <= bound,
        CompareOperators.GT: number > bound,
        CompareOperators.GTE: number >= bound,
        CompareOperators.NEQ: number != bound,
    }[op]


def read(doc: Mapping[str, Any], field: str) -> Any:
    """A field's value: a top-level key with the whole name, else the nested path; ``a.b.*`` all values."""
    if field in doc:
        return doc[field]
    *path, last = field.split(".")
    if last == "*":
        holder = read(doc, ".".join(path))
        if not isinstance(holder, Mapping):
            return None
        flat: list[Any] = []
        for value in holder.values():
            if isinstance(value, list):
                flat.extend(value)
            elif value is not None:
                flat.append(value)
        return flat or None
    node: Any = doc
    for part in [*path, last]:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def texts(doc: Mapping[str, Any], field: str) -> list[str]:
    """A field's values as texts (see the module docstring)."""
    value = read(doc, field)
    items = value if isinstance(value, list) else [value]
    return [t for t in (_text(item) for item in items) if t is not None]


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None
