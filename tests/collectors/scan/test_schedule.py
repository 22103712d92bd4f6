from __future__ import annotations

from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from collectors.scan.schedule import add_scan_jobs, cron_trigger, run_scheduled_scan
from collectors.scan.service import ScanService
from sentinel.config import Settings
from sentinel.errors import ConfigError
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import EventQuery, Scope
from sentinel.store.sqlite import SqliteStore

INVENTORY = Inventory(
    [
        Institution(id="loop", name="Loopback Agency", networks=["127.88.0.0/30"], timezone="Africa/Nairobi"),
        Institution(id="mof", name="Ministry of Finance", networks=["10.20.0.0/16"]),
        Institution(id="paper", name="No networks"),
    ]
)


def _settings(data_dir: Path, schedules: list[dict]) -> Settings:  # type: ignore[type-arg]
    return Settings.model_validate(
        {
            "data_dir": str(data_dir),
            "scan": {
                "max_parallel": 1,
                "profiles": {"ping": {"kind": "discovery", "timing": 5, "host_timeout_seconds": 10}},
                "schedules": schedules,
            },
        }
    )


def test_jobs_per_institution_and_profile(data_dir: Path) -> None:
    store = SqliteStore(data_dir / "sentinel.db")
    store.setup()
    scheduler = BackgroundScheduler()
    try:
        settings = _settings(data_dir, [{"institution": "mof", "profile": "ping", "cron": "30 3 * * sat"},
                                        {"profile": "ping", "cron": "nightly"}])  # fmt: skip
        jobs = add_scan_jobs(scheduler, settings, INVENTORY, store)
        ids = sorted(j.id for j in scheduler.get_jobs())
        # "*" skips the institution without networks; the entry naming mof wins over "*" whatever the order
        assert ids == ["scan:loop:ping", "scan:mof:ping"] and len(jobs) == 2
        loop_job = scheduler.get_job("scan:loop:ping")
        assert isinstance(loop_job.trigger, CronTrigger) and str(loop_job.trigger.timezone) == "Africa/Nairobi"
        assert loop_job.max_instances == 1 and loop_job.coalesce is True
        assert "day_of_week='sat'" in str(scheduler.get_job("scan:mof:ping").trigger)
        # all jobs share one service, so one runner bounds the nmap processes of all of them
        services = {id(j.args[0]) for j in scheduler.get_jobs()}
        assert len(services) == 1
        # the job body, run for real (loopback addresses answer a ping scan)
        run_scheduled_scan(loop_job.args[0], "loop", "ping")
        hosts = store.count_events(EventQuery(datasets=("nmap.host",)), Scope.institution("loop"))
        assert hosts == 4
    finally:
        store.close()


def test_presets_are_spread_and_bad_schedules_refused(data_dir: Path) -> None:
    a, b = str(cron_trigger("nightly", "mof", "UTC")), str(cron_trigger("nightly", "moh", "UTC"))
    assert a != b  # 200 institutions do not start at the same minute
    assert "day_of_week='sun'" in str(cron_trigger("weekly", "mof", "UTC"))
    with pytest.raises(ConfigError, match="invalid scan schedule"):
        cron_trigger("every day", "mof", "UTC")
    store = SqliteStore(data_dir / "x.db")
    store.setup()
    try:
        with pytest.raises(ConfigError, match="unknown scan profile"):
            add_scan_jobs(BackgroundScheduler(), _settings(data_dir, [{"profile": "nope"}]), INVENTORY, store)
        with pytest.raises(ConfigError, match="unknown institution"):
            add_scan_jobs(BackgroundScheduler(), _settings(data_dir, [{"institution": "x", "profile": "ping"}]),
                          INVENTORY, store)  # fmt: skip
        # a failing scheduled scan is logged, never raised into the scheduler
        service = ScanService(_settings(data_dir, []), INVENTORY, store)
        run_scheduled_scan(service, "paper", "ping")
    finally:
        store.close()
