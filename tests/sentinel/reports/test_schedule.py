"""The report jobs: one monthly cron job per time zone in use (the 1st, 06:00 local) and a catch-up run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from sentinel.config import Settings
from sentinel.inventory import parse_inventory
from sentinel.reports.schedule import add_report_jobs
from sentinel.yamlfile import YamlDocument

INVENTORY = """\
institutions:
  - {id: moh, name: Wizara ya Afya, language: sw}
  - {id: tra, name: Revenue Authority, timezone: Africa/Nairobi}
  - {id: emb, name: Embassy in Lima, timezone: America/Lima}
"""


class _Publisher:
    def publish_due(self) -> Any:  # not called: the scheduler is never started here
        raise AssertionError("not run")


def test_one_cron_job_per_time_zone_and_a_catch_up() -> None:
    settings = Settings.model_validate({"reports": {"day": 1, "hour": 6}})
    inventory = parse_inventory(YamlDocument.parse(INVENTORY, "inventory.yaml"))
    scheduler = BackgroundScheduler(timezone=UTC)
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    ids = add_report_jobs(scheduler, _Publisher(), settings, inventory, now=now)  # type: ignore[arg-type]
    assert ids == [
        "reports:Africa/Dar_es_Salaam",
        "reports:Africa/Nairobi",
        "reports:America/Lima",
        "reports:catch-up",
    ]
    lima = scheduler.get_job("reports:America/Lima")
    first = lima.trigger.get_next_fire_time(None, now)
    assert first == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 06:00 in Lima (UTC-5)
    dar = scheduler.get_job("reports:Africa/Dar_es_Salaam").trigger.get_next_fire_time(None, now)
    assert dar == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 06:00 in Dar es Salaam (UTC+3)
