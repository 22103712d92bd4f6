"""Values computed from an event, usable wherever a rule names a field (``derived.*``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sentinel.events import parse_timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_SECOND_MICROS: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS" of an event time -> its µs since the epoch


@lru_cache(maxsize=4096)
def _micros_cached(value: str) -> int:
    # receive times repeat (a collector stamps a whole batch alike); event times mostly do not
    return (parse_timestamp(value) - _EPOCH) // _MICRO


def _event_micros(ts: str) -> int:
    """``parse_timestamp(ts)`` in µs since the epoch (ValueError as it raises).

    Event times are mostly ``YYYY-MM-DDTHH:MM:SS.mmmZ``, thousands per second: such a time is its
    second (parsed in full once per second) plus its milliseconds; any other form is parsed.
    """
    if len(ts) == 24 and ts[19] == "." and ts[23] == "Z" and ts[10] == "T":
        frac = ts[20:23]
        if frac.isdigit() and frac.isascii():
            prefix = ts[:19]
            base = _SECOND_MICROS.get(prefix)
            if base is None:
                if len(_SECOND_MICROS) >= 4096:
                    _SECOND_MICROS.clear()
                # the whole text is parsed: any it refuses raises here, and a second is only kept
                # from a text that parsed, so the others of that second differ only in their digits
                base = (parse_timestamp(ts) - _EPOCH) // _MICRO - int(frac) * 1000
                _SECOND_MICROS[prefix] = base
            return base + int(frac) * 1000
    return (parse_timestamp(ts) - _EPOCH) // _MICRO


def _clock_skew_seconds(doc: Mapping[str, Any]) -> float | None:
    """|event time - receive time| in seconds: a host whose clock is wrong (LOG-04)."""
    if "event.created" in doc:  # a top-level dotted name is read as it is (as ``read_field`` does)
        created = doc["event.created"]
    else:
        event = doc.get("event")
        created = event.get("created") if isinstance(event, Mapping) else None
    ts = doc.get("@timestamp")
    if not isinstance(created, str) or not isinstance(ts, str):
        return None
    try:
        # abs(timedelta.total_seconds()) is the µs difference over 10**6, computed here without
        # building the datetimes and the timedelta
        return abs(_event_micros(ts) - _micros_cached(created)) / 1_000_000
    except ValueError:
        return None


# Values computed from an event, usable wherever a rule names a field.
DERIVED_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "derived.clock_skew_seconds": _clock_skew_seconds,
}
