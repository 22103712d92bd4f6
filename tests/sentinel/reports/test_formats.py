"""Numbers, percentages and dates as each report language writes them (CLDR through Babel)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sentinel.reports import formats
from sentinel.reports.period import Month

EAT = ZoneInfo("Africa/Dar_es_Salaam")


def test_english_and_swahili_forms() -> None:
    when = datetime(2026, 11, 3, 7, 5, tzinfo=UTC)
    assert formats.month_name(Month(2026, 11), "en") == "November 2026"
    assert formats.month_name(Month(2026, 11), "sw") == "Novemba 2026"
    assert formats.moment(when, "en", EAT) == "Nov 3, 2026 10:05"
    assert formats.moment(when, "sw", EAT) == "3 Nov 2026 10:05"
    assert formats.number(1234567, "sw") == "1,234,567" and formats.number(1234567, "en") == "1,234,567"
    assert (
        formats.percent(0.853, "sw") == "85%"
        and formats.percent(None, "sw", none="hakuna ushahidi") == "hakuna ushahidi"
    )
    assert formats.hours(5400, "en") == "1.5" and formats.hours(None, "en") == "-"
