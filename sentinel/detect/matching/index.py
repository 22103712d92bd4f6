"""Many Sigma rules over many events: an index that tries each event only against rules that may fit.

One rule's condition compiles to a predicate in :mod:`sentinel.detect.matching.predicates`. :class:`RuleIndex`
tries an event only against rules whose dataset (and Windows EventID) fit, finds rules that need an
exact value (an image name and the like) by dictionary lookups, and a necessary-literal index
(:mod:`sentinel.detect.matching.prefilter`) finds, with one scan per field, the rules whose required texts
occur in the event: every other rule that needs a key or a text is skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import NamedTuple

from sigma.exceptions import SigmaError

from sentinel.detect.matching.compiled import EVENT_ID_FIELD, CompiledRule, compile_rule
from sentinel.detect.matching.field_values import FieldReader
from sentinel.detect.matching.predicates import (
    FieldValues,
    Predicate,
    build,
    compile_predicate,
    compile_values_predicate,
)
from sentinel.detect.matching.prefilter import Key, KeyIndex, LiteralIndex, Literals, trie_regex
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.errors import RuleError
from sentinel.events import Event

# compile_predicate and compile_values_predicate are re-exported: callers import them from here.
__all__ = ["RuleIndex", "compile_predicate", "compile_values_predicate"]

log = logging.getLogger(__name__)


class RuleTest(NamedTuple):
    """A rule and its predicate: what an event is tried against."""

    rule: SigmaRule
    predicate: Predicate


class IndexedRule(NamedTuple):
    """A rule in an index: its predicate and its compiled form (with the prefilter's keys and texts)."""

    rule: SigmaRule
    predicate: Predicate
    compiled: CompiledRule


_KEY_SHARE = 32  # a key more rules than this need (e.g. auditd's SYSCALL) is left to the literals


class _RuleList:
    """Rules one event may meet, in load order, and the cheap tests that say which to try.

    A rule with necessary keys (exact image names and the like, see ``prefilter.KeyIndex``) is
    tried only when a key of the event points to it and, if it also has necessary literals, one
    of them occurs (checked for that rule alone, after the key: rarely). A rule with literals and
    no keys is tried only when one of its texts occurs (``prefilter.LiteralIndex``, one scan per
    field for all such rules), and a rule with neither always. The tests cost a few dictionary
    lookups and one search per field, however many rules there are.
    """

    __slots__ = ("always", "always_at", "checks", "items", "keys", "literals", "position", "reader")

    def __init__(self, items: list[RuleTest], compiled: dict[int, CompiledRule]) -> None:
        self.items = items
        self.position = {id(item.rule): i for i, item in enumerate(items)}
        shared: dict[Key, int] = {}
        for item in items:
            for key in compiled[id(item.rule)].keys or ():
                shared[key] = shared.get(key, 0) + 1
        keyed: list[tuple[int, frozenset[Key]]] = []
        literal: list[tuple[int, Literals]] = []
        self.checks: dict[int, Predicate] = {}  # keyed rule → its literal test, run after a key hit
        self.always_at: list[int] = []
        for i, item in enumerate(items):
            form = compiled[id(item.rule)]
            plain, besides, rule_keys = form.literals, form.literals_besides_keys, form.keys
            if rule_keys and all(shared[k] <= _KEY_SHARE for k in rule_keys):
                keyed.append((i, rule_keys))
                if besides or plain:
                    self.checks[i] = _literal_check(besides or plain or {})
            elif plain:
                literal.append((i, plain))
            else:
                self.always_at.append(i)
        # None rather than empty: tested per event, and a plain attribute test is the cheapest
        self.keys = KeyIndex(keyed) if keyed else None  # its positions index ``items``
        self.literals = LiteralIndex(literal) if literal else None
        read = [f for f, _, _ in self.keys.fields] if self.keys is not None else []
        read += [f for test in self.literals.tests for f in test.fields] if self.literals is not None else []
        self.reader = FieldReader(read) if read else None  # the fields every event of the list is tested on
        self.always = [items[i] for i in self.always_at]

    def tried(self, values: FieldValues) -> list[RuleTest]:
        """The rules the event may match, in load order: those whose keys and literals it has."""
        found: Collection[int]
        keys, literals = self.keys, self.literals
        if self.reader is not None:
            self.reader.fill(values)
        if keys is not None:
            checks = self.checks
            found = [i for i in keys.lookup(values) if (check := checks.get(i)) is None or check(values)]
            if literals is not None:  # the literal index holds no keyed rule: no position twice
                found.extend(literals.hits(values))
        elif literals is not None:  # no rule needs a key: a literal hit is enough
            found = literals.hits(values)
        else:
            return self.always
        if not found:
            return self.always
        items = self.items
        if not self.always:
            return [items[i] for i in sorted(found)]
        return [items[i] for i in sorted([*found, *self.always_at])]


def _literal_check(literals: Literals) -> Predicate:
    """True when one of the texts occurs in its field (lowered values): one search per field."""
    patterns = tuple((field, trie_regex(texts)) for field, texts in literals.items())
    tests: list[tuple[str, Callable[[str], re.Match[str] | None]]] = []  # compiled on the first check

    def check(values: FieldValues) -> bool:
        if not tests:
            tests.extend((field, re.compile(pattern, re.DOTALL).search) for field, pattern in patterns)
        for field, search in tests:
            for v in values[field]:
                if search(v) is not None:
                    return True
        return False

    return check


class _DatasetRules:
    """Rules of one dataset: by Windows EventID (as text) plus those that take any EventID.

    A rule's EventIDs come from its log source (``SigmaRule.event_ids``, matched against the
    event's ``winlog.event_id`` as text) or, when that gives none, from its condition
    (``prefilter.necessary_texts``: ``EventID: 4625`` and the like, matched against the ID as the
    predicate reads it). Lists are built on first use for each pair of the two, in load order.
    """

    __slots__ = ("any_id", "by_id", "by_text", "compiled", "lists", "order")

    def __init__(self) -> None:
        self.any_id: list[RuleTest] = []
        self.by_id: dict[str, list[RuleTest]] = {}  # from the log source
        self.by_text: dict[str, list[RuleTest]] = {}  # from the condition
        self.lists: dict[tuple[str | None, tuple[str, ...]], _RuleList] = {}
        self.order: dict[int, int] = {}
        self.compiled: dict[int, CompiledRule] = {}

    def finish(self, order: dict[int, int], compiled: dict[int, CompiledRule]) -> None:
        self.order, self.compiled = order, compiled
        # the lists every event meets are built now; those with EventIDs from conditions on first use
        self.rule_list(None, ())
        for event_id in self.by_id:
            self.rule_list(event_id, ())

    def rule_list(self, event_id: str | None, texts: tuple[str, ...]) -> _RuleList:
        """The rules for an event: ``event_id`` selects by log source (None: any), ``texts`` are the
        event's EventID texts that some condition names."""
        lists = self.lists.get((event_id, texts))
        if lists is None:
            rules = self.any_id if event_id is None else self.by_id[event_id] + self.any_id
            merged = {id(c.rule): c for c in rules}
            for text in texts:
                merged.update((id(c.rule), c) for c in self.by_text[text])
            ordered = sorted(merged.values(), key=lambda c: self.order[id(c.rule)])
            lists = self.lists[(event_id, texts)] = _RuleList(ordered, self.compiled)
        return lists


class RuleIndex:
    """Many compiled rules; ``match`` tries each event only against rules that can apply to it.

    A rule's compiled form (``compiled.compile_rule``) comes with it from the compiled rule cache
    or is made here; the index's tables are built on the first match, so building an index that
    never runs (a rule that always shares another's pass) costs next to nothing.
    """

    def __init__(self, rules: Sequence[SigmaRule]) -> None:
        self.unsupported: list[tuple[SigmaRule, str]] = []
        entries: list[IndexedRule] = []
        for rule in rules:
            try:
                compiled = compile_rule(rule)
                entries.append(IndexedRule(rule, build(compiled.program), compiled))
            except (RuleError, SigmaError, re.error) as exc:
                reason = exc.message if isinstance(exc, RuleError) else str(exc)
                self.unsupported.append((rule, reason))
                log.warning("rule %s (%s) cannot run: %s", rule.id, rule.path, reason)
        self._set(entries)

    @classmethod
    def combine(cls, indexes: Iterable[RuleIndex]) -> RuleIndex:
        """One index over the rules of several (each rule object once), reusing their compiled
        predicates: the engine matches a page of events once for many rules."""
        index = cls.__new__(cls)
        index.unsupported = []
        seen: set[int] = set()
        entries: list[IndexedRule] = []
        for part in indexes:
            index.unsupported.extend(part.unsupported)
            for entry in part.entries:
                if id(entry.rule) not in seen:
                    seen.add(id(entry.rule))
                    entries.append(entry)
        index._set(entries)
        return index

    def _set(self, entries: list[IndexedRule]) -> None:
        self.entries = entries
        self.rules: list[SigmaRule] = [entry.rule for entry in entries]
        self._by_dataset: dict[str, _DatasetRules] | None = None

    def _buckets(self) -> dict[str, _DatasetRules]:
        by_dataset = self._by_dataset
        if by_dataset is not None:
            return by_dataset
        by_dataset = {}
        for rule, pred, compiled in self.entries:
            test = RuleTest(rule, pred)
            for dataset in rule.datasets:
                bucket = by_dataset.setdefault(dataset, _DatasetRules())
                if rule.event_ids:
                    for event_id in rule.event_ids:
                        bucket.by_id.setdefault(str(event_id), []).append(test)
                elif compiled.event_id_texts:
                    for text in compiled.event_id_texts:
                        bucket.by_text.setdefault(text, []).append(test)
                else:
                    bucket.any_id.append(test)
        order = {id(rule): i for i, rule in enumerate(self.rules)}
        forms = {id(entry.rule): entry.compiled for entry in self.entries}
        for bucket in by_dataset.values():
            bucket.finish(order, forms)
        self._by_dataset = by_dataset
        return by_dataset

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(sorted({d for rule in self.rules for d in rule.datasets}))

    def _lists(self, event: Event, values: FieldValues, buckets: dict[str, _DatasetRules]) -> _RuleList | None:
        bucket = buckets.get(event.dataset)
        if bucket is None:
            return None
        event_id: str | None = None
        if bucket.by_id:
            winlog = event.doc.get("winlog")
            raw_id = winlog.get("event_id") if isinstance(winlog, dict) else None
            if raw_id is not None and str(raw_id) in bucket.by_id:
                event_id = str(raw_id)
        texts: tuple[str, ...] = ()
        if bucket.by_text:
            by_text = bucket.by_text
            texts = tuple([t for t in values[EVENT_ID_FIELD] if t in by_text])
        lists = bucket.lists.get((event_id, texts))
        return bucket.rule_list(event_id, texts) if lists is None else lists

    def candidates(self, event: Event) -> list[SigmaRule]:
        """Rules that apply to the event's dataset (and Windows EventID), before the prefilter."""
        lists = self._lists(event, FieldValues(event.doc), self._buckets())
        return [item.rule for item in lists.items] if lists is not None else []

    def match(self, events: Sequence[Event]) -> Iterator[tuple[SigmaRule, Event]]:
        """(rule, event) for every rule an event matches, events in order, rules in load order."""
        lookup = self._lists
        buckets = self._buckets()
        for event in events:
            values = FieldValues(event.doc)
            lists = lookup(event, values, buckets)
            if lists is None or not lists.items:
                continue
            for rule, pred in lists.tried(values):
                if pred(values):
                    yield rule, event
