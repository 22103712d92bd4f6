"""``open_incident``: open an incident for the alert, or attach it to the open one with the same key.

The key is the institution plus the listed alert fields (default: the rule's group key, e.g. the
source address), so a brute force that goes on for hours is one incident with many alerts. Re-running
attaches an alert that is already attached: no change (the incident service makes that a no-op).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from playbooks.levels import SeverityName
from playbooks.steps.base import StepContext, StepOutcome, StepParams, StepSpec
from playbooks.steps.fields import incident_key, render_title
from sentinel.durations import parse_duration


class Params(StepParams):
    key: list[str] = Field(default=["group_key"], min_length=1)  # alert fields; "group_key" = the rule's group key
    window: str | None = None  # attach to an incident whose last alert is this recent; default incidents.attach_window
    title: str | None = Field(default=None, max_length=200)  # "{rule_title} from {source.ip}"; default the rule title
    severity: SeverityName | None = None  # default: the alert's severity

    @field_validator("window")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


def run(ctx: StepContext, params: Params) -> StepOutcome:
    alert = ctx.alert
    key = incident_key(alert, params.key)
    window = (
        parse_duration(params.window) if params.window else ctx.services.settings.incidents.attach_window
    ).total_seconds()
    title = render_title(params.title, alert) if params.title else None
    if ctx.dry_run:
        return StepOutcome.done(f"would open an incident (or attach to the open one) with key {key!r}")
    incident, created = ctx.services.incidents.open_or_attach(
        alert, key=key, window_seconds=int(window), title=title, severity=params.severity, actor=ctx.actor
    )
    ctx.state.incident_id = incident.id
    verb = "opened" if created else "attached the alert to"
    return StepOutcome.done(f"{verb} incident {incident.id}", incident_id=incident.id, created=created)


SPEC = StepSpec(
    name="open_incident",
    params=Params,
    run=run,
    needs_incident=False,
    description="open an incident for the alert, or attach it to the open incident with the same key",
)
