"""What a notice can say about an incident beyond its document: counts, times, accounts, successes.

Read from the store on the institution's behalf only (``Scope.institution``), when the notice is
rendered:

- the incident's alerts give the number of matching events ("attempts"), and first/last seen;
- its observables give the attacking addresses (source side), the institution's own systems
  (host names and destination/host addresses) and the accounts named;
- an account *exists* when the inventory lists it or a successful login with that name was seen
  at the institution in the last ``ACCOUNT_LOOKBACK``; every other name was only guessed by the
  attacker, and no notice asks anyone to change the password of a guessed name;
- "did a login succeed after the failures?": successful logins from the attacking addresses at
  or after the first failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sentinel.detect.alerts import COLLECTION as ALERTS
from sentinel.detect.alerts import Alert
from sentinel.events import parse_timestamp
from sentinel.incidents.model import Incident
from sentinel.inventory import Institution
from sentinel.store.base import EventQuery, FieldFilter, Scope, Store

ACCOUNT_LOOKBACK = timedelta(days=90)
MAX_ALERTS = 200  # alerts of one incident read for the counts
MAX_VALUES = 50  # addresses, hosts or accounts checked per incident
SOURCE_FIELDS = ("source.ip", "client.ip", "source.nat.ip")
HOST_IP_FIELDS = ("destination.ip", "host.ip", "server.ip")


@dataclass(frozen=True)
class Evidence:
    """Facts about one incident, language-free; times are ISO UTC strings."""

    attempts: int = 0  # events matched by the incident's alerts
    alerts: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    addresses: tuple[str, ...] = ()  # where the activity came from
    hosts: tuple[str, ...] = ()  # the institution's systems involved
    existing_accounts: tuple[str, ...] = ()  # known to exist: inventory or a successful login
    guessed_accounts: tuple[str, ...] = ()  # named by the attacker only
    checked_success: bool = False  # whether "did a login succeed?" was looked at
    successes: int = 0  # successful logins from the addresses after the first failure
    success_accounts: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def _ordered(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))[:MAX_VALUES]


def incident_alerts(store: Store, incident: Incident, scope: Scope) -> list[Alert]:
    alerts = []
    for alert_id in incident.alert_ids[:MAX_ALERTS]:
        doc = store.get_document(ALERTS, alert_id, scope)
        if doc is not None:
            alerts.append(Alert.model_validate(doc.body))
    return alerts


def gather(
    store: Store,
    incident: Incident,
    institution: Institution | None,
    *,
    now: datetime,
    check_logins: bool = True,
) -> Evidence:
    """The evidence for one incident, read within its institution's scope (nothing for an unattributed one)."""
    if incident.institution_id is None:
        return Evidence()
    scope = Scope.institution(incident.institution_id)
    alerts = incident_alerts(store, incident, scope)
    addresses = _ordered(o.value for o in incident.observables if o.kind == "ip" and o.field in SOURCE_FIELDS)
    hosts = _ordered(
        [o.value for o in incident.observables if o.kind == "host"]
        + [o.value for o in incident.observables if o.kind == "ip" and o.field in HOST_IP_FIELDS]
    )
    accounts = _ordered(o.value for o in incident.observables if o.kind == "user")
    first = min((a.first_seen for a in alerts), default=None)  # fixed-width UTC strings sort in time order
    last = max((a.last_seen for a in alerts), default=None)
    existing = _existing_accounts(store, scope, accounts, institution, now) if accounts else set()
    checked = False
    successes: int = 0
    success_accounts: tuple[str, ...] = ()
    if check_logins and addresses and first is not None:
        checked = True
        successes, success_accounts = _successes_after(store, scope, addresses, parse_timestamp(first), now)
        existing |= set(success_accounts)
    return Evidence(
        attempts=sum(a.count for a in alerts),
        alerts=len(alerts),
        first_seen=first,
        last_seen=last,
        addresses=addresses,
        hosts=hosts,
        existing_accounts=tuple(a for a in accounts if a in existing)
        + tuple(a for a in success_accounts if a not in accounts),
        guessed_accounts=tuple(a for a in accounts if a not in existing),
        checked_success=checked,
        successes=successes,
        success_accounts=success_accounts,
    )


def _existing_accounts(
    store: Store, scope: Scope, accounts: Sequence[str], institution: Institution | None, now: datetime
) -> set[str]:
    known = {a.lower() for a in (institution.accounts if institution else [])}
    found = {a for a in accounts if a.lower() in known}
    rest = [a for a in accounts if a not in found]
    if rest:
        query = EventQuery(
            start=now - ACCOUNT_LOOKBACK,
            end=now,
            filters=(FieldFilter("user.name", "in", rest), FieldFilter("event.outcome", "eq", "success")),
        )
        found |= {str(b.key) for b in store.terms(query, scope, "user.name", size=len(rest))}
    return found


def _successes_after(
    store: Store, scope: Scope, addresses: Sequence[str], since: datetime, now: datetime
) -> tuple[int, tuple[str, ...]]:
    query = EventQuery(
        start=since,
        end=max(now, since + timedelta(seconds=1)),
        filters=(
            FieldFilter("source.ip", "in", list(addresses)),
            FieldFilter("event.outcome", "eq", "success"),
            FieldFilter("event.category", "eq", "authentication"),
        ),
    )
    count = store.count_events(query, scope)
    if not count:
        return 0, ()
    users = tuple(str(b.key) for b in store.terms(query, scope, "user.name", size=MAX_VALUES))
    return count, users
