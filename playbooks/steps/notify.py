"""``notify``: put notices in the outbox for the SOC or the institution's contacts, in their language.

The notice factory renders each notice completely (institution notices in the institution's
language, with a signed acknowledgement link) and gives it a deterministic id from the incident
and the reason (this playbook step, and the alert with ``once_per: alert``). Enqueueing the same
step again is therefore a ``ConflictError`` per notice, i.e. "already queued": a re-run sends
nothing twice. The incident exists before this step runs, so the worker never meets an orphan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, field_validator, model_validator

from playbooks.steps.base import StepContext, StepOutcome, StepParams, StepSpec
from sentinel.errors import ConflictError
from sentinel.notify.notice import COLLECTION as OUTBOX
from sentinel.notify.notice import Notice, notice_writes
from sentinel.notify.render import TEMPLATES
from sentinel.store.base import Scope, Store

log = logging.getLogger(__name__)

ContactRole = Literal["security", "ict_officer", "manager", "other"]


class Params(StepParams):
    to: Literal["soc", "institution"] = "soc"
    channel: Literal["email", "slack", "webhook"] | None = None  # default: slack for the SOC, email for institutions
    roles: list[ContactRole] = []  # institution contacts with these roles; empty: notify.contact_roles
    template: str = Field(default="incident_opened", pattern=r"^[a-z0-9_]{1,64}$")
    once_per: Literal["incident", "alert"] = "incident"  # a follow-up for every new alert, or one notice

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value not in TEMPLATES:
            raise ValueError(f"unknown notice template {value!r}; known: {', '.join(TEMPLATES)}")
        return value

    @model_validator(mode="after")
    def _channel_fits(self) -> Params:
        if self.to == "institution" and self.channel not in (None, "email"):
            raise ValueError("institution contacts are notified by email")
        if self.roles and self.to != "institution":
            raise ValueError("'roles' selects institution contacts: use it with to: institution")
        return self

    @property
    def resolved_channel(self) -> Literal["email", "slack", "webhook"]:
        return self.channel or ("slack" if self.to == "soc" else "email")


def enqueue(store: Store, notices: Sequence[Notice]) -> tuple[int, int]:
    """Write the notices that are not queued yet; returns (queued now, already queued)."""
    fresh = [n for n in notices if store.get_document(OUTBOX, n.id, Scope.everything()) is None]
    already = len(notices) - len(fresh)
    if not fresh:
        return 0, already
    try:
        store.write_documents(notice_writes(fresh))
        return len(fresh), already
    except ConflictError:
        pass  # another runner queued some at the same moment: write the rest one by one
    queued = 0
    for notice in fresh:
        try:
            store.write_documents(notice_writes([notice]))
            queued += 1
        except ConflictError:
            already += 1
    return queued, already


def build_notices(ctx: StepContext, params: Params, incident_id: str, reason: str) -> list[Notice]:
    incident = ctx.services.incidents.get(incident_id, Scope.everything())
    factory = ctx.services.notices
    if params.to == "soc":
        return list(factory.for_soc(incident, params.template, params.resolved_channel, reason=reason))
    notices = list(factory.for_institution(incident, params.template, reason=reason))
    if params.roles:
        institution = ctx.services.inventory.get(incident.institution_id or "")
        wanted = {c.email.lower() for c in (institution.contacts if institution else []) if c.role in params.roles}
        notices = [n for n in notices if n.recipient.lower() in wanted]
    return notices


def expected_recipients(ctx: StepContext, params: Params) -> str:
    """Who an institution notice would go to, read from the inventory (for dry runs)."""
    if params.to != "institution":
        return ""
    institution = ctx.services.inventory.get(ctx.alert.institution_id or "")
    if institution is None:
        return ""
    roles = set(params.roles or ctx.services.settings.notify.contact_roles) & set(
        ctx.services.settings.notify.contact_roles
    )
    emails = sorted({c.email for c in institution.contacts if c.role in roles})
    return ", ".join(f"{e} ({institution.language})" for e in emails)


def run(ctx: StepContext, params: Params) -> StepOutcome:
    incident_id = ctx.state.incident_id
    who = "the SOC" if params.to == "soc" else "the institution's contacts"
    if incident_id is None:  # dry run before the incident exists: say who it would be from the inventory
        return StepOutcome.done(
            f"would notify {expected_recipients(ctx, params) or who} by {params.resolved_channel} ({params.template})"
        )
    reason = f"{ctx.playbook_id}/{ctx.step_key}"
    if params.once_per == "alert":
        reason += f"/{ctx.alert.id}"
    notices = build_notices(ctx, params, incident_id, reason)
    if not notices:
        return StepOutcome.skipped(f"nobody to notify: {who} have no {params.resolved_channel} recipient")
    recipients = ", ".join(sorted({f"{n.recipient} ({n.language})" for n in notices}))
    if ctx.dry_run:
        return StepOutcome.done(f"would notify {recipients} by {params.resolved_channel} ({params.template})")
    queued, already = enqueue(ctx.services.store, notices)
    detail = f"{queued} notice(s) queued for {recipients} by {params.resolved_channel} ({params.template})"
    if already:
        detail += f"; {already} already queued"
    return StepOutcome.done(detail, notice_ids=[n.id for n in notices])


SPEC = StepSpec(
    name="notify",
    params=Params,
    run=run,
    description="queue notices (SOC channel or institution contacts, in their language) in the outbox",
)
