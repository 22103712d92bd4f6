"""``escalate_after``: unless the incident reached a state within a time, notify or raise its severity.

The step only sets a timer: one document per (incident, playbook, step) in the ``state``
collection, so a second alert on the same incident or a re-run finds it already set. The scheduled
escalation job (``playbooks.escalations``) fires due timers once, or cancels them when the
incident got far enough (e.g. acknowledged) in time.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import field_validator, model_validator

from playbooks.levels import SeverityName
from playbooks.steps.base import StepContext, StepOutcome, StepParams, StepSpec
from playbooks.steps.notify import Params as NotifyParams
from sentinel.durations import parse_duration
from sentinel.errors import ConflictError
from sentinel.events import format_timestamp

# The lifecycle in order: "reached acknowledged" also holds for investigating, resolved, closed...
STATE_ORDER = ("new", "acknowledged", "investigating", "contained", "resolved", "closed")
FINAL = ("false_positive", "duplicate")


class Params(StepParams):
    after: str  # 15m, 1h, ...
    unless: str = "acknowledged"  # the state the incident must have reached by then
    notify: NotifyParams | None = None
    raise_severity: SeverityName | None = None

    @field_validator("after")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError("'after' must be longer than zero")
        return value

    @field_validator("unless")
    @classmethod
    def _state(cls, value: str) -> str:
        if value not in STATE_ORDER:
            raise ValueError(f"unknown state {value!r}; use one of: {', '.join(STATE_ORDER)}")
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Params:
        if (self.notify is None) == (self.raise_severity is None):
            raise ValueError("give exactly one of 'notify' or 'raise_severity'")
        return self


def reached(state: str, wanted: str) -> bool:
    """Whether an incident in ``state`` has got at least as far as ``wanted``."""
    if state in FINAL:
        return True
    if state not in STATE_ORDER:
        return False
    return STATE_ORDER.index(state) >= STATE_ORDER.index(wanted)


def timer_id(incident_id: str, playbook_id: str, step_key: str) -> str:
    return f"playbook-escalation:{incident_id}:{playbook_id}:{step_key}"


def run(ctx: StepContext, params: Params) -> StepOutcome:
    delay = parse_duration(params.after)
    then = f"notify ({params.notify.template})" if params.notify else f"raise the severity to {params.raise_severity}"
    incident_id = ctx.state.incident_id
    if incident_id is None or ctx.dry_run:
        return StepOutcome.done(f"would {then} after {params.after} unless the incident is {params.unless} by then")
    now = ctx.now()
    body = {
        "kind": "playbook_escalation",
        "incident_id": incident_id,
        "institution_id": ctx.alert.institution_id,
        "playbook": ctx.playbook_id,
        "step_key": ctx.step_key,
        "alert_id": ctx.alert.id,
        "due_at": format_timestamp(now + delay),
        "unless": params.unless,
        "params": params.model_dump(mode="json"),
        "status": "pending",
        "created_at": format_timestamp(now),
        "detail": "",
    }
    doc_id = timer_id(incident_id, ctx.playbook_id, ctx.step_key)
    try:
        ctx.services.store.create_document("state", doc_id, body, institution_id=ctx.alert.institution_id)
    except ConflictError:
        return StepOutcome.skipped(f"the escalation of incident {incident_id} is already set")
    return StepOutcome.done(f"will {then} at {body['due_at']} unless the incident is {params.unless} by then")


SPEC = StepSpec(
    name="escalate_after",
    params=Params,
    run=run,
    description="after a time, unless the incident reached a state: notify or raise the severity",
)
