"""The detection job for APScheduler, started by ``sentinel serve``: every due rule in one step.

One job ticks at the shortest rule interval and runs, in one ``engine.run_all`` step, the rules
whose own interval has come round, so rules that end their step at the same time share one fetch
and one match of their events (``shared_pass``) instead of each reading the same hour. A broken
rule is reported in its own health document and never stops the others (``run_all`` keeps each
rule's failure its own; a slow rule is stopped at its ``max_run_seconds``). ``max_instances=1``:
a step still going is not started twice; ``coalesce``: missed ticks collapse into one, and the
checkpoints catch the windows up anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sentinel.detect.engine.health import RunReport
from sentinel.detect.engine.runner import DetectionEngine

log = logging.getLogger(__name__)

JOB_PREFIX = "detect:"
JOB_ID = JOB_PREFIX + "rules"


class DetectionJob:
    """One tick: the rules due at ``now`` (their interval passed since their last run), run together."""

    def __init__(self, engine: DetectionEngine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or engine.clock
        self.intervals = {rule_id: engine.timing(rule).interval_ms / 1000 for rule_id, rule in engine.rules.items()}
        self.tick = min(self.intervals.values(), default=60.0)
        self._next: dict[str, float] = {}  # rule id -> when (epoch seconds) it is due again

    def due(self, now: datetime) -> list[str]:
        t = now.timestamp()
        return [rule_id for rule_id in self.engine.rules if self._next.get(rule_id, t) <= t]

    def __call__(self) -> list[RunReport]:
        now = self.clock()
        due = self.due(now)
        if not due:
            return []
        t = now.timestamp()
        for rule_id in due:
            # half a tick early, so a tick that fires a little late does not skip a rule's turn
            self._next[rule_id] = t + self.intervals[rule_id] - self.tick / 2
        try:
            return self.engine.run_all(now, due)
        except Exception:  # run_all keeps rule failures to their rules; anything else: the next tick
            log.exception("a detection step failed; the next tick tries again")
            return []


def add_detection_jobs(scheduler: Any, engine: DetectionEngine, *, start_now: bool = True) -> list[str]:
    """Add (or replace) the detection job; returns its id in a list (none when no rule can run)."""
    if not engine.rules:
        log.info("no detection rule to schedule (%d could not be loaded)", len(engine.load_errors))
        return []
    job = DetectionJob(engine)
    scheduler.add_job(
        job,
        trigger="interval",
        seconds=job.tick,
        id=JOB_ID,
        name=f"detect {len(engine.rules)} rules",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(job.tick)),
        replace_existing=True,
        next_run_time=datetime.now(UTC) if start_now else None,
    )
    log.info("scheduled %d detection rules in one job (%d not loaded)", len(engine.rules), len(engine.load_errors))
    return [JOB_ID]


def remove_detection_jobs(scheduler: Any) -> int:
    removed = 0
    for job in list(scheduler.get_jobs()):
        if job.id.startswith(JOB_PREFIX):
            scheduler.remove_job(job.id)
            removed += 1
    return removed
