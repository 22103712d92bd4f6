"""Is collection working? Its current problems, each with a reason and the time it started.

The collectors report problems here as they meet them (the spool cannot write, the store
refuses writes, the drain cannot move records, free disk space is under the floor) and clear
them when the cause goes away. ``/healthz`` answers from ``healthz_answer``; ``sentinel status``
and the overview page show the same state, saved with the collector's figures.

Each problem is logged once when it starts and once when it ends (with how long it lasted and
how often it was met), plus a reminder at a bounded interval while it lasts: a full disk met by
every received message must not write a log line per message. A problem that flaps (a disk at
its free-space floor) is logged at most once a minute: the starts in between are counted and
said with the next one logged.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

logger = logging.getLogger(__name__)

ProblemKind = Literal["spool_unwritable", "drain_stalled", "store_refusing_writes", "disk_low"]

# Fixed text per kind: what /healthz says without credentials (no paths, no error details).
REASONS: dict[str, str] = {
    "spool_unwritable": "the spool cannot write received records",
    "drain_stalled": "records in the spool are not moving to the store",
    "store_refusing_writes": "the store refuses writes",
    "disk_low": "free disk space is below the configured floor",
}
# What the collectors do meanwhile, said once in the log when the problem starts.
CONSEQUENCES: dict[str, str] = {
    "spool_unwritable": "TCP listeners stop reading and file tailers wait; UDP datagrams are dropped and counted",
    "drain_stalled": "records wait in the spool; retrying with backoff",
    "store_refusing_writes": "records wait in the spool; retrying with backoff",
    "disk_low": "the spool refuses new records until space returns",
}
REMIND_SECONDS = 300.0
FLAP_SECONDS = 60.0  # a problem that comes back this soon after it was logged is counted, not logged again


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    reason: str  # fixed text for the kind
    detail: str  # the error met (may name files): for authenticated readers only
    since: str  # ISO time it started
    occurrences: int  # times it was met since it started


@dataclass(frozen=True, slots=True)
class HealthState:
    status: Literal["ok", "degraded"]
    problems: tuple[Problem, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "problems": [asdict(p) for p in self.problems]}

    @classmethod
    def from_dict(cls, data: Any) -> HealthState | None:
        """The state saved with the collector's figures; None when absent or not a state."""
        if not isinstance(data, dict) or data.get("status") not in ("ok", "degraded"):
            return None
        problems: list[Problem] = []
        for p in data.get("problems") or []:
            if isinstance(p, dict):
                kind = str(p.get("kind", ""))
                problems.append(
                    Problem(
                        kind=kind,
                        reason=str(p.get("reason") or REASONS.get(kind, kind)),
                        detail=str(p.get("detail", "")),
                        since=str(p.get("since", "")),
                        occurrences=int(p.get("occurrences", 0) or 0),
                    )
                )
        return cls(status=data["status"], problems=tuple(problems))


OK = HealthState("ok")


@dataclass(slots=True)
class _Active:
    detail: str
    started: float  # wall clock, shown
    started_mono: float
    last_log: float
    occurrences: int
    logged: bool  # its start was logged, so its end will be


class CollectionHealth:
    """Thread-safe record of collection problems; every collector thread reports here."""

    def __init__(self, *, remind_seconds: float = REMIND_SECONDS, flap_seconds: float = FLAP_SECONDS) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}
        self._remind = remind_seconds
        self._flap = flap_seconds
        self._last_logged_start: dict[str, float] = {}
        self._unlogged_starts: dict[str, int] = {}

    def report(self, kind: ProblemKind, detail: str) -> None:
        """``kind`` is happening (again). Logged when it starts, then at most every few minutes."""
        now = time.monotonic()
        with self._lock:
            active = self._active.get(kind)
            if active is None:
                active = self._active[kind] = _Active(detail, time.time(), now, now, 1, False)
            else:
                active.occurrences += 1
                active.detail = detail
            if active.logged:
                if now - active.last_log < self._remind:
                    return
                active.last_log = now
                message = "collection still degraded: %s for %.0f s (%d times; last: %s)"
                args: tuple[object, ...] = (REASONS[kind], now - active.started_mono, active.occurrences, detail)
            else:
                last = self._last_logged_start.get(kind)
                if last is not None and now - last < self._flap:
                    if active.occurrences == 1:
                        self._unlogged_starts[kind] = self._unlogged_starts.get(kind, 0) + 1
                    return  # back soon after the last report: counted, said with the next one
                active.logged = True
                active.last_log = now
                self._last_logged_start[kind] = now
                brief = self._unlogged_starts.pop(kind, 0) - (active.occurrences > 1)
                message = "collection degraded: %s (%s); %s"
                args = (REASONS[kind], detail, CONSEQUENCES[kind])
                if brief > 0:
                    message += " (it also came and went %d times since the last report)"
                    args += (brief,)
        logger.warning(message, *args)

    def clear(self, kind: ProblemKind) -> None:
        """``kind`` is over: logged once, with how long it lasted."""
        if kind not in self._active:  # the common case, without the lock
            return
        with self._lock:
            active = self._active.pop(kind, None)
        if active is not None and active.logged:
            logger.warning(
                "collection recovered from: %s (lasted %.1f s, met %d times)",
                REASONS[kind],
                time.monotonic() - active.started_mono,
                active.occurrences,
            )

    def active(self, kind: ProblemKind) -> bool:
        return kind in self._active

    def state(self) -> HealthState:
        with self._lock:
            problems = tuple(
                Problem(kind, REASONS[kind], a.detail, _iso(a.started), a.occurrences)
                for kind, a in sorted(self._active.items(), key=lambda item: item[1].started)
            )
        return HealthState("degraded", problems) if problems else OK


def healthz_answer(state: HealthState | None) -> tuple[int, dict[str, Any]]:
    """What ``/healthz`` answers: 200 ``{"status": "ok"}``, or 503 with each problem's reason and start.

    Unauthenticated, so it gives the fixed reason per problem, never the error details.
    """
    if state is None or state.status == "ok":
        return 200, {"status": "ok"}
    return 503, {
        "status": "degraded",
        "problems": [{"kind": p.kind, "reason": p.reason, "since": p.since} for p in state.problems],
    }


__all__ = ["OK", "REASONS", "CollectionHealth", "HealthState", "Problem", "ProblemKind", "healthz_answer"]
