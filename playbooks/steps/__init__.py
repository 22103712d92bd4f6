"""The step actions a playbook may use: one module each, all registered here (the one place).

To add an action, write a module with ``Params`` and ``run`` and add one line to ``ACTIONS``.
"""

from __future__ import annotations

from playbooks.steps import (
    assign,
    enrich,
    escalate_after,
    notify,
    open_incident,
    require_approval,
    set_severity,
)
from playbooks.steps.base import StepSpec

ACTIONS: dict[str, StepSpec] = {
    spec.name: spec
    for spec in (
        open_incident.SPEC,
        set_severity.SPEC,
        assign.SPEC,
        notify.SPEC,
        escalate_after.SPEC,
        enrich.SPEC,
        require_approval.SPEC,
    )
}
