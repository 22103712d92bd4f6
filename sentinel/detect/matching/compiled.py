"""A Sigma rule compiled for the matcher, as plain data: what the compiled rule cache keeps on disk.

``compile_rule`` does the costly part once per rule (pySigma's condition parsed and walked, the
prefilter's keys and literals found); ``RuleIndex`` then only builds closures from the result.
Everything here is picklable data: a rule loaded from the cache needs no pySigma object.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from sigma.exceptions import SigmaError

from sentinel.detect.matching.predicates import Node, condition_trees, program_of
from sentinel.detect.matching.prefilter import Key, Literals, necessary_keys, necessary_literals, necessary_texts
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.errors import RuleError

EVENT_ID_FIELD = "winlog.event_id"


class CompiledRule(NamedTuple):
    program: Node  # the condition (``predicates.build`` makes it a predicate)
    literals: Literals | None  # texts one of which occurs whenever the rule matches
    keys: frozenset[Key] | None  # exact values one of which the event has whenever it matches
    event_id_texts: frozenset[str] | None  # Windows EventIDs the condition requires
    literals_besides_keys: Literals | None  # literals from another branch than the keys' (both tested)


def compile_rule(rule: SigmaRule) -> CompiledRule:
    """The rule's compiled form; ``RuleError`` with the reason when the matcher cannot run it."""
    if rule.compiled is not None:
        return rule.compiled  # type: ignore[no-any-return]
    try:
        trees = condition_trees(rule)
        program = program_of(rule, trees)
    except (SigmaError, re.error) as exc:
        raise RuleError(str(exc)) from exc
    keys = necessary_keys(rule, trees)
    return CompiledRule(
        program=program,
        literals=necessary_literals(rule, trees=trees),
        keys=keys,
        event_id_texts=necessary_texts(rule, EVENT_ID_FIELD, trees),
        literals_besides_keys=necessary_literals(rule, keys, trees) if keys else None,
    )
