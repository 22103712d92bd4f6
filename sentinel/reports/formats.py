"""Numbers, percentages, months and dates as each report language writes them (Unicode CLDR via Babel)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_decimal, format_percent

from sentinel.reports.period import Month

LOCALES = {"en": "en", "sw": "sw"}


def _locale(language: str) -> str:
    return LOCALES.get(language, "en")


def number(value: float | int, language: str, digits: int = 0) -> str:
    if isinstance(value, float) and digits:
        return format_decimal(round(value, digits), format=f"#,##0.{'0' * digits}", locale=_locale(language))
    return format_decimal(round(value) if isinstance(value, float) else value, locale=_locale(language))


def percent(ratio: float | None, language: str, none: str = "-") -> str:
    """``0.853`` → ``85%``; None (nothing to measure) → ``none``."""
    if ratio is None:
        return none
    return format_percent(ratio, locale=_locale(language))


def month_name(month: Month, language: str) -> str:
    """``November 2026`` / ``Novemba 2026``."""
    return format_skeleton("yMMMM", date(month.year, month.month, 1), locale=_locale(language))


def month_short(month: Month, language: str) -> str:
    """For chart labels: ``Nov 2026`` / ``Nov 2026``."""
    return format_skeleton("yMMM", date(month.year, month.month, 1), locale=_locale(language))


def day(value: datetime | date, language: str, tz: ZoneInfo | None = None) -> str:
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(tz)
    return format_date(value, "medium", locale=_locale(language))


def moment(value: datetime, language: str, tz: ZoneInfo) -> str:
    """A local date and time, e.g. ``Nov 3, 2026, 10:05`` / ``3 Nov 2026 10:05``."""
    return format_datetime(value.astimezone(tz), _pattern(language), tzinfo=tz, locale=_locale(language))


def _pattern(language: str) -> str:
    return "d MMM y HH:mm" if language == "sw" else "MMM d, y HH:mm"


def hours(seconds: float | None, language: str) -> str:
    """A duration in hours with one decimal (``1.5``); ``-`` when unknown."""
    if seconds is None:
        return "-"
    return number(seconds / 3600.0, language, digits=1)
