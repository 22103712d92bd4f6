"""Time formats of decoders: the shapes services write their timestamps in, parsed without strptime.

A format is a name (``iso8601``, ``epoch``, ``epoch_ms``, ``epoch_us``, ``epoch_ns``, ``tai64n``, ``syslog``) or a
strftime-like text compiled once into a regex with one group per field:

``%Y`` ``%y`` ``%m`` ``%d``/``%e`` ``%H`` ``%I`` ``%p`` ``%M`` ``%S`` ``%f`` (any number of digits, microseconds
kept) ``%b``/``%B`` (month names: English and the localised names in ``MONTH_NAMES``, any case, an
abbreviation may end in a dot) ``%a``/``%A`` (day names, skipped) ``%z`` (``Z``, ``+03``, ``+0300``,
``+03:00``) ``%Z`` (``UTC``, ``GMT``, an unambiguous abbreviation from ``ZONE_NAMES``, or an IANA name
such as ``Africa/Dar_es_Salaam``) ``%%``. A space matches one or more spaces (``Sep  8``), a ``.`` or
``,`` before ``%f`` matches either.

The result is aware when the text carries its zone (or the decoder names a fixed ``zone``), naive
when it does not: the normaliser then applies the institution's zone. Without a year it is a
``YearlessTime`` (year 2000, a leap year), which the normaliser places like an RFC 3164 time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PLACEHOLDER_YEAR = 2000  # a leap year, so "Feb 29" of a line without a year is a date


class YearlessTime(datetime):
    """A naive local time whose year the line did not say (placeholder ``PLACEHOLDER_YEAR``)."""

    __slots__ = ()


class TimeFormatError(ValueError):
    """A time format a decoder names cannot be compiled."""


# Month names, lower case, accents and all: English, French, German, Spanish, Portuguese, Italian,
# Dutch and Swahili, full and abbreviated, as locales print them (Java, PHP and C libraries differ
# in abbreviations: "févr.", "Mär", "sept", "Machi"). No name means two different months.
_MONTHS_BY_LANGUAGE = (
    "january february march april may june july august september october november december",
    "jan feb mar apr may jun jul aug sep oct nov dec",
    "sept",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "janv févr fevr avr juil aout déc",
    "januar februar märz april mai juni juli august september oktober november dezember",
    "jän mär mrz okt dez",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "ene abr ago dic",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "fev set out",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "gen mag giu lug ott",
    "januari februari maart april mei juni juli augustus september oktober november december",
    "mrt mei",
    "januari februari machi aprili mei juni julai agosti septemba oktoba novemba desemba",
    "mac des",
)


def _month_names() -> dict[str, int]:
    names: dict[str, int] = {}
    full_or_abbrev = [line.split() for line in _MONTHS_BY_LANGUAGE]
    for words in full_or_abbrev:
        if len(words) == 12:
            for month, word in enumerate(words, start=1):
                names.setdefault(word, month)
    # Abbreviations listed alone: their month is the full name they start (or the known alias).
    aliases = {"sept": 9, "fevr": 2, "aout": 8, "jän": 1, "mrz": 3, "mrt": 3, "mac": 3, "fev": 2, "set": 9}
    aliases |= {"out": 10, "ene": 1, "ago": 8, "dic": 12, "gen": 1, "mag": 5, "giu": 6, "lug": 7, "ott": 10}
    aliases |= {"abr": 4, "janv": 1, "févr": 2, "avr": 4, "juil": 7, "déc": 12, "mär": 3, "okt": 10, "dez": 12}
    aliases |= {"mei": 5, "des": 12}
    for word, month in aliases.items():
        if names.setdefault(word, month) != month:
            raise AssertionError(f"month name {word!r} means two months")
    return names


MONTH_NAMES = _month_names()

# Zone abbreviations that name one offset wherever they are used; the others (CST, IST, BST...) are
# ambiguous and stay unresolved (the institution's zone applies).
ZONE_NAMES = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "EAT": 180, "CAT": 120, "WAT": 60, "SAST": 120,
    "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180, "WET": 0, "WEST": 60,
    "MSK": 180, "EST": -300, "EDT": -240, "PST": -480, "PDT": -420, "MST": -420, "MDT": -360,
}  # fmt: skip

Parser = Callable[[str], "datetime | None"]

_DIRECTIVES: dict[str, tuple[str, str | None]] = {
    # directive: (regex, group name or None when the value is skipped)
    "Y": (r"\d{4}", "year"),
    "y": (r"\d\d", "year2"),
    "m": (r"[01]?\d", "month"),
    "d": (r"[ 0-3]?\d", "day"),
    "e": (r"[ 0-3]?\d", "day"),
    "H": (r"[ 0-2]?\d", "hour"),
    "I": (r"[ 01]?\d", "hour12"),
    "p": (r"[AaPp][Mm]", "ampm"),
    "M": (r"[0-5]\d", "minute"),
    "S": (r"[0-6]\d", "second"),
    "f": (r"\d+", "fraction"),
    "b": (r"[^\W\d_]{3,12}\.?", "monthname"),
    "B": (r"[^\W\d_]{3,12}\.?", "monthname"),
    "a": (r"[^\W\d_]{2,12}\.?,?", None),
    "A": (r"[^\W\d_]{2,12}\.?,?", None),
    "z": (r"Z|[+-]\d\d(?::?\d\d)?", "offset"),
    "Z": (r"[A-Za-z][A-Za-z_+-]*(?:/[A-Za-z0-9_+-]+)*", "zonename"),
}
_SPECIAL = ("iso8601", "epoch", "epoch_ms", "epoch_us", "epoch_ns", "tai64n", "syslog")
_TAI64_BASE = 1 << 62  # a TAI64 label is 2^62 + seconds (read as UTC, as multilog's readers do)
_SPACED_ZONE = re.compile(r" (Z|[+-]\d\d(?::?\d\d)?)$")
_CACHE_SIZE = 4096  # distinct time texts kept per format: a burst of lines shares a handful


@lru_cache(maxsize=64)
def _fixed_offset(minutes: int) -> tzinfo:
    return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))


def _offset(text: str) -> tzinfo | None:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        return None
    return _fixed_offset(sign * (hours * 60 + minutes))


@lru_cache(maxsize=256)
def zone_named(name: str) -> tzinfo | None:
    """A zone for ``UTC``, ``EAT``, ``Africa/Dar_es_Salaam``...; None for an unknown or ambiguous name."""
    minutes = ZONE_NAMES.get(name.upper())
    if minutes is not None:
        return _fixed_offset(minutes)
    if "/" in name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return None


def _compile_strftime(fmt: str) -> tuple[re.Pattern[str], bool]:
    """The regex of a strftime-like format and whether it carries a zone."""
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            if i + 1 >= len(fmt):
                raise TimeFormatError(f"time format {fmt!r} ends with a lone %")
            d = fmt[i + 1]
            i += 2
            if d == "%":
                out.append("%")
                continue
            if d not in _DIRECTIVES:
                raise TimeFormatError(f"time format {fmt!r}: unknown directive %{d}")
            regex, group = _DIRECTIVES[d]
            if group is None:
                out.append(f"(?:{regex})")
            else:
                if group in seen:
                    raise TimeFormatError(f"time format {fmt!r} names {group} twice")
                seen.add(group)
                out.append(f"(?P<{group}>{regex})")
            continue
        if ch == " ":
            out.append(" +")
        elif ch in ".," and fmt.startswith("%f", i + 1):
            out.append("[.,]")
        else:
            out.append(re.escape(ch))
        i += 1
    if "day" not in seen or ("month" not in seen and "monthname" not in seen):
        raise TimeFormatError(f"time format {fmt!r} needs a day (%d) and a month (%m or %b)")
    if "hour" not in seen and "hour12" not in seen:
        raise TimeFormatError(f"time format {fmt!r} needs an hour (%H or %I)")
    if ("hour12" in seen) != ("ampm" in seen):
        raise TimeFormatError(f"time format {fmt!r}: %I and %p go together")
    zoned = "offset" in seen or "zonename" in seen
    if zoned and "year" not in seen and "year2" not in seen:
        raise TimeFormatError(f"time format {fmt!r} has a zone but no year: the time cannot be placed")
    return re.compile("".join(out) + r"\Z", re.IGNORECASE), zoned


def _from_groups(g: dict[str, str | None], fixed: tzinfo | None) -> datetime | None:
    year_text, year2 = g.get("year"), g.get("year2")
    if year_text is not None:
        year, yearless = int(year_text), False
    elif year2 is not None:
        y = int(year2)
        year, yearless = (2000 + y if y < 69 else 1900 + y), False
    else:
        year, yearless = PLACEHOLDER_YEAR, True
    name = g.get("monthname")
    if name is not None:
        found = MONTH_NAMES.get(name.rstrip(".").lower())
        if found is None:
            return None
        month = found
    else:
        month = int(g["month"] or 0)
    hour12 = g.get("hour12")
    if hour12 is not None:
        hour = int(hour12) % 12 + (12 if (g["ampm"] or "").lower() == "pm" else 0)
    else:
        hour = int(g["hour"] or 0)
    fraction = g.get("fraction")
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    second = int(g.get("second") or 0)
    zone: tzinfo | None = fixed
    offset, zonename = g.get("offset"), g.get("zonename")
    if offset is not None:
        zone = _offset(offset)
        if zone is None:
            return None
    elif zonename is not None:
        zone = zone_named(zonename) or fixed  # an ambiguous abbreviation: the default zone
    try:
        parts = (year, month, int(g["day"] or 0), hour, int(g.get("minute") or 0), min(second, 59), micro)
        if yearless:
            return YearlessTime(*parts)
        return datetime(*parts, tzinfo=zone)
    except ValueError:
        return None


def _iso(fixed: tzinfo | None) -> Parser:
    def parse(text: str) -> datetime | None:
        if "," in text:
            text = text.replace(",", ".", 1)
        if " " in text[-7:]:  # "2013-06-15 11:19:33 +0200": the offset written after a space
            text = _SPACED_ZONE.sub(r"\1", text)
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            return None
        return ts.replace(tzinfo=fixed) if ts.tzinfo is None and fixed is not None else ts

    return parse


def _epoch(divisor: int) -> Parser:
    def parse(text: str) -> datetime | None:
        try:
            value = float(text) / divisor if divisor != 1 or "." in text else int(text)
            return datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError):
            return None

    return parse


def _tai64n(text: str) -> datetime | None:
    """daemontools/multilog ``@4000000063c1a2b40c8e1f30``: 16 hex digits of seconds, 8 of nanoseconds."""
    digits = text.removeprefix("@")
    if len(digits) != 24:
        return None
    try:
        seconds = int(digits[:16], 16) - _TAI64_BASE
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=int(digits[16:], 16) // 1000)
    except (ValueError, OverflowError, OSError):
        return None


def _cached(parse: Parser) -> Parser:
    cache: dict[str, datetime | None] = {}

    def cached(text: str) -> datetime | None:
        try:
            return cache[text]
        except KeyError:
            pass
        found = parse(text)
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[text] = found
        return found

    return cached


def compile_time_format(fmt: str, zone: str | None = None) -> Parser:
    """A parser for time texts in ``fmt``; ``zone`` is the zone of texts that carry none.

    TimeFormatError when the format or the zone is not one.
    """
    fixed: tzinfo | None = None
    if zone is not None:
        fixed = zone_named(zone)
        if fixed is None:
            raise TimeFormatError(f"unknown time zone {zone!r}")
    if fmt == "iso8601":
        return _cached(_iso(fixed))
    if fmt == "tai64n":
        return _tai64n
    if fmt.startswith("epoch"):
        divisors = {"epoch": 1, "epoch_ms": 1000, "epoch_us": 1_000_000, "epoch_ns": 1_000_000_000}
        if fmt not in divisors:
            raise TimeFormatError(f"unknown time format {fmt!r} (one of {', '.join(_SPECIAL)} or a %-format)")
        return _epoch(divisors[fmt])
    if fmt == "syslog":
        fmt = "%b %d %H:%M:%S"
    if "%" not in fmt:
        raise TimeFormatError(f"unknown time format {fmt!r} (one of {', '.join(_SPECIAL)} or a %-format)")
    regex, _ = _compile_strftime(fmt)
    match = regex.match

    def parse(text: str) -> datetime | None:
        m = match(text.strip())
        return _from_groups(m.groupdict(), fixed) if m is not None else None

    return _cached(parse)
