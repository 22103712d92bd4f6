"""Report months: bounds in an institution's time zone, and which month is due when."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sentinel.errors import SentinelError
from sentinel.reports.period import Month, due_month

EAT = ZoneInfo("Africa/Dar_es_Salaam")


def test_month_bounds_are_local_midnights() -> None:
    november = Month.parse("2026-11")
    assert november.start(EAT) == datetime(2026, 10, 31, 21, 0, tzinfo=UTC)
    assert november.end(EAT) == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    assert november.days() == 30 and Month(2028, 2).days() == 29
    assert str(Month(2026, 1).previous()) == "2025-12" and str(Month(2026, 12).next()) == "2027-01"
    assert [str(m) for m in Month(2026, 2).last(3)] == ["2025-12", "2026-01", "2026-02"]
    assert len(november.local_days(EAT, until=datetime(2026, 11, 10, 22, 0, tzinfo=UTC))) == 11  # the 11th began


@pytest.mark.parametrize("text", ["2026-13", "26-11", "2026/11", "november"])
def test_a_bad_month_is_refused_with_the_form_expected(text: str) -> None:
    with pytest.raises(SentinelError, match=r"YYYY-MM|not a month"):
        Month.parse(text)


def test_the_report_falls_due_at_the_local_hour_on_the_day() -> None:
    before = datetime(2026, 12, 1, 2, 59, tzinfo=UTC)  # 05:59 in Dar es Salaam
    after = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 06:00
    assert str(due_month(before, EAT, day=1, hour=6)) == "2026-10"
    assert str(due_month(after, EAT, day=1, hour=6)) == "2026-11"
    # the same instant is still 30 November in Lima: November is not over there
    assert str(due_month(after, ZoneInfo("America/Lima"), day=1, hour=6)) == "2026-10"
