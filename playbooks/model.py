"""Playbook definitions: when a playbook applies to an alert, and its ordered steps.

A playbook is parsed once from YAML into these typed objects; unknown keys are refused. Step
parameters are validated by the action's own model (``playbooks.steps.ACTIONS``), so a typo in
a step is reported with the file, line and key at load, not when an alert arrives at 3 a.m.
Runtime state (which steps ran for which alert) lives in the store, never in these objects.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from playbooks.alert_fields import alert_field
from playbooks.levels import SeverityName, level_rank
from playbooks.steps import ACTIONS
from playbooks.steps.base import StepParams

_PLAYBOOK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FieldOp = Literal["eq", "neq", "in", "not_in", "glob", "cidr", "exists", "missing", "gt", "gte", "lt", "lte"]


class FieldCondition(_Strict):
    """A condition on one field of the alert document, e.g. ``group_key.source.ip``, ``count``."""

    field: str = Field(min_length=1)
    op: FieldOp = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> FieldCondition:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in ("exists", "missing"):
            return self
        if self.value is None:
            raise ValueError(f"op {self.op!r} needs a value")
        if self.op == "cidr":
            try:
                ipaddress.ip_network(str(self.value), strict=False)
            except ValueError as exc:
                raise ValueError(f"not a network: {self.value!r}") from exc
        if self.op in ("gt", "gte", "lt", "lte") and not isinstance(self.value, int | float | str):
            raise ValueError(f"op {self.op!r} needs a number or a string")
        return self

    def holds(self, alert: Mapping[str, Any]) -> bool:
        found, value = alert_field(alert, self.field)
        if self.op == "exists":
            return found and value is not None
        if self.op == "missing":
            return not found or value is None
        if not found or value is None:
            return self.op in ("neq", "not_in")
        return _compare(self.op, value, self.value)


def _compare(op: str, actual: Any, wanted: Any) -> bool:
    if isinstance(actual, list):  # a multi-valued field holds when any value does (neq: when none is equal)
        if op in ("neq", "not_in"):
            return all(_compare(op, item, wanted) for item in actual)
        return any(_compare(op, item, wanted) for item in actual)
    if op == "eq":
        return bool(actual == wanted or str(actual) == str(wanted))
    if op == "neq":
        return not (actual == wanted or str(actual) == str(wanted))
    if op == "in":
        return any(actual == w or str(actual) == str(w) for w in wanted)
    if op == "not_in":
        return not any(actual == w or str(actual) == str(w) for w in wanted)
    if op == "glob":
        return fnmatch.fnmatchcase(str(actual).lower(), str(wanted).lower())
    if op == "cidr":
        try:
            return ipaddress.ip_address(str(actual)) in ipaddress.ip_network(str(wanted), strict=False)
        except ValueError:
            return False
    try:  # ordering: numbers as numbers, anything else as text (ISO timestamps order as text)
        if isinstance(wanted, int | float) and not isinstance(wanted, bool):
            a, w = float(actual), float(wanted)
            return {"gt": a > w, "gte": a >= w, "lt": a < w, "lte": a <= w}[op]
        s, t = str(actual), str(wanted)
        return {"gt": s > t, "gte": s >= t, "lt": s < t, "lte": s <= t}[op]
    except (TypeError, ValueError):
        return False


class When(_Strict):
    """Every given criterion must hold; within a list, any entry may match."""

    rules: list[str] = []  # rule ids or names (names are resolved with the rule pack)
    tags: list[str] = []  # globs over the alert's tags, e.g. attack.credential_access, sentinel.control.*
    severity_at_least: SeverityName | None = None
    institutions: list[str] = []  # institution ids; empty: any (including unattributed alerts)
    fields: list[FieldCondition] = []

    @field_validator("tags")
    @classmethod
    def _lower_tags(cls, values: list[str]) -> list[str]:
        return [v.lower() for v in values]


class Step(_Strict):
    """One step: its key (for idempotency and approvals) and the action's validated parameters."""

    key: str
    action: str
    params: StepParams
    line: int | None = None

    @property
    def needs_incident(self) -> bool:
        return ACTIONS[self.action].needs_incident


class Playbook(_Strict):
    id: str
    title: str
    description: str = ""
    enabled: bool = True
    # The default playbook runs only for alerts that no other enabled playbook matched.
    default: bool = False
    when: When = When()
    steps: list[Step]
    path: Path | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _PLAYBOOK_ID.match(value):
            raise ValueError("a playbook id is lowercase letters, digits, '-' or '_' (at most 63)")
        return value

    @property
    def actor(self) -> str:
        return f"playbook:{self.id}"

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    def matches(self, alert: Mapping[str, Any], rule_ids: frozenset[str]) -> bool:
        """Whether this playbook applies to an alert document (``rule_ids``: ``when.rules`` resolved)."""
        when = self.when
        if when.rules and str(alert.get("rule_id")) not in rule_ids:
            return False
        if when.tags:
            tags = [str(t).lower() for t in alert.get("tags") or ()]
            if not any(fnmatch.fnmatchcase(tag, pattern) for pattern in when.tags for tag in tags):
                return False
        if when.severity_at_least and level_rank(alert.get("severity", "")) < level_rank(when.severity_at_least):
            return False
        if when.institutions and alert.get("institution_id") not in when.institutions:
            return False
        return all(cond.holds(alert) for cond in when.fields)
