"""What detectors share: the ``Finding`` they report, their interface, and bounded state tables.

Every table a detector keeps is an LRU with a fixed capacity, so a flood of spoofed sources can
make the sensor forget old sources but can never exhaust its memory. What a table does when full
is up to its owner (``on_evict``): scan windows that already crossed a threshold are reported,
others are dropped and counted in ``evictions``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from collectors.sensor.decode import ArpPacket, IpPacket
from sentinel.events import format_timestamp

K = TypeVar("K")
V = TypeVar("V")

# Which packets a detector wants; the engine dispatches on these so a detector never sees others.
WANTS_ARP = "arp"
WANTS_TCP = "tcp"
WANTS_UDP = "udp"


def iso(ts: float) -> str:
    """A packet timestamp (UNIX seconds) as an ECS date."""
    return format_timestamp(datetime.fromtimestamp(ts, tz=UTC))


@dataclass(slots=True)
class Finding:
    """One detection, before it becomes an ECS event.

    ``key`` and ``window_start`` make the event id: the same capture read twice gives the same ids.
    ``affected`` lists addresses (most relevant first) whose owner institution the event belongs to.
    """

    detector: str
    action: str
    key: str
    window_start: float
    timestamp: float
    message: str
    fields: dict[str, Any]
    affected: tuple[str, ...] = ()
    kind: str = "alert"
    event_type: tuple[str, ...] = ("info",)
    technique: tuple[str, str] | None = None  # (ATT&CK id, name)
    tactic: tuple[str, str] | None = None
    severity: int = 47  # ECS event.severity: 21 low, 47 medium, 73 high


class Detector(Protocol):
    name: str
    wants: frozenset[str]

    def bpf(self) -> str:
        """Kernel filter expression selecting the packets this detector needs."""
        ...

    def on_ip(self, pkt: IpPacket, out: list[Finding]) -> None: ...

    def on_arp(self, pkt: ArpPacket, out: list[Finding]) -> None: ...

    def advance(self, now: float, out: list[Finding]) -> None:
        """Close windows that ended before ``now`` (packet or wall-clock time)."""
        ...

    def flush(self, out: list[Finding]) -> None:
        """End of input: close every open window."""
        ...

    def state_size(self) -> int:
        """Entries held across all of this detector's tables (for tests and stats)."""
        ...


class BoundedLRU(Generic[K, V]):
    """A dict that keeps at most ``capacity`` entries, evicting the least recently used first."""

    __slots__ = ("_data", "capacity", "evictions", "on_evict")

    def __init__(self, capacity: int, on_evict: Callable[[K, V], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._data: OrderedDict[K, V] = OrderedDict()
        self.capacity = capacity
        self.on_evict = on_evict
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: K) -> V | None:
        """The value, marking it recently used."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def peek(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        data = self._data
        if key in data:
            data.move_to_end(key)
        elif len(data) >= self.capacity:
            self.evict_oldest()
        data[key] = value

    def evict_oldest(self) -> None:
        old_key, old_value = self._data.popitem(last=False)
        self.evictions += 1
        if self.on_evict is not None:
            self.on_evict(old_key, old_value)

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def oldest(self) -> tuple[K, V] | None:
        for item in self._data.items():
            return item
        return None

    def items(self) -> Iterator[tuple[K, V]]:
        return iter(list(self._data.items()))

    def clear(self) -> None:
        self._data.clear()


class Deduper:
    """Report a key once per window: the first sighting opens a window, later ones only count.

    ``first_sighting`` returns the window start to use in the finding id, or None for a repeat.
    """

    __slots__ = ("_seen", "window")

    def __init__(self, window: float, capacity: int) -> None:
        self.window = window
        self._seen: BoundedLRU[Any, float] = BoundedLRU(capacity)

    def first_sighting(self, key: Any, ts: float) -> float | None:
        start = self._seen.get(key)
        if start is not None and 0 <= ts - start < self.window:
            return None
        self._seen.put(key, ts)
        return ts

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(slots=True)
class CountWindow:
    """Events counted for one key in one window (e.g. NXDOMAIN answers to one client)."""

    start: float
    last: float
    count: int = 0
    samples: list[str] = field(default_factory=list)
    extra: dict[Any, Any] = field(default_factory=dict)


class WindowCounter:
    """Count per key in windows that open at the key's first event and last ``window`` seconds.

    A window is reported (``on_close``) when it ends with at least ``threshold`` events: when a
    later event of its key falls outside it, when ``advance`` passes its end, at ``flush``, or when
    the table is full and it is the least recently used key.
    """

    def __init__(
        self,
        window: float,
        threshold: int,
        capacity: int,
        on_close: Callable[[Any, CountWindow, list[Finding]], None],
        max_samples: int = 10,
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.max_samples = max_samples
        self._on_close = on_close
        self._pending: list[Finding] = []
        self._table: BoundedLRU[Any, CountWindow] = BoundedLRU(capacity, self._evicted)

    def _evicted(self, key: Any, win: CountWindow) -> None:
        self._close(key, win, self._pending)

    def _close(self, key: Any, win: CountWindow, out: list[Finding]) -> None:
        if win.count >= self.threshold:
            self._on_close(key, win, out)

    def add(self, key: Any, ts: float, out: list[Finding], sample: str | None = None) -> CountWindow:
        win = self._table.get(key)
        if win is not None and ts - win.start >= self.window:
            self._table.pop(key)
            self._close(key, win, out)
            win = None
        if win is None:
            win = CountWindow(start=ts, last=ts)
            self._table.put(key, win)
            if self._pending:
                out.extend(self._pending)
                self._pending.clear()
        win.count += 1
        if ts > win.last:
            win.last = ts
        if sample is not None and len(win.samples) < self.max_samples and sample not in win.samples:
            win.samples.append(sample)
        return win

    def advance(self, now: float, out: list[Finding]) -> None:
        while True:
            oldest = self._table.oldest()
            if oldest is None or now - oldest[1].last < self.window:
                break
            key, win = oldest
            self._table.pop(key)
            self._close(key, win, out)

    def flush(self, out: list[Finding]) -> None:
        for key, win in self._table.items():
            self._close(key, win, out)
        self._table.clear()
        out.extend(self._pending)
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._table)
