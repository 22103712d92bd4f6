"""How each kind of rule turns the events of a run's range into alert candidates.

The engine hands a detector a ``RunContext``: the range of event time to do ``[start, end)``
(from the checkpoint), the look-back and the alert window (``suppress``). Every detector
recomputes the alert windows it touches from the store - from the start of the alert window
containing ``start - lookback`` - so its figures are exact and a re-run yields the same
candidates (the alert sink merges them idempotently). Late events within the look-back land in
a touched window and are counted.

This module holds what every detector shares; ``sigma`` (detection rules), ``correlation`` (Sigma
correlations) and ``typed`` (silence, new value, threshold) the detectors, and ``registry`` which
kind of rule each one runs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sentinel.detect.alerts import AlertCandidate, AlertSink
from sentinel.detect.matching.field_values import field_reader
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.pack import PackRule
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.errors import RuleError
from sentinel.events import Event, from_millis
from sentinel.inventory import Inventory
from sentinel.store.base import EventQuery, FieldFilter, Scope, Store

PAGE_SIZE = 5000


@dataclass
class RunContext:
    store: Store
    inventory: Inventory
    sink: AlertSink
    start_ms: int
    end_ms: int
    lookback_ms: int
    suppress_ms: int
    deadline: float  # time.monotonic() after which the run is abandoned
    rule_created_ms: int  # the rule's first run (new-value rules learn from here)
    sample_limit: int = 20
    # since when the engine has been watching (the rule's first run; a back-test's start): a source
    # that sent nothing at all is silent from here, never from before it
    watch_from_ms: int | None = None

    @property
    def watched_from_ms(self) -> int:
        return self.rule_created_ms if self.watch_from_ms is None else self.watch_from_ms

    @property
    def live_from_ms(self) -> int:
        """Events from here on may have changed since the last run (late arrivals)."""
        return self.start_ms - self.lookback_ms

    def check_deadline(self, rule: PackRule) -> None:
        if time.monotonic() > self.deadline:
            raise RuleError(f"rule {rule.id} exceeded its run time budget and was stopped")


@dataclass
class Evaluation:
    candidates: list[AlertCandidate] = field(default_factory=list)
    matches: int = 0


class Detector(Protocol):
    rule: PackRule

    def evaluate(self, ctx: RunContext) -> Evaluation: ...


def align(ms: int, step_ms: int) -> int:
    return ms - ms % step_ms


def fetch(
    ctx: RunContext,
    rule: PackRule,
    start_ms: int,
    end_ms: int,
    filters: Sequence[FieldFilter] = (),
    scope: Scope | None = None,
) -> Iterator[list[Event]]:
    """Pages of the rule's events in ``[start, end)``, oldest first, through ``after`` paging."""
    query = EventQuery(
        start=from_millis(start_ms), end=from_millis(end_ms), datasets=rule.datasets, filters=tuple(filters)
    )
    after: tuple[int, str] | None = None
    while True:
        ctx.check_deadline(rule)
        page = ctx.store.search_events(
            query, scope or Scope.everything(), limit=PAGE_SIZE, order="asc", after=after, with_total=False
        )
        if page.events:
            yield page.events
        if page.next_after is None or len(page.events) < PAGE_SIZE:
            return
        after = page.next_after


def with_datasets(rule: SigmaRule, datasets: tuple[str, ...]) -> SigmaRule:
    """The rule, reading the datasets a rule file's ``sentinel.datasets`` names (if any)."""
    return dataclasses.replace(rule, datasets=datasets) if datasets else rule


def key_value(value: Any) -> Any:
    """A group-key value that hashes and serialises: lists become comma-joined text."""
    if type(value) is str:  # the usual case, ahead of the isinstance tests
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return str(value)
    return value


KeyBuilder = Callable[[Mapping[str, Any]], tuple[Any, ...]]


def key_builder(fields: Sequence[str]) -> KeyBuilder:
    """``tuple(key_value(read_field(doc, f)) for f in fields)`` as one function, the fields' readers
    made once: detectors build a key for nearly every event they count."""
    readers = tuple(field_reader(f) for f in fields)
    if not readers:
        return lambda doc: ()
    if len(readers) == 1:
        (read,) = readers
        return lambda doc: (key_value(read(doc)),)
    return lambda doc: tuple([key_value(read(doc)) for read in readers])


