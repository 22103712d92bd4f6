"""``require_approval``: the following steps wait until an analyst approves.

The run stops here with status ``waiting``; ``sentinel playbooks approve INCIDENT STEP`` (or the
API) records the approval in the run record and the runner continues with the next step. An
approval is per run: each alert's run through the playbook is approved on its own.
"""

from __future__ import annotations

from pydantic import Field

from playbooks.steps.base import StepContext, StepOutcome, StepParams, StepSpec


class Params(StepParams):
    reason: str = Field(default="an analyst must approve the next steps", max_length=500)


def run(ctx: StepContext, params: Params) -> StepOutcome:
    approval = ctx.state.data.get("approvals", {}).get(ctx.step_key)
    if approval:
        return StepOutcome.done(f"approved by {approval['by']} at {approval['at']}")
    where = ctx.state.incident_id or "the incident"
    return StepOutcome.waiting(
        f"waiting for approval ({params.reason}): sentinel playbooks approve {where} {ctx.step_key}"
    )


SPEC = StepSpec(
    name="require_approval",
    params=Params,
    run=run,
    description="stop until an analyst approves (sentinel playbooks approve INCIDENT STEP)",
)
