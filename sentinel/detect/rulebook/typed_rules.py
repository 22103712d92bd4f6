"""Rule types beyond Sigma, written as YAML next to the Sigma rules (``type: ...``).

* ``silence``: an institution's expected log source (``expected_sources`` in the inventory) sent
  nothing for its ``silence_minutes`` → alert; the alert is resolved when the source resumes.
* ``new_value``: the first time a value of ``field`` is seen for a key (``key``: fields such as
  ``host.hostname``) within ``history`` (e.g. a new admin user on a host). A rule learns silently
  for ``learn`` after its first run, so a new installation is not flooded.
* ``threshold``: a metric (count, sum, min, max, avg, cardinality) of any field per ``group_by``
  within ``timespan`` compared with a condition - for what a Sigma correlation cannot say, e.g.
  the largest clock skew of a host. A few derived fields exist (``DERIVED_FIELDS``).

``where`` is a list of store field filters (``{field, op, value}``, ops as in ``FieldFilter``)
that select the events a rule looks at; they run inside the store.

Example::

    type: threshold
    id: 0b8a5f34-...
    title: Clock skew between a host and Sentinel
    level: low
    tags: [sentinel.control.log-04]
    datasets: [system.auth, system.syslog]
    group_by: [host.hostname]
    timespan: 15m
    metric: {op: max, field: derived.clock_skew_seconds}
    condition: {gt: 60}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sentinel.durations import duration_seconds
from sentinel.errors import Location, RuleError
from sentinel.events import get_field, parse_timestamp
from sentinel.store.base import FieldFilter, FilterOp

TYPED_RULE_KINDS = ("silence", "new_value", "threshold")
_FIELD_OPS = set(get_args(FilterOp))


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
    event = doc.get("event")
    if type(event) is dict and "event.created" not in doc:  # get_field's answer, read directly
        created = event.get("created")
    else:
        created = get_field(doc, "event.created")
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


def read_field(doc: Mapping[str, Any], name: str) -> Any:
    derived = DERIVED_FIELDS.get(name)
    return derived(doc) if derived is not None else get_field(doc, name)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Where(_Strict):
    field: str
    op: str = "eq"
    value: Any = None

    @field_validator("op")
    @classmethod
    def _known_op(cls, value: str) -> str:
        if value not in _FIELD_OPS:
            raise ValueError(f"unknown op {value!r}; known: {', '.join(sorted(_FIELD_OPS))}")
        return value

    def to_filter(self) -> FieldFilter:
        return FieldFilter(self.field, self.op, self.value)  # type: ignore[arg-type]


class Condition(_Strict):
    """A comparison with a number: exactly one of gt/gte/lt/lte/eq."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    eq: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Condition:
        given = [k for k in ("gt", "gte", "lt", "lte", "eq") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a condition has exactly one of gt, gte, lt, lte, eq")
        return self

    def holds(self, value: float) -> bool:
        if self.gt is not None:
            return value > self.gt
        if self.gte is not None:
            return value >= self.gte
        if self.lt is not None:
            return value < self.lt
        if self.lte is not None:
            return value <= self.lte
        return value == self.eq

    def describe(self) -> str:
        for key, sign in (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<="), ("eq", "=")):
            value = getattr(self, key)
            if value is not None:
                return f"{sign} {value:g}"
        return "?"


class _TypedBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    name: str | None = None
    title: str = Field(min_length=1)
    description: str = ""
    level: Literal["informational", "low", "medium", "high", "critical"] = "medium"
    tags: tuple[str, ...] = ()
    status: str | None = None
    author: str | None = None
    references: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    where: tuple[Where, ...] = ()

    @property
    def filters(self) -> tuple[FieldFilter, ...]:
        return tuple(w.to_filter() for w in self.where)


class SilenceRule(_TypedBase):
    kind: Literal["silence"] = Field("silence", alias="type")
    sources: tuple[str, ...] = ()  # names of expected sources; empty = every expected source


class NewValueRule(_TypedBase):
    kind: Literal["new_value"] = Field("new_value", alias="type")
    field: str
    key: tuple[str, ...] = ()
    history: int = 30 * 86400
    learn: int = 86400

    @field_validator("history", "learn", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        return duration_seconds(value)


Metric = Literal["count", "sum", "min", "max", "avg", "cardinality"]


class MetricSpec(_Strict):
    op: Metric = "count"
    field: str | None = None

    @model_validator(mode="after")
    def _field_needed(self) -> MetricSpec:
        if self.op != "count" and not self.field:
            raise ValueError(f"metric {self.op!r} needs a field")
        return self


class ThresholdRule(_TypedBase):
    kind: Literal["threshold"] = Field("threshold", alias="type")
    group_by: tuple[str, ...] = ()
    timespan: int = 900
    metric: MetricSpec = MetricSpec()
    condition: Condition

    @field_validator("timespan", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        seconds = duration_seconds(value)
        if seconds < 1:
            raise ValueError("timespan must be at least 1 second")
        return seconds


TypedRule = SilenceRule | NewValueRule | ThresholdRule
_MODELS: dict[str, type[SilenceRule] | type[NewValueRule] | type[ThresholdRule]] = {
    "silence": SilenceRule,
    "new_value": NewValueRule,
    "threshold": ThresholdRule,
}


def parse_typed_rule(body: dict[str, Any], path: Path | None, lines: Mapping[str, int]) -> TypedRule:
    """Validate one typed rule document; errors name the file, line and key."""
    where = str(path) if path is not None else "<string>"
    kind = body.get("type")
    model = _MODELS.get(str(kind))
    if model is None:
        raise RuleError(f"unknown rule type {kind!r}; known: {', '.join(TYPED_RULE_KINDS)}", Location(where))
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(str(p) for p in err.get("loc", ()))
        top = loc[0] if loc else ""
        msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid value")
        raise RuleError(msg, Location(where, lines.get(top, lines.get("")), ".".join(loc) or None)) from exc
