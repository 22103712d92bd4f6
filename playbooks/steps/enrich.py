"""``enrich``: add context to the incident: who owns the addresses and hosts, and earlier incidents.

For each observable of the alert (addresses, hosts from its group key and details) it looks up
the owner and network in the inventory, and finds earlier incidents that showed the same value.
Nothing outside Sentinel is contacted.

Everything goes through the scope of the incident it serves, because the incident's institution
reads the result (timeline, audit trail, incident page) and chooses, by what it sends, which
observables an alert carries:

- the **timeline entry** (written by the runner, keyed by this step) and the run record name only
  the incident's own institution: its own networks and hosts, and its own earlier incidents. An
  address or host of another institution reads exactly like one in nobody's inventory ("not in
  this institution's inventory"): no name, no network, not even that someone owns it.
- what only the SOC may know, which observables belong to **other institutions** and which of
  their incidents showed them (lateral movement between institutions, a shared attacker), goes to
  a separate document of no institution (``state`` collection, ``kind: soc_context``), which only
  SOC roles can read (``sentinel incidents show`` prints it). An incident of no institution is read
  by the SOC alone, so its timeline may name any institution.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from pydantic import Field, field_validator

from playbooks.steps.base import StepContext, StepOutcome, StepParams, StepSpec
from playbooks.steps.fields import alert_value
from sentinel.durations import parse_duration
from sentinel.errors import ConflictError
from sentinel.events import format_timestamp
from sentinel.inventory import Institution, Inventory
from sentinel.store.base import FieldFilter, Scope, Store

_MAX_SCANNED = 500  # earlier incidents looked at per run: bounds the work
SOC_CONTEXT = "state"  # collection of the SOC-only context documents
SOC_CONTEXT_KIND = "soc_context"


class Params(StepParams):
    fields: list[str] = Field(
        default=["source.ip", "destination.ip", "host.hostname", "host.name", "user.name"], min_length=1
    )
    previous: str = "90d"  # how far back to look for earlier incidents
    max_previous: int = Field(default=10, ge=0, le=100)

    @field_validator("previous")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


def _visible(owner: Institution | None, institution_id: str | None) -> Institution | None:
    """The owner as the incident's readers may learn it: another institution's is nobody's."""
    if owner is None or institution_id is None or owner.id == institution_id:
        return owner
    return None


