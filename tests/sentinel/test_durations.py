"""One duration parser for the whole of Sentinel: numbers are seconds, units s to w, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentinel.durations import MAX_DURATION, duration_seconds, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        (" 1h ", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("3600", timedelta(hours=1)),
        (3600, timedelta(hours=1)),
        (1.5, timedelta(seconds=1.5)),
        ("0", timedelta(0)),
        ("36500d", timedelta(days=36500)),
    ],
)
def test_numbers_are_seconds_and_units_go_up_to_weeks(text: str | int | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "1y", "-5m", "1.5h", "", "5 minutes", True, -1, float("nan")])
def test_anything_else_is_a_clear_value_error(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["1000000d", "999999999999w", 10**12])
def test_a_duration_no_date_can_hold_is_refused_before_any_date_arithmetic(text: object) -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration(text)  # type: ignore[arg-type]
    # and the longest one allowed still leaves a date a datetime can hold
    assert datetime.now(UTC) - MAX_DURATION > datetime.min.replace(tzinfo=UTC)


def test_seconds_for_settings_kept_in_seconds() -> None:
    assert duration_seconds("2w") == 14 * 86400
    assert duration_seconds(30) == 30
