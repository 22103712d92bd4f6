"""Detection jobs for APScheduler: one interval job per rule, started by ``sentinel serve``.

Each rule is its own job, so a slow rule delays only itself (``max_instances=1``: a run that is
still going is not started twice; ``coalesce``: missed runs collapse into one, and the engine's
checkpoint catches up the windows anyway).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sentinel.detect.engine import DetectionEngine

log = logging.getLogger(__name__)

JOB_PREFIX = "detect:"


def add_detection_jobs(scheduler: Any, engine: DetectionEngine, *, start_now: bool = True) -> list[str]:
    """Add (or replace) one job per runnable rule; returns the job ids."""
    ids: list[str] = []
    for rule_id, rule in engine.rules.items():
        interval_seconds = engine.timing(rule).interval_ms / 1000
        job_id = JOB_PREFIX + rule_id
        scheduler.add_job(
            engine.run_rule,
            trigger="interval",
            seconds=interval_seconds,
            args=[rule_id],
            id=job_id,
            name=f"detect {rule.title}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval_seconds)),
            replace_existing=True,
            next_run_time=datetime.now(UTC) if start_now else None,
        )
        ids.append(job_id)
    log.info("scheduled %d detection rules (%d could not be loaded)", len(ids), len(engine.load_errors))
    return ids


def remove_detection_jobs(scheduler: Any) -> int:
    removed = 0
    for job in list(scheduler.get_jobs()):
        if job.id.startswith(JOB_PREFIX):
            scheduler.remove_job(job.id)
            removed += 1
    return removed
