"""Narrowing a caller's scope to one institution (never widening it)."""

from __future__ import annotations

from sentinel.auth import Principal
from sentinel.errors import SentinelError
from sentinel.inventory import Inventory
from sentinel.store.base import Scope

# One answer for an unknown institution and another institution's: ids are not confirmed.
NOT_IN_SCOPE = "no institution {institution!r} in your scope"


def scope_for(principal: Principal, institution: str | None, inventory: Inventory) -> Scope:
    """The caller's own scope, narrowed to one institution when asked."""
    scope = principal.scope
    if institution is None or institution == "":
        return scope
    if inventory.get(institution) is None or not scope.allows(institution):
        raise SentinelError(NOT_IN_SCOPE.format(institution=institution))
    return Scope.institution(institution)
