"""One fetch and one match of a range's events for many rules at once.

Run on their own, 250 Sigma rules over the same hour each fetch, decode and scan that hour: the
store and JSON decoding then cost 250 times what the matching does. When several matching
detectors (Sigma detection rules, Sigma correlations) run up to the same end, the engine hands
them here together: the events of the union of their datasets, from the earliest first event any
of them needs, are fetched once, page by page in (time, id) order, matched once by one combined
:class:`RuleIndex`, and each (rule, event) match goes to the runs that rule belongs to, from their
own first event time on. Every run therefore sees exactly the matches, in the same order, that its
own fetch would have given it.

A run's own failure (its deadline, an error while it counts a match) stays its own. A failure of the
shared part (the store, the index) is raised, and the engine then runs each rule on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sentinel.detect.detectors import PAGE_SIZE, Evaluation, MatchingDetector, MatchPass, RunContext
from sentinel.detect.matcher import RuleIndex
from sentinel.detect.sigma_rules import SigmaRule
from sentinel.events import Event, from_millis
from sentinel.store.base import EventQuery, Scope, Store

log = logging.getLogger(__name__)

IndexFor = Callable[[Sequence["Member"]], RuleIndex]


@dataclass
class Member:
    """One rule's run in a shared pass: its detector and context in, its evaluation or error out."""

    detector: MatchingDetector
    ctx: RunContext
    evaluation: Evaluation | None = None
    error: Exception | None = None
    first_ms: int = 0
    state: MatchPass | None = None


def evaluate_together(store: Store, members: Sequence[Member], index_for: IndexFor) -> None:
    """Fill every member's ``evaluation`` or ``error``; members share ``ctx.end_ms``.

    ``index_for(members)`` gives one index holding the rule objects of those members' own indexes
    (``RuleIndex.combine``, cached by the caller).
    """
    if not members:
        return
    end_ms = members[0].ctx.end_ms
    if any(m.ctx.end_ms != end_ms for m in members):
        raise ValueError("the runs of a shared pass must end at the same time")
    live: list[Member] = []
    routes: dict[int, list[tuple[Member, MatchPass]]] = {}
    for member in members:
        try:
            member.first_ms = member.detector.first_ms(member.ctx)
            state = member.state = member.detector.begin(member.ctx)
        except Exception as exc:  # this rule's own failure
            member.error = exc
            continue
        live.append(member)
        for rule in member.detector.index.rules:
            routes.setdefault(id(rule), []).append((member, state))
    if live:
        _scan(store, live, routes, index_for, end_ms)
    for member in live:
        if member.error is None and member.state is not None:
            try:
                member.evaluation = member.state.finish()
            except Exception as exc:
                member.error = exc


def _scan(
    store: Store,
    live: list[Member],
    routes: dict[int, list[tuple[Member, MatchPass]]],
    index_for: IndexFor,
    end_ms: int,
) -> None:
    """Fetch and match tier by tier: ``[start, next start)`` for the members whose range has begun.

    A rule with a long alert window (suppress 7d) recounts from that window's start, while most
    need only the last hour or two: each stretch of time is fetched for the datasets, and matched
    with the rules, of the members that need it, so the long ones do not make every rule read the
    whole week. Tiers follow each other in time, so every member still sees its events in order.
    """
    starts = sorted({m.first_ms for m in live})
    for n, tier_start in enumerate(starts):
        tier_end = starts[n + 1] if n + 1 < len(starts) else end_ms
        active = [m for m in live if m.first_ms <= tier_start and m.error is None]
        # A rule without datasets matches nothing (the index files rules by dataset); an empty
        # dataset list in a query would mean every event, so such rules add nothing to the fetch.
        datasets = tuple(sorted({d for m in active for d in m.detector.rule.datasets}))
        if not datasets or tier_end <= tier_start:
            continue
        index = index_for(active)
        query = EventQuery(start=from_millis(tier_start), end=from_millis(tier_end), datasets=datasets)
        after: tuple[int, str] | None = None
        while True:
            for member in active:
                try:
                    member.ctx.check_deadline(member.detector.rule)
                except Exception as exc:
                    member.error = exc
            active = [m for m in active if m.error is None]
            if not active:
                break
            page = store.search_events(query, Scope.everything(), limit=PAGE_SIZE, order="asc", after=after)
            _dispatch(index.match(page.events), routes)
            if page.next_after is None or len(page.events) < PAGE_SIZE:
                break
            after = page.next_after


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
