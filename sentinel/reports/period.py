"""Report months: ``2026-11``, and where a month starts and ends in an institution's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sentinel.errors import SentinelError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 2999:
            raise SentinelError(f"not a month: {self.year}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Month:
        m = _MONTH.match(text.strip())
        if not m:
            raise SentinelError(f"a month is written YYYY-MM, e.g. 2026-11, not {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, when: datetime, tz: ZoneInfo) -> Month:
        local = when.astimezone(tz)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def last(self, n: int) -> list[Month]:
        """The ``n`` months ending with this one, oldest first."""
        months = [self]
        while len(months) < n:
            months.append(months[-1].previous())
        return months[::-1]

    def start(self, tz: ZoneInfo) -> datetime:
        """Local midnight of the 1st, as a UTC time."""
        return datetime(self.year, self.month, 1, tzinfo=tz).astimezone(UTC)

    def end(self, tz: ZoneInfo) -> datetime:
        """Exclusive: the start of the next month."""
        return self.next().start(tz)

    def days(self) -> int:
        return (datetime(self.next().year, self.next().month, 1) - datetime(self.year, self.month, 1)).days

    def local_days(self, tz: ZoneInfo, until: datetime | None = None) -> list[datetime]:
        """Each local day of the month (midnight, aware), up to ``until`` if the month is not over."""
        days = [datetime(self.year, self.month, 1, tzinfo=tz) + timedelta(days=i) for i in range(self.days())]
        return [d for d in days if until is None or d < until.astimezone(tz)]


def due_month(now: datetime, tz: ZoneInfo, *, day: int, hour: int) -> Month:
    """The latest month whose report is due at ``now``: the previous month once its report time
    (``day`` at ``hour``, local) has come, else the month before it."""
    local = now.astimezone(tz)
    current = Month(local.year, local.month)
    due_at = datetime(local.year, local.month, day, hour, tzinfo=tz)
    return current.previous() if local >= due_at else current.previous().previous()
