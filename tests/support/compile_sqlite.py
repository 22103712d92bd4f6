"""A Sigma rule as a parameterised SQLite WHERE clause over the store's ``events`` table.

The table has columns ``id, ts, ingested, dataset, org, message, doc`` (``doc`` is the ECS JSON),
see ``sentinel/store/sqlite_schema.py``. Fields are read with ``json_extract(doc, '$."a"."b"')``
(names are checked against a strict pattern before they become a path); ``event.dataset``,
``organization.id`` and ``message`` use their columns. Every value is a bound parameter.

pySigma's SQLite backend refuses keyword rules and inlines values, so this compiler walks the
same condition tree the Python matcher compiles (after the same ECS pipeline) and keeps the
same semantics: case-insensitive ``=``/``LIKE`` (``*``→``%``, ``?``→``_``, escaped with ``\\``),
``GLOB`` for ``|cased``, ``IS NOT 1`` for ``not`` (a missing field makes a test NULL, and
``not`` of it must be true). ``re``, ``cidr`` and numeric comparisons call small SQL functions
that :func:`register_functions` adds to a connection.

Known differences from the matcher: SQLite folds case for ASCII letters only, and a field whose
stored value is a JSON array is compared as its JSON text, not element by element.
"""

from __future__ import annotations

import ipaddress
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
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

from sentinel.detect.rulebook.ecs_pipeline import KEYWORD_FIELDS
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.errors import RuleError

_FIELD_RE = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_@\-]*(\.[A-Za-z0-9_@\-]+)*$")
_FLAT_MAX = 64  # longest flat AND/OR list before nesting
_COLUMNS = {"event.dataset": "dataset", "organization.id": "org", "message": "message"}
_COMPARE_SQL = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
    CompareOperators.NEQ: "<>",
}
_RE_FLAG_CHARS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


@dataclass(frozen=True, slots=True)
class SqlQuery:
    """``where`` with ``?`` placeholders and the values to bind, in order."""

    where: str
    params: tuple[Any, ...]

    def select(self, columns: str = "id", table: str = "events") -> str:
        """A full statement (columns and table are code constants, never input)."""
        return f"SELECT {columns} FROM {table} WHERE {self.where}"  # noqa: S608 - no input here


def field_sql(name: str) -> str:
    """SQL expression reading one ECS field of an event row."""
    column = _COLUMNS.get(name)
    if column is not None:
        return column
    if not _FIELD_RE.match(name):
        raise RuleError(f"field name {name!r} cannot be used in SQL")
    path = "$" + "".join(f'."{part}"' for part in name.split("."))
    return f"json_extract(doc, '{path}')"


