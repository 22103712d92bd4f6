"""Following ingest: each stored event read and matched once, its matches kept for the rules' windows.

With ``detect.follow_ingest`` the engine no longer re-reads every matching rule's alert window
(an hour of events) at every step. It reads the events *stored* since its last read (by
``event.ingested``, each event once), matches them with one index of every matching rule (Sigma
detections and the base rules of correlations) and keeps the matches, in event-time order, for as
long as any rule's window can still need them. A step then hands each rule the kept matches of its
range exactly as a fetch of that range would have (same matches, same order), so detectors, alert
ids and merges are unchanged, and a step costs what the new events and the kept matches cost, not
what an hour of events costs: rules can run every second.

Each read goes back ``margin`` before where the last one ended and skips the ids it has seen, so
an event stamped before a concurrent write committed is still read once. Late events are matched
whenever they arrive; they count in their own (event-time) alert window while the matches of that
window are kept. On start (and when the kept range no longer reaches back far enough) the feed
fills itself once from the store by event time, as the engine did before: after a restart the
figures of the open windows are exact again.
"""

from __future__ import annotations

import bisect
import heapq
import logging
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from sentinel.detect.engine.shared_pass import PAGE_SIZE
from sentinel.detect.matching.index import RuleIndex
from sentinel.detect.rulebook.sigma import SigmaRule
from sentinel.events import Event, from_millis, parse_timestamp, to_millis
from sentinel.store.base import EventQuery, Scope, Store

log = logging.getLogger(__name__)


class KeptMatch(NamedTuple):
    ts_ms: int
    event_id: str
    order: int  # the rule's position in the index: matches of one event in load order
    rule: SigmaRule
    event: Event


class LiveFeed:
    """The kept matches of every matching rule, fed by ingest time (see the module docstring)."""

    def __init__(self, store: Store, index: RuleIndex, datasets: Sequence[str], margin_ms: int) -> None:
        self.store = store
        self.index = index
        self.datasets = tuple(sorted(set(datasets)))
        self.margin_ms = margin_ms
        self.order = {id(rule): n for n, rule in enumerate(index.rules)}
        self.kept: list[KeptMatch] = []
        self.kept_from_ms: int | None = None  # event time from which every match is kept
        self.read_until_ms: int | None = None  # ingest time up to which every event was read
        self.recent: dict[str, int] = {}  # ids read whose ingest time is within the margin
        self.events_read = 0  # new events read so far (what a step costs)

    def covers(self, start_ms: int) -> bool:
        return self.kept_from_ms is not None and self.kept_from_ms <= start_ms

    def advance(self, from_ms: int, now_ms: int) -> None:
        """Read what was stored since the last read (or fill from ``from_ms`` by event time first)."""
        if not self.covers(from_ms):
            self._fill(from_ms, now_ms)
            return
        assert self.read_until_ms is not None
        query = EventQuery(
            start=from_millis(self.read_until_ms - self.margin_ms),
            end=from_millis(now_ms + 1),
            datasets=self.datasets,
            time_field="event.ingested",
        )
        fresh: list[Event] = []
        for page in self._pages(query):
            for event in page:
                if event.id not in self.recent:
                    self.recent[event.id] = _ingested_ms(event, now_ms)
                    fresh.append(event)
        self.events_read += len(fresh)
        self._keep(fresh)
        self.read_until_ms = now_ms
        floor = now_ms - self.margin_ms
        self.recent = {i: t for i, t in self.recent.items() if t >= floor}

    def _fill(self, from_ms: int, now_ms: int) -> None:
        """Every match from ``from_ms`` (event time), read by event time: at start or after a gap."""
        log.info("detection follows ingest: reading the rules' open windows from the store once")
        self.kept, self.recent = [], {}
        query = EventQuery(start=from_millis(from_ms), end=from_millis(now_ms + 1), datasets=self.datasets)
        read: list[Event] = []
        for page in self._pages(query):
            read.extend(page)
            self.events_read += len(page)
            for event in page:
                ingested = _ingested_ms(event, now_ms)
                if ingested >= now_ms - self.margin_ms:
                    self.recent[event.id] = ingested  # read again by the next advance: skip it then
        self._keep(read)
        self.kept_from_ms = from_ms
        self.read_until_ms = now_ms

    def _pages(self, query: EventQuery) -> Iterator[list[Event]]:
        after: tuple[int, str] | None = None
        while True:
            page = self.store.search_events(
                query, Scope.everything(), limit=PAGE_SIZE, order="asc", after=after, with_total=False
            )
            if page.events:
                yield page.events
            if page.next_after is None or len(page.events) < PAGE_SIZE:
                return
            after = page.next_after

    def _keep(self, events: list[Event]) -> None:
        order = self.order
        new = [KeptMatch(e.timestamp_ms, e.id, order[id(r)], r, e) for r, e in self.index.match(events)]
        if not new:
            return
        new.sort(key=_position)
        kept = self.kept
        if kept and _position(new[0]) < _position(kept[-1]):
            # events of the same second or late ones: merge them into the tail they belong to
            cut = bisect.bisect_left(kept, new[0].ts_ms, key=lambda m: m.ts_ms)
            kept[cut:] = heapq.merge(kept[cut:], new, key=_position)
        else:
            kept.extend(new)

    def matches(self, start_ms: int, end_ms: int) -> Iterator[tuple[SigmaRule, Event]]:
        """The kept (rule, event) matches with ``start <= event time < end``, as a fetch gives them."""
        lo = bisect.bisect_left(self.kept, start_ms, key=lambda m: m.ts_ms)
        hi = bisect.bisect_left(self.kept, end_ms, key=lambda m: m.ts_ms)
        for kept in self.kept[lo:hi]:
            yield kept.rule, kept.event

    def forget_before(self, ms: int) -> None:
        """Drop the matches no rule's window needs any more (event time before ``ms``)."""
        if self.kept_from_ms is not None and ms > self.kept_from_ms:
            cut = bisect.bisect_left(self.kept, ms, key=lambda m: m.ts_ms)
            del self.kept[:cut]
            self.kept_from_ms = ms


def _position(m: KeptMatch) -> tuple[int, str, int]:
    return (m.ts_ms, m.event_id, m.order)


def _ingested_ms(event: Event, default: int) -> int:
    meta = event.doc.get("event")
    ingested = meta.get("ingested") if isinstance(meta, dict) else None
    if isinstance(ingested, str):
        try:
            return to_millis(parse_timestamp(ingested))
        except ValueError:
            return default
    return default
