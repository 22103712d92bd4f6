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
from sentinel.detect.engine.runner import SCANNING_KINDS, DetectionEngine
from sentinel.errors import StoreClosed

log = logging.getLogger(__name__)

JOB_PREFIX = "detect:"
JOB_ID = JOB_PREFIX + "rules"
SCAN_JOB_ID = JOB_PREFIX + "scans"


class DetectionJob:
    """One tick: the rules due at ``now`` (their interval passed since their last run), run together."""

    def __init__(
        self, engine: DetectionEngine, clock: Callable[[], datetime] | None = None, rule_ids: list[str] | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock or engine.clock
        self.rule_ids = list(engine.rules) if rule_ids is None else rule_ids
        self.intervals = {rule_id: engine.timing(engine.rules[rule_id]).interval_ms / 1000 for rule_id in self.rule_ids}
        self.tick = min(self.intervals.values(), default=60.0)
        self._next: dict[str, float] = {}  # rule id -> when (epoch seconds) it is due again

    def due(self, now: datetime) -> list[str]:
        t = now.timestamp()
        return [rule_id for rule_id in self.rule_ids if self._next.get(rule_id, t) <= t]

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
        except StoreClosed:  # the service is stopping; the checkpoints make the next start carry on
            log.info("detection stopped: the store is closed")
            return []
        except Exception:  # run_all keeps rule failures to their rules; anything else: the next tick
            log.exception("a detection step failed; the next tick tries again")
            return []


def add_detection_jobs(scheduler: Any, engine: DetectionEngine, *, start_now: bool = True) -> list[str]:
    """Add (or replace) the detection jobs; returns their ids (none when no rule can run).

    Following ingest (``detect.follow_ingest``), the rules that read every event of their datasets
    (threshold, new value, silence) get a job of their own: a long step of theirs never holds
    back the Sigma rules and correlations that run every second. Otherwise one job runs them all.
    """
    if not engine.rules:
        log.info("no detection rule to schedule (%d could not be loaded)", len(engine.load_errors))
        return []
    if engine.settings.follow_ingest:
        scans = [r for r, rule in engine.rules.items() if rule.kind in SCANNING_KINDS]
        groups = [(JOB_ID, [r for r in engine.rules if r not in set(scans)]), (SCAN_JOB_ID, scans)]
    else:
        groups = [(JOB_ID, list(engine.rules))]
    added = []
    for job_id, rule_ids in groups:
        if not rule_ids:
            continue
        job = DetectionJob(engine, rule_ids=rule_ids)
        scheduler.add_job(
            job,
            trigger="interval",
            seconds=job.tick,
            id=job_id,
            name=f"detect {len(rule_ids)} rules",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(job.tick)),
            replace_existing=True,
            next_run_time=datetime.now(UTC) if start_now else None,
        )
        added.append(job_id)
    log.info(
        "scheduled %d detection rules in %d job(s) (%d not loaded)",
        len(engine.rules),
        len(added),
        len(engine.load_errors),
    )
    return added


def remove_detection_jobs(scheduler: Any) -> int:
    removed = 0
    for job in list(scheduler.get_jobs()):
        if job.id.startswith(JOB_PREFIX):
            scheduler.remove_job(job.id)
            removed += 1
    return removed