def _like_pattern(s: SigmaString, lower: bool) -> tuple[str, bool]:
    """(LIKE pattern, has wildcards) of a Sigma string, escaping LIKE's own specials with '\\'."""
    out: list[str] = []
    wild = False
    for part in s.s:
        if isinstance(part, Placeholder):
            raise RuleError(f"placeholder %{part.name}% is not resolved")
        if part is SpecialChars.WILDCARD_MULTI:
            out.append("%")
            wild = True
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append("_")
            wild = True
        else:
            text = str(part).lower() if lower else str(part)
            out.append(text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    return "".join(out), wild


def _plain(s: SigmaString, lower: bool) -> str:
    text = "".join(str(p) for p in s.s)
    return text.lower() if lower else text


def _glob_pattern(s: SigmaString) -> str:
    out: list[str] = []
    for part in s.s:
        if isinstance(part, Placeholder):
            raise RuleError(f"placeholder %{part.name}% is not resolved")
        if part is SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        else:
            out.append(re.sub(r"([*?\[])", r"[\1]", str(part)))
    return "".join(out)


class _Compiler:
    def __init__(self) -> None:
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def value(self, field: str, value: SigmaType) -> str:
        x = field_sql(field)
        if isinstance(value, SigmaCasedString):
            return f"{x} GLOB {self.bind(_glob_pattern(value))}"
        if isinstance(value, SigmaString):
            pattern, wild = _like_pattern(value, lower=True)
            if not wild:
                return f"lower({x}) = {self.bind(_plain(value, lower=True))}"
            return f"lower({x}) LIKE {self.bind(pattern)} ESCAPE '\\'"
        if isinstance(value, SigmaBool):
            text = "true" if value.boolean else "false"
            if x.startswith("json_extract("):
                return (
                    f"(json_type({x[len('json_extract(') : -1]}) = {self.bind(text)} OR lower({x}) = {self.bind(text)})"
                )
            return f"lower({x}) = {self.bind(text)}"
        if isinstance(value, SigmaNumber):
            return f"lower({x}) = {self.bind(str(value.number))}"
        if isinstance(value, SigmaNull):
            return f"({x} IS NULL OR {x} = '')"
        if isinstance(value, SigmaExists):
            return f"{x} IS NOT NULL" if value.exists else f"{x} IS NULL"
        if isinstance(value, SigmaRegularExpression):
            if value.regexp.contains_placeholder():
                raise RuleError("placeholders in a regular expression are not supported")
            flags = "".join(sorted(_RE_FLAG_CHARS[f] for f in value.flags))
            pattern = (f"(?{flags})" if flags else "") + str(value.regexp)
            return f"sentinel_regexp({self.bind(pattern)}, {x})"
        if isinstance(value, SigmaCIDRExpression):
            return f"sentinel_cidr({self.bind(str(value.network))}, {x})"
        if isinstance(value, SigmaCompareExpression):
            op = _COMPARE_SQL[value.op]
            return f"sentinel_number({x}) {op} {self.bind(value.number.number)}"
        if isinstance(value, SigmaFieldReference):
            y = field_sql(value.field)
            if value.starts_with:
                return f"substr(lower({x}), 1, length({y})) = lower({y})"
            if value.ends_with:
                return f"substr(lower({x}), -length({y})) = lower({y})"
            return f"lower({x}) = lower({y})"
        if isinstance(value, SigmaExpansion):
            return self.join("OR", [self.value(field, v) for v in value.values])
        raise RuleError(f"value type {type(value).__name__} on field {field!r} cannot be compiled to SQL")

    @classmethod
    def join(cls, op: str, parts: list[str]) -> str:
        if len(parts) == 1:
            return parts[0]
        if len(parts) > _FLAT_MAX:  # SQLite caps expression depth at 1000: nest long lists as a tree
            half = len(parts) // 2
            return f"({cls.join(op, parts[:half])} {op} {cls.join(op, parts[half:])})"
        return "(" + f" {op} ".join(parts) + ")"

    def equal_set(self, field: str, values: Sequence[SigmaType]) -> str | None:
        """``lower(x) IN (...)`` for a list of plain case-insensitive strings/numbers on one field."""
        texts: list[str] = []
        for value in values:
            if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
                if value.contains_special() or value.contains_placeholder():
                    return None
                texts.append(_plain(value, lower=True))
            elif isinstance(value, SigmaNumber):
                texts.append(str(value.number))
            else:
                return None
        marks = ", ".join(self.bind(t) for t in texts)
        return f"lower({field_sql(field)}) IN ({marks})"

    def or_node(self, node: ConditionOR) -> str:
        # A value list on one field: plain values become one IN (...), the rest stay ORed.
        groups: dict[str, list[SigmaType]] = {}
        others: list[Any] = []
        for arg in node.args:
            if isinstance(arg, ConditionFieldEqualsValueExpression):
                groups.setdefault(arg.field, []).append(arg.value)
            else:
                others.append(arg)
        # Parameters are bound in text order: grouped leaves first, then the other branches.
        grouped: list[str] = []
        for field, values in groups.items():
            plain = [v for v in values if isinstance(v, (SigmaString, SigmaNumber)) and self._is_plain(v)]
            if len(plain) > 1:
                clause = self.equal_set(field, plain)
                if clause is not None:
                    grouped.append(clause)
                    values = [v for v in values if not any(v is p for p in plain)]
            grouped.extend(self.value(field, v) for v in values)
        parts = [self.node(arg) for arg in others]
        return self.join("OR", grouped + parts)

    @staticmethod
    def _is_plain(value: SigmaType) -> bool:
        if isinstance(value, SigmaNumber):
            return True
        return (
            isinstance(value, SigmaString)
            and not isinstance(value, SigmaCasedString)
            and not value.contains_special()
            and not value.contains_placeholder()
        )

    def node(self, node: Any) -> str:
        if isinstance(node, ConditionOR):
            return self.or_node(node)
        if isinstance(node, ConditionAND):
            return self.join("AND", [self.node(a) for a in node.args])
        if isinstance(node, ConditionNOT):
            return f"({self.node(node.args[0])}) IS NOT 1"
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.value(node.field, node.value)
        if isinstance(node, ConditionValueExpression):  # a keyword the pipeline did not map
            value = node.value
            if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
                value = SpecialChars.WILDCARD_MULTI + value + SpecialChars.WILDCARD_MULTI
            return self.join("OR", [self.value(f, value) for f in KEYWORD_FIELDS])
        raise RuleError(f"condition element {type(node).__name__} cannot be compiled to SQL")


def compile_sqlite(rule: SigmaRule, *, restrict_datasets: bool = True) -> SqlQuery:
    """The rule's WHERE clause; ``restrict_datasets`` adds ``dataset IN (...)`` (uses the index)."""
    compiler = _Compiler()
    parts: list[str] = []
    if restrict_datasets and rule.datasets:
        marks = ", ".join(compiler.bind(d) for d in rule.datasets)
        parts.append(f"dataset IN ({marks})")
    try:
        trees = [c.parsed for c in rule.processed.detection.parsed_condition]
    except SigmaError as exc:
        raise RuleError(f"invalid condition: {exc}") from exc
    conditions = [compiler.node(t) for t in trees if t is not None]
    if not conditions:
        raise RuleError("the rule has no condition left after mapping")
    parts.append(compiler.join("OR", conditions))
    return SqlQuery(" AND ".join(parts), tuple(compiler.params))


# -- SQL functions the compiled clauses call ------------------------------------------------


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _sql_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sql_regexp(pattern: str, value: Any) -> int:
    text = _sql_text(value)
    return int(text is not None and _regex(pattern).search(text) is not None)


def _sql_cidr(network: str, value: Any) -> int:
    text = _sql_text(value)
    if text is None:
        return 0
    try:
        return int(ipaddress.ip_address(text.split("%", 1)[0]) in ipaddress.ip_network(network))
    except ValueError:
        return 0


def _sql_number(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def register_functions(conn: sqlite3.Connection) -> None:
    """Add ``sentinel_regexp``, ``sentinel_cidr`` and ``sentinel_number`` to a connection."""
    conn.create_function("sentinel_regexp", 2, _sql_regexp, deterministic=True)
    conn.create_function("sentinel_cidr", 2, _sql_cidr, deterministic=True)
    conn.create_function("sentinel_number", 1, _sql_number, deterministic=True)
