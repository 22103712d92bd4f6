"""``enrich``: add context to the incident: who owns the addresses and hosts, and earlier incidents.

For each observable of the alert (addresses, hosts from its group key and details) it looks up
the owning institution and network in the inventory, and finds earlier incidents that showed the
same value. The result is written once on the incident's timeline (by the runner, keyed by this
step) and kept in the run record; nothing outside Sentinel is contacted.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from pydantic import Field, field_validator

from playbooks.steps.base import StepContext, StepOutcome, StepParams, StepSpec
from playbooks.steps.fields import alert_value
from sentinel.durations import parse_duration
from sentinel.events import format_timestamp
from sentinel.inventory import Inventory
from sentinel.store.base import FieldFilter, Scope

_MAX_SCANNED = 500  # earlier incidents looked at per run: bounds the work


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


def describe_address(inventory: Inventory, address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address}: not an address"
    owner = inventory.owner_of_address(address)
    if owner is None:
        scope = "external (not in the inventory)" if ip.is_global else "private or reserved range, not in the inventory"
        return f"{address}: {scope}"
    network = next((n for n in owner.parsed_networks() if ip in n), None)
    return f"{address}: {owner.name} ({owner.id}), network {network}"


def describe_host(inventory: Inventory, host: str) -> str:
    owner = inventory.owner_of_host(host)
    return f"{host}: {owner.name} ({owner.id})" if owner else f"{host}: not in the inventory"


def previous_incidents(ctx: StepContext, values: set[str], days: timedelta, limit: int) -> list[str]:
    """Ids of earlier incidents (not this one) with any of these observables, newest first."""
    if not values or limit == 0:
        return []
    since = format_timestamp(ctx.now() - days)
    docs = ctx.services.store.find_documents(
        "incidents",
        Scope.everything(),
        [FieldFilter("created_at", "gte", since)],
        sort="created_at",
        descending=True,
        limit=_MAX_SCANNED,
    )
    found: list[str] = []
    for doc in docs:
        if doc.id == ctx.state.incident_id:
            continue
        seen = {str(o.get("value")) for o in doc.body.get("observables") or [] if isinstance(o, dict)}
        if seen & values:
            found.append(doc.id)
            if len(found) >= limit:
                break
    return found


def run(ctx: StepContext, params: Params) -> StepOutcome:
    inventory = ctx.services.inventory
    lines: list[str] = []
    values: set[str] = set()
    for name in params.fields:
        value = alert_value(ctx.alert, name)
        if value is None or isinstance(value, dict | list):
            continue
        text = str(value)[:256]
        values.add(text)
        if name.endswith(".ip"):
            lines.append(describe_address(inventory, text))
        elif name.endswith(("hostname", "host.name", "domain")):
            lines.append(describe_host(inventory, text))
    earlier = previous_incidents(ctx, values, parse_duration(params.previous), params.max_previous)
    if earlier:
        lines.append(f"earlier incidents with the same observables: {', '.join(earlier)}")
    elif values:
        lines.append(f"no earlier incident with these observables in {params.previous}")
    if not lines:
        return StepOutcome.skipped("no address, host or user in the alert to enrich")
    detail = "; ".join(lines)
    ctx.state.data["enrichment"] = lines
    return StepOutcome.done(detail, previous_incidents=earlier)


SPEC = StepSpec(
    name="enrich",
    params=Params,
    run=run,
    needs_incident=False,
    description="owner and network of addresses and hosts (inventory), earlier incidents with the same observables",
)
