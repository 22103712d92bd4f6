"""Many Sigma rules over many events: an index that tries each event only against rules that may fit.

One rule's condition compiles to a predicate in :mod:`sentinel.detect.predicates`. :class:`RuleIndex`
tries an event only against rules whose dataset (and Windows EventID) fit, finds rules that need an
exact value (an image name and the like) by dictionary lookups, and a necessary-literal prefilter
(:mod:`sentinel.detect.prefilter`) skips, with one search per field, every rule none of whose
required texts occur in the event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence

from sigma.exceptions import SigmaError

from sentinel.detect.predicates import FieldValues, Predicate, compile_predicate, compile_values_predicate
from sentinel.detect.prefilter import Gate, Key, KeyIndex, Literals, necessary_keys, necessary_literals
from sentinel.detect.sigma_rules import SigmaRule
from sentinel.errors import RuleError
from sentinel.events import Event

# compile_predicate and compile_values_predicate are re-exported: callers import them from here.
__all__ = ["RuleIndex", "compile_predicate", "compile_values_predicate"]

log = logging.getLogger(__name__)

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
        # the first gate searches rare tails of the texts (faster); the segments' gates whole texts
        self.gate = Gate((literals[id(rule)] or {} for rule, _ in gated), anchored=True)
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

    def unkeyed(self, values: FieldValues) -> Iterator[SigmaRule]:
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

    def matching(self, values: FieldValues) -> Iterator[SigmaRule]:
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
            values = FieldValues(event.doc)
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
