"""The monthly schedule: reports are made on ``reports.day`` at ``reports.hour`` in each institution's
time zone (and the national summary in the SOC's), and once shortly after ``sentinel serve`` starts
(catch-up after downtime). Every run makes only what is due and missing (``publish_due``), so a
repeated, late or overlapping run sends nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from sentinel.config import Settings
from sentinel.errors import StoreClosed
from sentinel.inventory import Inventory
from sentinel.reports.publish import ReportPublisher

log = logging.getLogger(__name__)

JOB_PREFIX = "reports:"
CATCH_UP_DELAY = timedelta(seconds=5)
MISFIRE_GRACE = 6 * 3600  # a report time missed by a restart still runs within six hours (then catch-up does)


def _run(publisher: ReportPublisher) -> Callable[[], None]:
    def run() -> None:
        try:
            summary = publisher.publish_due()
        except StoreClosed:
            log.info("monthly reports stopped: the service is shutting down; the next start catches up")
            return
        except Exception:
            log.exception("monthly reports failed; they are made at the next run (or next start)")
            return
        if summary.created or summary.queued:
            log.info("monthly reports: %d made, %d notice(s) queued", summary.created, summary.queued)

    return run


def add_report_jobs(
    scheduler: Any,
    publisher: ReportPublisher,
    settings: Settings,
    inventory: Inventory,
    *,
    now: datetime | None = None,
) -> list[str]:
    """One cron job per time zone in use, plus a catch-up run soon after start; returns the job ids."""
    run = _run(publisher)
    zones = sorted({i.timezone for i in inventory} | {settings.timezone})
    ids = []
    for zone in zones:
        job_id = f"{JOB_PREFIX}{zone}"
        trigger = CronTrigger(day=settings.reports.day, hour=settings.reports.hour, minute=0, timezone=ZoneInfo(zone))
        scheduler.add_job(run, trigger, id=job_id, misfire_grace_time=MISFIRE_GRACE, coalesce=True, max_instances=1)
        ids.append(job_id)
    start = (now or datetime.now(UTC)) + CATCH_UP_DELAY
    scheduler.add_job(run, "date", run_date=start, id=f"{JOB_PREFIX}catch-up", max_instances=1)
    ids.append(f"{JOB_PREFIX}catch-up")
    return ids
