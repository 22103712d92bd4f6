"""Decoder patterns: ``%{NAME}`` and ``%{NAME:field}`` expanded into one Python regular expression.

``%{NAME:field}`` becomes a numbered group ``_fN`` whose text lands in ``field``; plain named groups
``(?P<name>...)`` land in the field the rule maps ``name`` to. The shared library is
``patterns.yaml``; a decoder's own ``patterns:`` add to it for that decoder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader when built in: 10x faster


def load_yaml(text: str) -> Any:
    """Safe YAML (plain data only), fast: the decoder library is read at every start."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a SafeLoader (the C one when available)


_REFERENCE = re.compile(r"%\{(\w+)(?::([@\w.$-]+))?\}")
_NAME = re.compile(r"[A-Z][A-Z0-9_]*$")
CAPTURE_PREFIX = "_f"  # group names of %{NAME:field} captures: _f0, _f1...


class PatternError(ValueError):
    """A pattern refers to an unknown or circular name, or is not a valid regular expression."""


@cache
def shared_patterns() -> Mapping[str, str]:
    """The shared library (``patterns.yaml``), loaded once."""
    text = resources.files("collectors.decoders").joinpath("patterns.yaml").read_text(encoding="utf-8")
    data = load_yaml(text)
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise PatternError("patterns.yaml must map NAMEs to pattern texts")
    bad = [k for k in data if not _NAME.match(k)]
    if bad:
        raise PatternError(f"pattern names must be UPPER_CASE: {', '.join(bad)}")
    return data


def check_names(local: Mapping[str, str]) -> None:
    bad = [k for k in local if not _NAME.match(k)]
    if bad:
        raise PatternError(f"pattern names must be UPPER_CASE: {', '.join(bad)}")


def expand(pattern: str, library: Mapping[str, str], captures: list[str]) -> str:
    """``pattern`` with every ``%{...}`` replaced; capture targets are appended to ``captures``."""

    def inline(text: str, stack: tuple[str, ...]) -> str:
        def replace(m: re.Match[str]) -> str:
            name, field = m.group(1), m.group(2)
            body = library.get(name)
            if body is None:
                raise PatternError(f"unknown pattern %{{{name}}}")
            if name in stack:
                raise PatternError(f"pattern %{{{name}}} refers to itself ({' -> '.join((*stack, name))})")
            inner = inline(body, (*stack, name))
            if field is None:
                return f"(?:{inner})"
            captures.append(field)
            return f"(?P<{CAPTURE_PREFIX}{len(captures) - 1}>{inner})"

        return _REFERENCE.sub(replace, text)

    return inline(pattern, ())


_MIN_GUARD = 3  # shorter texts occur nearly everywhere: no use as a guard


def required_literal(regex: re.Pattern[str]) -> str | None:
    """The longest text every match must contain (None when there is none worth checking).

    A rule whose text is absent from a line cannot match it: ``text in line`` (one C scan) then saves
    the regex attempt, which for ``.*?``-led patterns on long lines is most of a rule's cost. Read from
    the parsed pattern: runs of literals at the top level, in groups that must match, and in positive
    lookaheads; anything optional, repeated, alternative or case-insensitive ends a run. When the
    parser is not available (it is CPython's own), no guard: the rules are tried as they are. Give it
    the pattern as written, with its ``%{...}`` references unexpanded (``guard_pattern``): parsing the
    expansions again would double the cost of loading the library for texts they rarely hold.
    """
    try:
        from re import _parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - another Python implementation
        return None
    if regex.flags & re.IGNORECASE:
        return None
    runs: list[str] = []
    current: list[str] = []

    def end_run() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    def walk(items: Any) -> None:
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                current.append(chr(arg))
            elif name == "SUBPATTERN" and not (arg[1] & re.IGNORECASE):
                walk(arg[3])  # a group that must match: its literals continue the run
            elif name == "ASSERT" and arg[0] == 1:
                end_run()
                walk(arg[1])  # what a lookahead requires is in the text too
                end_run()
            else:
                end_run()

    try:
        walk(_parser.parse(regex.pattern, regex.flags))
    except (re.error, ValueError, TypeError, IndexError):  # a pattern this walk cannot read: no guard
        return None
    end_run()
    best = max(runs, key=len, default="")
    return best if len(best) >= _MIN_GUARD else None


def guard_pattern(pattern: str) -> re.Pattern[str] | None:
    """``pattern`` with each ``%{...}`` reference as one unknown character, for ``required_literal``."""
    try:
        return re.compile(_REFERENCE.sub(".", pattern))
    except re.error:
        return None


def compile_pattern(pattern: str, library: Mapping[str, str]) -> tuple[re.Pattern[str], list[str]]:
    """The compiled regex of ``pattern`` and the field of each ``_fN`` capture (index N)."""
    captures: list[str] = []
    regex = expand(pattern, library, captures)
    try:
        return re.compile(regex), captures
    except re.error as exc:
        raise PatternError(f"not a valid regular expression after expansion: {exc}") from exc
