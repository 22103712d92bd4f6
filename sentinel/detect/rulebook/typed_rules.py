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

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sentinel.durations import duration_seconds
from sentinel.errors import Location, RuleError
from sentinel.store.base import FieldFilter, FilterOp

TYPED_RULE_KINDS = ("silence", "new_value", "threshold")
_FIELD_OPS = set(get_args(FilterOp))


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
