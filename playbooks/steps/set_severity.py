"""``set_severity``: set the incident's severity; by default only ever raises it.

Idempotent: when the incident already has this severity (or, with ``only_raise``, a higher one)
nothing is written.
"""

from __future__ import annotations

from playbooks.levels import SeverityName, level_rank
from playbooks.steps.base import StepContext, StepOutcome, StepParams, StepSpec
from sentinel.store.base import Scope


class Params(StepParams):
    severity: SeverityName
    only_raise: bool = True  # never lower a severity an analyst or an earlier step set higher


def apply_severity(ctx: StepContext, incident_id: str, severity: str, only_raise: bool) -> StepOutcome:
    incidents = ctx.services.incidents
    incident = incidents.get(incident_id, Scope.everything())
    current = incident.severity.value
    if current == severity or (only_raise and level_rank(current) >= level_rank(severity)):
        return StepOutcome.skipped(f"incident {incident_id} is already {current}")
    if ctx.dry_run:
        return StepOutcome.done(f"would change the severity of {incident_id} from {current} to {severity}")
    incidents.set_severity(incident_id, severity, actor=ctx.actor, scope=Scope.everything())
    return StepOutcome.done(f"severity {current} -> {severity}")


def run(ctx: StepContext, params: Params) -> StepOutcome:
    incident_id = ctx.state.incident_id
    if incident_id is None:  # dry run of a playbook whose incident does not exist yet
        return StepOutcome.done(f"would set the severity to {params.severity}")
    return apply_severity(ctx, incident_id, params.severity, params.only_raise)


SPEC = StepSpec(name="set_severity", params=Params, run=run, description="set (by default: raise) the severity")
