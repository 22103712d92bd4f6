"""What every step action gets and returns: its parameters model, the run context, the outcome.

A step action is one module with a ``Params`` model (its YAML keys, validated at load) and a
``run(ctx, params) -> StepOutcome`` function, registered in ``playbooks.steps.ACTIONS``. A step
must be idempotent: run twice for the same alert it changes nothing the second time. With
``ctx.dry_run`` it writes nothing and says what it would do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from sentinel.config import Settings
from sentinel.detect.alerts import Alert
from sentinel.inventory import Inventory
from sentinel.store.base import Store

if TYPE_CHECKING:
    from sentinel.incidents import IncidentService
    from sentinel.notify.factory import NoticeFactory

StepStatus = Literal["done", "waiting", "skipped", "failed"]


class StepParams(BaseModel):
    """Base of every action's parameters: strict, so an unknown key is an error with its line."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    status: StepStatus
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def done(cls, detail: str, **data: Any) -> StepOutcome:
        return cls("done", detail, data)

    @classmethod
    def skipped(cls, detail: str) -> StepOutcome:
        return cls("skipped", detail)

    @classmethod
    def waiting(cls, detail: str) -> StepOutcome:
        return cls("waiting", detail)


@dataclass(frozen=True)
class Services:
    """The parts of Sentinel steps act through; built once by the runner's owner."""

    store: Store
    settings: Settings
    inventory: Inventory
    incidents: IncidentService
    notices: NoticeFactory
    clock: Callable[[], datetime]


@dataclass
class RunState:
    """What earlier steps of this run produced (the incident) and recorded data."""

    incident_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepContext:
    services: Services
    playbook_id: str
    alert: Alert
    state: RunState
    step_key: str
    dry_run: bool = False

    @property
    def actor(self) -> str:
        return f"playbook:{self.playbook_id}"

    def now(self) -> datetime:
        return self.services.clock()


StepRun = Callable[[StepContext, Any], StepOutcome]


@dataclass(frozen=True, slots=True)
class StepSpec:
    """A registered action: its parameters model, what it does, and whether it needs an incident."""

    name: str
    params: type[StepParams]
    run: StepRun
    needs_incident: bool = True
    description: str = ""
