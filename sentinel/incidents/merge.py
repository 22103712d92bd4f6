"""Merging incidents: the sources' alerts, observables and comments move to the target, and the
sources become ``duplicate`` with ``merged_into``. One ``write_documents`` call with compare-and-swap
on every incident involved, plus audit entries on each: a merge happens completely or not at all
(SQLite), and any concurrent change to one of them makes it fail with "reload and try again".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sentinel.errors import ConflictError, SentinelError
from sentinel.events import format_timestamp
from sentinel.incidents import lifecycle as lc
from sentinel.incidents import observables as obs
from sentinel.incidents.audit import Change, audit_writes, check_actor
from sentinel.incidents.model import COLLECTION, Incident, IncidentState, allowed_transitions
from sentinel.store.base import DocumentWrite, Scope

if TYPE_CHECKING:
    from sentinel.incidents.service import IncidentService

MAX_SOURCES = 50
_FINAL = (IncidentState.CLOSED, IncidentState.FALSE_POSITIVE, IncidentState.DUPLICATE)


def merge_incidents(
    service: IncidentService,
    target_id: str,
    source_ids: Sequence[str],
    *,
    actor: str,
    scope: Scope,
    expected_versions: Mapping[str, str] | None = None,
) -> tuple[Incident, list[Incident]]:
    """``expected_versions`` (incident id → version the person saw) are the versions the writes
    compare against; by default, the versions just read."""
    check_actor(actor)
    seen = dict(expected_versions or {})
    wanted = list(dict.fromkeys(source_ids))
    if not wanted:
        raise SentinelError("name at least one incident to merge into the target")
    if len(wanted) > MAX_SOURCES:
        raise SentinelError(f"at most {MAX_SOURCES} incidents can be merged at once")
    if target_id in wanted:
        raise SentinelError(f"incident {target_id} cannot be merged into itself")
    target = service.get(target_id, scope)
    sources = [service.get(source_id, scope) for source_id in wanted]
    if target.state in _FINAL:
        raise SentinelError(f"cannot merge into incident {target.id}: it is {target.state.value}")
    for source in sources:
        if IncidentState.DUPLICATE not in allowed_transitions(source.state):
            raise SentinelError(
                f"incident {source.id} is {source.state.value}: only open incidents can be merged into another"
            )
        if source.institution_id != target.institution_id:
            raise SentinelError(
                f"incident {source.id} belongs to {source.institution_id or 'no institution'}, the target to "
                f"{target.institution_id or 'no institution'}: only one institution's incidents can be merged"
            )
    now = service.now()
    stamp = format_timestamp(now)
    merged = target.model_copy(deep=True)
    target_changes: list[Change] = []
    new_sources: list[Incident] = []
    writes_after: list[DocumentWrite] = []
    for source in sources:
        moved = source.model_copy(deep=True)
        source_changes = lc.enter_state(moved, IncidentState.DUPLICATE, actor, now, f"merged into {target.id}")
        source_changes += [
            Change("merge", "merged_into", None, target.id),
            Change("merge", "alert_ids", list(source.alert_ids), [], f"moved to {target.id}"),
        ]
        moved.merged_into = target.id
        moved.alert_ids, moved.observables, moved.comments = [], [], []
        moved.updated_at = stamp
        moved.audit_seq += 1
        new_sources.append(moved)
        writes_after.append(_replace(moved, seen.get(source.id, source.version)))
        writes_after += audit_writes(
            source.id, source.institution_id, source_changes, actor=actor, now=now, seq=moved.audit_seq
        )

        new_alerts = [a for a in source.alert_ids if a not in merged.alert_ids]
        merged.alert_ids += new_alerts
        merged.rule_ids = list(dict.fromkeys([*merged.rule_ids, *source.rule_ids]))
        merged.tags = list(dict.fromkeys([*merged.tags, *source.tags]))
        merged.observables = obs.merge_observables(merged.observables, source.observables)
        merged.comments += [c.model_copy(update={"from_incident": source.id}) for c in source.comments]
        merged.merged_from.append(source.id)
        if source.last_alert_at > merged.last_alert_at:
            merged.last_alert_at = source.last_alert_at
        if source.severity.rank > merged.severity.rank:
            target_changes += lc.apply_severity(merged, source.severity, service.settings.incidents.sla)
        target_changes.append(Change("merge", "merged_from", None, source.id, f"{len(new_alerts)} alert(s) moved"))
    merged.updated_at = stamp
    merged.audit_seq += 1
    writes = [
        _replace(merged, seen.get(target.id, target.version)),
        *audit_writes(target.id, target.institution_id, target_changes, actor=actor, now=now, seq=merged.audit_seq),
        *writes_after,
    ]
    try:
        written = service.store.write_documents(writes)
    except ConflictError:
        raise ConflictError(
            f"incident {target.id} or one of {', '.join(wanted)} was changed by someone else meanwhile; "
            "reload and try again"
        ) from None
    merged.version = written[0].version
    versions = {doc.id: doc.version for doc in written}
    for source in new_sources:
        source.version = versions.get(source.id)
    return merged, new_sources


def _replace(incident: Incident, version: str | None) -> DocumentWrite:
    return DocumentWrite(
        COLLECTION,
        incident.id,
        incident.body(),
        institution_id=incident.institution_id,
        expected_version=version,
    )
