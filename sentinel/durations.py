"""Durations as people write them: ``90s``, ``15m``, ``1h``, ``7d``, ``2w``, or a number of seconds.

The one parser of durations in Sentinel (configuration, rule options, rule samples, ``search
--since``, ``detect --since``, playbook steps, web pages). A duration is at most ``MAX_DURATION``
(1,000 years): "now minus the duration" is then always a date a ``datetime`` can hold, so a
typing slip such as ``1000000d`` is a clear ``ValueError`` (a CLI message, a 4xx), never an
``OverflowError`` deep in a query.
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=365_250)
_HINT = "use a number of seconds or a number and a unit s, m, h, d or w (e.g. 90, 15m, 7d, 2w)"


def parse_duration(value: str | int | float) -> timedelta:
    """``15m`` → 15 minutes; a bare number (``3600`` or ``"3600"``) is seconds. ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    if isinstance(value, int | float):
        seconds: float = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"invalid duration {value!r}: {_HINT}")
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds != seconds or seconds < 0:  # NaN, or negative
        raise ValueError(f"invalid duration {value!r}: a duration cannot be negative")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {value!r} is too long: at most {MAX_DURATION.days:,} days")
    return timedelta(seconds=seconds)


def duration_seconds(value: str | int | float) -> int:
    """``parse_duration`` in whole seconds, for settings kept as seconds (rule options)."""
    return int(parse_duration(value).total_seconds())
