"""One fetch and one match of a range's events for many rules at once.

Run on their own, 250 Sigma rules over the same hour each fetch, decode and scan that hour: the
store and JSON decoding then cost 250 times what the matching does. When several matching
detectors (Sigma detection rules, Sigma correlations) run up to the same end, the engine hands
them here together: the events of the union of their datasets, from the earliest first event any
of them needs, are fetched once, page by page in (time, id) order, matched once by one combined
:class:`RuleIndex`, and each (rule, event) match goes to the runs that rule belongs to, from their
own first event time on. Every run therefore sees exactly the matches, in the same order, that its
own fetch would have given it.

Threshold and new-value rules whose ``where`` filters can be evaluated on a document join the same
fetch as scanning members: each page's events of their datasets that the filters select go to them,
in order, as their own store query would have returned them.

A run's own failure (its deadline, an error while it counts a match) stays its own. A failure of the
shared part (the store, the index) is raised, and the engine then runs each rule on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sentinel.detect.detectors.base import (
    PAGE_SIZE,
    Evaluation,
    EventPass,
    MatchingDetector,
    MatchPass,
    RunContext,
    ScanningDetector,
)
from sentinel.detect.matching.event_filters import accept_all
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.events import Event, from_millis
from sentinel.store.base import EventQuery, Scope, Store

log = logging.getLogger(__name__)

IndexFor = Callable[[Sequence["Member"]], RuleIndex]
Routes = dict[int, list[tuple["Member", MatchPass]]]


@dataclass
class Member:
    """One rule's run in a shared pass: its detector and context in, its evaluation or error out."""

    detector: MatchingDetector
    ctx: RunContext
    evaluation: Evaluation | None = None
    error: Exception | None = None
    first_ms: int = 0
    state: MatchPass | None = None


@dataclass
class Scanner:
    """A scanning rule's run in a shared pass (``ScanningDetector`` with ``accepts``)."""

    detector: ScanningDetector
    ctx: RunContext
    evaluation: Evaluation | None = None
    error: Exception | None = None
    first_ms: int = 0
    state: EventPass | None = None


def evaluate_together(
    store: Store,
    members: Sequence[Member],
    index_for: IndexFor,
    scanners: Sequence[Scanner] = (),
    feed: MatchSource | None = None,
) -> None:
    """Fill every member's and scanner's ``evaluation`` or ``error``; all share ``ctx.end_ms``.

    ``index_for(members)`` gives one index holding the rule objects of those members' own indexes
    (``RuleIndex.combine``, cached by the caller). With a ``feed`` (``live_feed``), the members'
    matches come from it instead of a fetch and a match of their range (no scanners then).
    """
    if feed is not None and scanners:
        raise ValueError("scanning rules read their own events when the engine follows ingest")
    runs: list[Member | Scanner] = [*members, *scanners]
    if not runs:
        return
    end_ms = runs[0].ctx.end_ms
    if any(r.ctx.end_ms != end_ms for r in runs):
        raise ValueError("the runs of a shared pass must end at the same time")
    live: list[Member | Scanner] = []
    routes: dict[int, list[tuple[Member, MatchPass]]] = {}
    for run in runs:
        try:
            if isinstance(run, Member):
                run.first_ms = run.detector.first_ms(run.ctx)
                state = run.state = run.detector.begin(run.ctx)
                for rule in run.detector.index.rules:
                    routes.setdefault(id(rule), []).append((run, state))
            else:
                if run.detector.accepts is None:
                    raise ValueError(f"rule {run.detector.rule.id} cannot join a shared pass")
                run.first_ms = run.detector.first_ms(run.ctx)
                run.state = run.detector.begin(run.ctx)
        except Exception as exc:  # this rule's own failure
            run.error = exc
            continue
        live.append(run)
    if live and feed is not None:
        _replay(feed, live, routes, end_ms)
    elif live:
        _scan(store, live, routes, index_for, end_ms)
    for run in live:
        if run.error is None and run.state is not None:
            try:
                run.evaluation = run.state.finish()
            except Exception as exc:
                run.evaluation = None
                run.error = exc