def lacks_a_value(key: tuple[Any, ...]) -> bool:
    """True when the event has no value (absent, null or empty) for one of the group-by fields.

    Sigma correlation semantics: such an event belongs to no group. Correlations, thresholds and
    new-value rules skip it, so events without, say, a source address never add up to an attack
    "from -" (a Sigma detection rule's own alert still counts every match, see ``SigmaDetector``).
    """
    return None in key or "" in key


@dataclass
class Group:
    count: int = 0
    first_ms: int = 0
    last_ms: int = 0
    samples: list[str] = field(default_factory=list)
    values: set[Any] = field(default_factory=set)


Slot = tuple[str | None, tuple[Any, ...], int]


class Grouper:
    """Counts matches per (institution, group key, alert window)."""

    def __init__(self, window_ms: int, sample_limit: int) -> None:
        self.window_ms = window_ms
        self.sample_limit = sample_limit
        self.groups: dict[Slot, Group] = {}

    def add(self, org: str | None, key: tuple[Any, ...], ts_ms: int, event_id: str, value: Any = None) -> Slot:
        """Count one match; returns its slot (institution, key, window start)."""
        slot = (org, key, ts_ms - ts_ms % self.window_ms)
        group = self.groups.get(slot)
        if group is None:
            group = self.groups[slot] = Group(first_ms=ts_ms, last_ms=ts_ms)
        group.count += 1
        if ts_ms < group.first_ms:
            group.first_ms = ts_ms
        elif ts_ms > group.last_ms:
            group.last_ms = ts_ms
        if len(group.samples) < self.sample_limit:
            group.samples.append(event_id)
        if value is not None:
            group.values.add(value)
        return slot


def candidate(
    rule: PackRule,
    org: str | None,
    group_key: dict[str, Any],
    window_start_ms: int,
    window_ms: int,
    group: Group,
    details: dict[str, Any] | None = None,
) -> AlertCandidate:
    return AlertCandidate(
        rule_id=rule.id,
        rule_title=rule.title,
        rule_kind=rule.kind,
        severity=rule.level,
        description=rule.description,
        tags=rule.tags,
        attack=rule.attack,
        controls=rule.controls,
        institution_id=org,
        group_key=group_key,
        window_start_ms=window_start_ms,
        window_end_ms=window_start_ms + window_ms,
        first_seen_ms=group.first_ms,
        last_seen_ms=group.last_ms,
        count=group.count,
        sample_event_ids=list(group.samples),
        details=details or {},
    )


# ---------------------------------------------------------------------------------------------


class MatchPass(Protocol):
    """One run of a matching detector, fed the (rule, event) matches of its events in time order."""

    def add(self, rule: SigmaRule, event: Event) -> None: ...

    def finish(self) -> Evaluation: ...


class MatchingDetector(Protocol):
    """A detector that is one pass of its ``index`` over its events, so the engine can feed many
    of them from one fetch and one match of each page (see ``shared_pass``)."""

    rule: PackRule
    index: RuleIndex

    def first_ms(self, ctx: RunContext) -> int:
        """The first event time the run needs (its range is ``[first_ms, ctx.end_ms)``)."""
        ...

    def begin(self, ctx: RunContext) -> MatchPass: ...


class EventPass(Protocol):
    """One run of a scanning detector, fed every selected event of its datasets in time order."""

    def add(self, event: Event) -> None: ...

    def add_all(self, events: Iterable[Event]) -> None:
        """``add`` each event in order (one call per page in a shared pass)."""
        ...

    def finish(self) -> Evaluation: ...


class ScanningDetector(Protocol):
    """A detector that is one pass over the events of its datasets its ``where`` filters select.

    ``accepts`` is those filters as a predicate on a document (``event_filters``), or None when
    they must run in the store: only then can the engine feed it from a shared fetch."""

    rule: PackRule
    accepts: Callable[[Mapping[str, Any]], bool] | None

    def first_ms(self, ctx: RunContext) -> int: ...

    def begin(self, ctx: RunContext) -> EventPass: ...


def run_pass(detector: MatchingDetector, ctx: RunContext) -> Evaluation:
    """A matching detector on its own: its events fetched and matched for it alone."""
    state = detector.begin(ctx)
    for page in fetch(ctx, detector.rule, detector.first_ms(ctx), ctx.end_ms):
        for rule, event in detector.index.match(page):
            state.add(rule, event)
    return state.finish()
