"""The audit trail: append-only ``audit`` documents, one per changed field, written with the change.

Entries are created (never replaced) in the same ``write_documents`` call as the incident change,
so on SQLite a change and its audit entries exist together or not at all. Ids sort in write order
within an incident (change number, then position in the change), so the trail reads back in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentinel.errors import SentinelError
from sentinel.events import format_timestamp
from sentinel.incidents.model import AuditEntry
from sentinel.store.base import DocumentWrite, FieldFilter, Scope, Store

COLLECTION = "audit"
MAX_ENTRIES = 10_000  # read back at most this many entries of one incident

# "analyst:ana", "playbook:brute_force", "contact:ict@moh.go.tz", "system:sla"
_ACTOR = re.compile(r"^[a-z][a-z_]{0,31}:\S.{0,199}$")


def check_actor(actor: str) -> str:
    if not isinstance(actor, str) or not _ACTOR.fullmatch(actor):
        raise SentinelError(
            f"invalid actor {actor!r}: use kind:name, e.g. analyst:ana, playbook:brute_force, system:sla"
        )
    return actor


@dataclass(frozen=True, slots=True)
class Change:
    """One field's change, before it becomes an audit entry."""

    action: str
    field: str
    old: Any = None
    new: Any = None
    note: str | None = None


def audit_writes(
    incident_id: str,
    institution_id: str | None,
    changes: Iterable[Change],
    *,
    actor: str,
    now: datetime,
    seq: int,
) -> list[DocumentWrite]:
    """Creates for one change's entries. ``seq`` is the incident's new ``audit_seq``: the
    compare-and-swap on the incident makes it unique, so entry ids never collide and sort in order."""
    at = format_timestamp(now)
    writes = []
    for n, change in enumerate(changes):
        entry = AuditEntry(
            id=f"{incident_id}.{seq:09d}.{n:04d}",
            incident_id=incident_id,
            at=at,
            actor=actor,
            action=change.action,
            field=change.field,
            old=change.old,
            new=change.new,
            note=change.note,
        )
        writes.append(DocumentWrite(COLLECTION, entry.id, entry.model_dump(mode="json"), institution_id=institution_id))
    return writes


def read_audit(store: Store, incident_id: str, scope: Scope) -> list[AuditEntry]:
    docs = store.find_documents(
        COLLECTION, scope, [FieldFilter("incident_id", "eq", incident_id)], sort="id", limit=MAX_ENTRIES
    )
    return [AuditEntry.model_validate(d.body) for d in docs]