def describe_address(inventory: Inventory, address: str, institution_id: str | None = None) -> str:
    """What an address is, as seen from ``institution_id``'s incident (None: an incident the SOC alone reads)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address}: not an address"
    owner = _visible(inventory.owner_of_address(address), institution_id)
    if owner is None:
        where = "this institution's inventory" if institution_id else "the inventory"
        scope = f"external (not in {where})" if ip.is_global else f"private or reserved range, not in {where}"
        return f"{address}: {scope}"
    network = next((n for n in owner.parsed_networks() if ip in n), None)
    return f"{address}: {owner.name} ({owner.id}), network {network}"


def describe_host(inventory: Inventory, host: str, institution_id: str | None = None) -> str:
    owner = _visible(inventory.owner_of_host(host), institution_id)
    if owner is None:
        return f"{host}: not in this institution's inventory" if institution_id else f"{host}: not in the inventory"
    return f"{host}: {owner.name} ({owner.id})"


def previous_incidents(
    ctx: StepContext, values: set[str], days: timedelta, limit: int, scope: Scope
) -> list[tuple[str, str | None]]:
    """(id, institution) of earlier incidents (not this one) within ``scope`` with any of these observables."""
    if not values or limit == 0:
        return []
    since = format_timestamp(ctx.now() - days)
    docs = ctx.services.store.find_documents(
        "incidents",
        scope,
        [FieldFilter("created_at", "gte", since)],
        sort="created_at",
        descending=True,
        limit=_MAX_SCANNED,
    )
    found: list[tuple[str, str | None]] = []
    for doc in docs:
        if doc.id == ctx.state.incident_id:
            continue
        seen = {str(o.get("value")) for o in doc.body.get("observables") or [] if isinstance(o, dict)}
        if seen & values:
            found.append((doc.id, doc.institution_id))
            if len(found) >= limit:
                break
    return found


def soc_context(ctx: StepContext, params: Params, values: dict[str, str], institution_id: str) -> list[str]:
    """What the SOC alone may read about an institution's incident: other institutions' observables
    and incidents. Looks across every institution, so its result never goes where the institution reads."""
    inventory = ctx.services.inventory
    lines: list[str] = []
    for text, name in values.items():
        owner = inventory.owner_of_address(text) if name.endswith(".ip") else inventory.owner_of_host(text)
        if owner is not None and owner.id != institution_id:
            lines.append(f"{text} is in the inventory of {owner.name} ({owner.id})")
    everywhere = Scope.everything()
    days = parse_duration(params.previous)
    found = previous_incidents(ctx, set(values), days, _MAX_SCANNED, everywhere)
    others = [(i, inst) for i, inst in found if inst != institution_id][: params.max_previous]
    if others:
        lines.append(
            "earlier incidents of other institutions with the same observables: "
            + ", ".join(f"{i} ({inst or 'no institution'})" for i, inst in others)
        )
    return lines


def _keep_soc_context(ctx: StepContext, lines: list[str]) -> None:
    """One SOC-only document per run and step (``institution_id`` None: no institution's scope sees it)."""
    doc_id = f"soc-context:{ctx.playbook_id}:{ctx.alert.id}:{ctx.step_key}"
    body = {
        "kind": SOC_CONTEXT_KIND,
        "incident_id": ctx.state.incident_id,
        "step": ctx.step_key,
        "alert_id": ctx.alert.id,
        "lines": lines,
        "at": format_timestamp(ctx.now()),
    }
    try:
        ctx.services.store.create_document(SOC_CONTEXT, doc_id, body, institution_id=None)
    except ConflictError:
        pass  # written by an earlier run of this step: steps are idempotent


def run(ctx: StepContext, params: Params) -> StepOutcome:
    inventory = ctx.services.inventory
    # The incident is opened from this alert and is its institution's (incidents never mix institutions).
    institution_id = ctx.alert.institution_id
    scope = Scope.institution(institution_id) if institution_id else Scope.everything()
    lines: list[str] = []
    values: dict[str, str] = {}
    for name in params.fields:
        value = alert_value(ctx.alert, name)
        if value is None or isinstance(value, dict | list):
            continue
        text = str(value)[:256]
        values.setdefault(text, name)
        if name.endswith(".ip"):
            lines.append(describe_address(inventory, text, institution_id))
        elif name.endswith(("hostname", "host.name", "domain")):
            lines.append(describe_host(inventory, text, institution_id))
    days = parse_duration(params.previous)
    earlier = [i for i, _ in previous_incidents(ctx, set(values), days, params.max_previous, scope)]
    if earlier:
        lines.append(f"earlier incidents with the same observables: {', '.join(earlier)}")
    elif values:
        lines.append(f"no earlier incident with these observables in {params.previous}")
    if not lines:
        return StepOutcome.skipped("no address, host or user in the alert to enrich")
    if institution_id is not None:
        soc_lines = soc_context(ctx, params, values, institution_id)
        if soc_lines and not ctx.dry_run:
            _keep_soc_context(ctx, soc_lines)
    detail = "; ".join(lines)
    ctx.state.data["enrichment"] = lines
    return StepOutcome.done(detail, previous_incidents=earlier)


def soc_notes(store: Store, incident_id: str, scope: Scope) -> list[str]:
    """The SOC-only context lines kept for an incident, as ``scope`` may read them (a SOC scope: all;
    an institution's: none, since the notes belong to no institution)."""
    docs = store.find_documents(
        SOC_CONTEXT,
        scope,
        [FieldFilter("kind", "eq", SOC_CONTEXT_KIND), FieldFilter("incident_id", "eq", incident_id)],
        sort="at",
        limit=100,
    )
    return [str(line) for doc in docs for line in doc.body.get("lines") or []]


SPEC = StepSpec(
    name="enrich",
    params=Params,
    run=run,
    needs_incident=False,
    description="owner and network of addresses and hosts (inventory), earlier incidents with the same "
    "observables, within the incident's institution; other institutions' only in a SOC-only note",
)