def _scan(
    store: Store,
    live: list[Member | Scanner],
    routes: dict[int, list[tuple[Member, MatchPass]]],
    index_for: IndexFor,
    end_ms: int,
) -> None:
    """Fetch and match tier by tier: ``[start, next start)`` for the runs whose range has begun.

    A rule with a long alert window (suppress 7d) recounts from that window's start, while most
    need only the last hour or two: each stretch of time is fetched for the datasets, and matched
    with the rules, of the runs that need it, so the long ones do not make every rule read the
    whole week. Tiers follow each other in time, so every run still sees its events in order.
    """
    starts = sorted({r.first_ms for r in live})
    for n, tier_start in enumerate(starts):
        tier_end = starts[n + 1] if n + 1 < len(starts) else end_ms
        active = [r for r in live if r.first_ms <= tier_start and r.error is None]
        # A rule without datasets matches nothing (the index files rules by dataset); an empty
        # dataset list in a query would mean every event, so such rules add nothing to the fetch.
        datasets = tuple(sorted({d for r in active for d in r.detector.rule.datasets}))
        if not datasets or tier_end <= tier_start:
            continue
        members = [r for r in active if isinstance(r, Member)]
        index = index_for(members) if members else None
        query = EventQuery(start=from_millis(tier_start), end=from_millis(tier_end), datasets=datasets)
        after: tuple[int, str] | None = None
        while True:
            for run in active:
                try:
                    run.ctx.check_deadline(run.detector.rule)
                except Exception as exc:
                    run.error = exc
            active = [r for r in active if r.error is None]
            if not active:
                break
            page = store.search_events(
                query, Scope.everything(), limit=PAGE_SIZE, order="asc", after=after, with_total=False
            )
            if index is not None:
                _dispatch(index.match(page.events), routes)
            for run in active:
                if isinstance(run, Scanner):
                    _feed(run, page.events)
            after = page.next_after if len(page.events) == PAGE_SIZE else None
            if after is None:
                break


class MatchSource(Protocol):
    def matches(self, start_ms: int, end_ms: int) -> Iterable[tuple[SigmaRule, Event]]: ...


def _replay(feed: MatchSource, live: list[Member | Scanner], routes: Routes, end_ms: int) -> None:
    """The members' kept matches, tier by tier as ``_scan`` fetches them (see ``live_feed``)."""
    starts = sorted({r.first_ms for r in live})
    for n, tier_start in enumerate(starts):
        tier_end = starts[n + 1] if n + 1 < len(starts) else end_ms
        for run in live:
            if run.error is None:
                try:
                    run.ctx.check_deadline(run.detector.rule)
                except Exception as exc:
                    run.error = exc
        if tier_end > tier_start:
            _dispatch(feed.matches(tier_start, tier_end), routes)


def _feed(scanner: Scanner, events: Sequence[Event]) -> None:
    """A page's events of the scanner's datasets that its filters select, in order."""
    datasets = scanner.detector.rule.datasets
    accepts = scanner.detector.accepts
    state = scanner.state
    assert accepts is not None and state is not None
    try:
        if accepts is accept_all:
            state.add_all([event for event in events if event.dataset in datasets])
        else:
            state.add_all([event for event in events if event.dataset in datasets and accepts(event.doc)])
    except Exception as exc:  # this rule alone fails
        scanner.error = exc
        log.debug("rule %s failed in a shared pass: %s", scanner.detector.rule.id, exc)


def _dispatch(matches: Iterable[tuple[SigmaRule, Event]], routes: dict[int, list[tuple[Member, MatchPass]]]) -> None:
    for rule, event in matches:
        targets = routes.get(id(rule))
        if not targets:
            continue
        ts = event.timestamp_ms
        for member, state in targets:
            # a rule object two members share (a correlation's base with ``generate``) may reach
            # one whose range has not begun yet
            if member.error is not None or ts < member.first_ms:
                continue
            try:
                state.add(rule, event)
            except Exception as exc:  # counting this match failed: this rule alone fails
                member.error = exc
                log.debug("rule %s failed in a shared pass: %s", member.detector.rule.id, exc)
