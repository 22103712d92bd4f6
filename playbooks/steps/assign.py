"""``assign``: give the incident to a named analyst, or to the next one of an on-call list.

Round-robin keeps one counter per playbook step in the store (compare-and-swap), so several
workers share one rotation. An incident that already has an assignee is left alone: the step
never takes work away from someone.
"""

from __future__ import annotations

from pydantic import model_validator

from playbooks.steps.base import StepContext, StepOutcome, StepParams, StepSpec
from sentinel.errors import ConflictError, NotFoundError
from sentinel.store.base import Scope

_COLLECTION = "state"
_RETRIES = 5


class Params(StepParams):
    to: str | None = None  # a named analyst
    on_call: list[str] | None = None  # round-robin over these; an empty list or none: incidents.on_call

    @model_validator(mode="after")
    def _one_target(self) -> Params:
        if self.to is not None and self.on_call:
            raise ValueError("give either 'to' (one analyst) or 'on_call' (a rotation), not both")
        if self.to is not None and not self.to.strip():
            raise ValueError("'to' is an analyst name")
        return self


def next_on_call(ctx: StepContext, names: list[str]) -> str:
    """The next name of the rotation (a counter per playbook step, shared by every worker)."""
    store = ctx.services.store
    doc_id = f"playbook-rotation:{ctx.playbook_id}:{ctx.step_key}"
    for _ in range(_RETRIES):
        current = store.get_document(_COLLECTION, doc_id, Scope.everything())
        turn = int(current.body.get("next", 0)) if current is not None else 0
        body = {"kind": "playbook_rotation", "next": turn + 1}
        try:
            if current is None:
                store.create_document(_COLLECTION, doc_id, body)
            else:
                store.replace_document(_COLLECTION, doc_id, body, expected_version=current.version)
        except (ConflictError, NotFoundError):
            continue  # another worker took a turn at the same moment
        return names[turn % len(names)]
    raise ConflictError(f"rotation {doc_id} kept changing; gave up after {_RETRIES} attempts")


def run(ctx: StepContext, params: Params) -> StepOutcome:
    names = [params.to] if params.to else (params.on_call or list(ctx.services.settings.incidents.on_call))
    if not names:
        # Not a failure: a SOC without an on-call list assigns by hand.
        return StepOutcome.skipped("nobody to assign: no 'to', 'on_call' or incidents.on_call configured")
    incident_id = ctx.state.incident_id
    if incident_id is None:
        return StepOutcome.done(f"would assign to {names[0] if params.to else 'the next of ' + ', '.join(names)}")
    incidents = ctx.services.incidents
    incident = incidents.get(incident_id, Scope.everything())
    if incident.assignee:
        return StepOutcome.skipped(f"already assigned to {incident.assignee}")
    if ctx.dry_run:
        who = names[0] if params.to else f"the next of {', '.join(names)}"
        return StepOutcome.done(f"would assign {incident_id} to {who}")
    assignee = names[0] if params.to else next_on_call(ctx, names)
    incidents.assign(incident_id, assignee, actor=ctx.actor, scope=Scope.everything())
    return StepOutcome.done(f"assigned to {assignee}", assignee=assignee)


SPEC = StepSpec(name="assign", params=Params, run=run, description="assign to an analyst (named or round-robin)")
