"""Observables: the addresses, accounts, hosts, hashes and URLs an incident is about.

They are taken from an alert's ``group_key`` and ``details`` and from its sample events, by ECS
field name; each value is checked for its kind (an "IP" that does not parse is dropped), so a
crafted log line cannot plant arbitrary text as an observable of another kind.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sentinel.detect.alerts import Alert
from sentinel.events import flatten
from sentinel.incidents.model import Observable, ObservableKind
from sentinel.store.base import EventQuery, FieldFilter, Scope, Store

log = logging.getLogger(__name__)

MAX_OBSERVABLES = 200  # per incident: bounds the document whatever the alerts hold
MAX_VALUE_LENGTH = 2048

# ECS fields (and the usual suffixes of group-key/detail names) per kind.
_FIELDS: dict[str, ObservableKind] = {
    "source.ip": "ip",
    "destination.ip": "ip",
    "client.ip": "ip",
    "server.ip": "ip",
    "host.ip": "ip",
    "related.ip": "ip",
    "source.nat.ip": "ip",
    "user.name": "user",
    "user.target.name": "user",
    "source.user.name": "user",
    "destination.user.name": "user",
    "related.user": "user",
    "host.name": "host",
    "host.hostname": "host",
    "related.hosts": "host",
    "destination.domain": "host",
    "url.domain": "host",
    "file.hash.md5": "hash",
    "file.hash.sha1": "hash",
    "file.hash.sha256": "hash",
    "process.hash.md5": "hash",
    "process.hash.sha1": "hash",
    "process.hash.sha256": "hash",
    "related.hash": "hash",
    "url.full": "url",
    "url.original": "url",
}
_HASH = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$")
_HOST = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$")


def _kind_of(field: str) -> ObservableKind | None:
    kind = _FIELDS.get(field)
    if kind is not None:
        return kind
    # A detail named "failed_source.ip" or a group key "src.ip" still says what it holds.
    for name, known in _FIELDS.items():
        if field.endswith("." + name):
            return known
    return None


def _clean(kind: ObservableKind, value: Any) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        return None
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return None
    if kind == "hash":
        return text.lower() if _HASH.fullmatch(text) else None
    if kind == "host":
        return text.lower() if _HOST.fullmatch(text) else None
    if kind == "url":
        return text if text.lower().startswith(("http://", "https://", "ftp://")) else None
    return text if text.isprintable() else None


def _values(field: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield field, item
    elif isinstance(value, Mapping):
        for sub, item in flatten(value, field + "."):
            yield from _values(sub, item)
    else:
        yield field, value


def from_fields(pairs: Iterable[tuple[str, Any]], alert_id: str) -> list[Observable]:
    found: dict[tuple[str, str], Observable] = {}
    for name, raw in pairs:
        for field, value in _values(name, raw):
            kind = _kind_of(field)
            if kind is None:
                continue
            clean = _clean(kind, value)
            if clean is not None and (kind, clean) not in found:
                found[(kind, clean)] = Observable(kind=kind, value=clean, field=field, alert_ids=[alert_id])
    return list(found.values())


def from_alert(alert: Alert, store: Store | None = None, *, max_events: int = 20) -> list[Observable]:
    """Observables of one alert: its group key and details, then its sample events (if a store is given)."""
    pairs: list[tuple[str, Any]] = list(alert.group_key.items())
    pairs.extend(flatten(alert.details))
    if store is not None and alert.sample_event_ids:
        ids = alert.sample_event_ids[:max_events]
        query = EventQuery(filters=(FieldFilter("event.id", "in", ids),))
        # The alert's own institution's events only: its observables go on that institution's incident.
        # An alert of no institution is read by SOC roles alone.
        scope = Scope.institution(alert.institution_id) if alert.institution_id else Scope.everything()
        for event in store.search_events(query, scope, limit=len(ids)).events:
            pairs.extend(flatten(event.doc))
    return from_fields(pairs, alert.id)


def merge_observables(current: list[Observable], new: Iterable[Observable]) -> list[Observable]:
    """``current`` with ``new`` added (alert ids unioned), bounded to ``MAX_OBSERVABLES``."""
    merged = [o.model_copy(deep=True) for o in current]
    index = {(o.kind, o.value): o for o in merged}
    for obs in new:
        existing = index.get((obs.kind, obs.value))
        if existing is not None:
            existing.alert_ids = list(dict.fromkeys([*existing.alert_ids, *obs.alert_ids]))
        elif len(merged) < MAX_OBSERVABLES:
            copy = obs.model_copy(deep=True)
            merged.append(copy)
            index[(obs.kind, obs.value)] = copy
        else:
            log.warning("incident observables full (%d): %s %s not kept", MAX_OBSERVABLES, obs.kind, obs.value)
    return merged


def without_alert(current: list[Observable], alert_id: str) -> list[Observable]:
    """``current`` after detaching an alert: observables only that alert showed are dropped."""
    kept = []
    for obs in current:
        if alert_id not in obs.alert_ids:
            kept.append(obs)
        elif len(obs.alert_ids) > 1:
            kept.append(obs.model_copy(update={"alert_ids": [a for a in obs.alert_ids if a != alert_id]}))
    return kept
