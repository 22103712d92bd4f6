"""Decoder time formats: the shapes services write times in, to the instant they name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from collectors.decoders.timestamps import TimeFormatError, YearlessTime, compile_time_format

EAT = timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        # offsets separated by a space, and bracket-stripped dates with zones
        ("%d-%m-%Y %H:%M:%S %z", "11-06-2013 02:09:40 +0300", datetime(2013, 6, 11, 2, 9, 40, tzinfo=EAT)),
        ("%d-%b-%Y %H:%M:%S %z", "12-Jan-2026 10:22:32 +03:00", datetime(2026, 1, 12, 10, 22, 32, tzinfo=EAT)),
        ("iso8601", "2013-06-15 11:19:33 +0300", datetime(2013, 6, 15, 11, 19, 33, tzinfo=EAT)),
        # ISO with Z, with a comma, with nanoseconds
        ("iso8601", "2019-01-03T08:50:04.634875Z", datetime(2019, 1, 3, 8, 50, 4, 634875, tzinfo=UTC)),
        ("iso8601", "2026-01-12 10:00:00,123", datetime(2026, 1, 12, 10, 0, 0, 123000)),
        ("iso8601", "2026-01-12T17:44:34.123456789Z", datetime(2026, 1, 12, 17, 44, 34, 123456, tzinfo=UTC)),
        # zone names: IANA, an unambiguous abbreviation, UTC
        ("%d-%b-%Y %H:%M:%S %Z", "12-Jan-2026 10:00:00 Africa/Dar_es_Salaam", datetime(2026, 1, 12, 7, tzinfo=UTC)),
        ("%Y-%m-%d %H:%M:%S.%f %Z", "2026-01-12 10:00:00.5 EAT", datetime(2026, 1, 12, 10, 0, 0, 500000, tzinfo=EAT)),
        ("%Y-%m-%d %H:%M:%S %Z", "2026-01-12 10:00:00 UTC", datetime(2026, 1, 12, 10, tzinfo=UTC)),
        # epoch seconds (fractions), milliseconds, microseconds (journald), nanoseconds (FortiGate)
        ("epoch", "1286536308.779", datetime(2010, 10, 8, 11, 11, 48, 779000, tzinfo=UTC)),
        ("epoch_ms", "1768212000123", datetime(2026, 1, 12, 10, 0, 0, 123000, tzinfo=UTC)),
        ("epoch_us", "1768212000123456", datetime(2026, 1, 12, 10, 0, 0, 123456, tzinfo=UTC)),
        ("epoch_ns", "1768212000123456789", datetime(2026, 1, 12, 10, 0, 0, 123457, tzinfo=UTC)),
        ("tai64n", "@400000004c91b044077a9e94", datetime(2010, 9, 16, 5, 51, 0, 125476, tzinfo=UTC)),
        # localised month names: French, German, Spanish, Portuguese, Italian, Dutch, Swahili
        ("%d-%b-%Y %H:%M:%S.%f", "12-janv.-2026 10:00:01.5", datetime(2026, 1, 12, 10, 0, 1, 500000)),
        ("%d-%b-%Y %H:%M:%S", "12-févr.-2026 10:00:00", datetime(2026, 2, 12, 10)),
        ("%d-%b-%Y %H:%M:%S", "12-Mär-2026 10:00:00", datetime(2026, 3, 12, 10)),
        ("%d %B %Y %H:%M:%S", "12 diciembre 2026 10:00:00", datetime(2026, 12, 12, 10)),
        ("%d/%b/%Y %H:%M:%S", "12/out/2026 10:00:00", datetime(2026, 10, 12, 10)),
        ("%d %B %Y %H:%M:%S", "12 giugno 2026 10:00:00", datetime(2026, 6, 12, 10)),
        ("%d-%b-%Y %H:%M:%S", "12-mrt-2026 10:00:00", datetime(2026, 3, 12, 10)),
        ("%d %B %Y %H:%M:%S", "12 Agosti 2026 10:00:00", datetime(2026, 8, 12, 10)),
        # space-padded days, two-digit years, 12-hour clocks, day names
        ("%a %b %d %H:%M:%S %Y", "Thu Sep  8 00:39:49 2016", datetime(2016, 9, 8, 0, 39, 49)),
        ("%y%m%d %H:%M:%S", "130324  0:04:00", datetime(2013, 3, 24, 0, 4)),
        ("%m/%d/%Y %I:%M:%S %p", "01/12/2026 01:05:00 PM", datetime(2026, 1, 12, 13, 5)),
    ],
)
def test_formats(fmt: str, text: str, expected: datetime) -> None:
    assert compile_time_format(fmt)(text) == expected


def test_a_time_without_its_zone_is_local_or_the_named_zone() -> None:
    local = compile_time_format("%Y-%m-%d %H:%M:%S")("2026-01-12 10:00:00")
    assert local == datetime(2026, 1, 12, 10) and local is not None and local.tzinfo is None
    assert compile_time_format("%Y-%m-%d %H:%M:%S", zone="UTC")("2026-01-12 10:00:00") == datetime(
        2026, 1, 12, 10, tzinfo=UTC
    )
    # an ambiguous abbreviation (IST: India, Ireland, Israel) is not guessed: the default applies
    assert compile_time_format("%Y-%m-%d %H:%M:%S %Z")("2026-01-12 10:00:00 IST") == datetime(2026, 1, 12, 10)


def test_a_time_without_a_year_says_so() -> None:
    ts = compile_time_format("syslog")("Feb 29 17:39:50")
    assert isinstance(ts, YearlessTime) and (ts.month, ts.day) == (2, 29)


@pytest.mark.parametrize("text", ["31-Feb-2026 10:00:00", "12-Foo-2026 10:00:00", "not a time", "12-Jan-2026"])
def test_texts_that_are_not_times(text: str) -> None:
    assert compile_time_format("%d-%b-%Y %H:%M:%S")(text) is None


@pytest.mark.parametrize(
    ("fmt", "zone", "message"),
    [
        ("%H:%M:%S", None, "needs a day"),
        ("%d-%m %H:%M:%S %z", None, "has a zone but no year"),
        ("%d-%m-%Y %H:%M %Q", None, "unknown directive %Q"),
        ("%d-%m-%Y %I:%M", None, "%I and %p go together"),
        ("rfc3339", None, "unknown time format"),
        ("iso8601", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_formats_that_cannot_be(fmt: str, zone: str | None, message: str) -> None:
    with pytest.raises(TimeFormatError, match=message.replace("%", "%").replace("(", r"\(")):
        compile_time_format(fmt, zone)
