"""What the acknowledgement page does: acknowledge for the institution and keep the contact's note.

The page itself (``ack_page.html.j2``) and its route stay thin; the decisions are here.

The contact who follows the link in a notice may write "what we found / what we did". It lands on
the incident as a comment by ``contact:<email>`` and in the audit trail, in the *same* change as the
acknowledgement (one compare-and-swap write), so both are there or neither is. A note sent again
with the same words (a double click, a reload) is not added twice. A note is also accepted after
the incident was acknowledged (the SOC wants to hear what was done), but not once it is closed.
"""

from __future__ import annotations

from datetime import datetime

from sentinel.config import Settings
from sentinel.errors import SentinelError
from sentinel.events import format_timestamp
from sentinel.incidents import lifecycle as lc
from sentinel.incidents.audit import Change
from sentinel.incidents.model import Comment, Incident, IncidentState
from sentinel.incidents.service import IncidentService
from sentinel.notify.ack import AckClaim
from sentinel.notify.notice import COLLECTION as OUTBOX
from sentinel.store.base import FieldFilter, Scope, Store

MAX_NOTE = 4000  # characters; the page says so when a note is longer
_CLOSED = (IncidentState.CLOSED, IncidentState.FALSE_POSITIVE, IncidentState.DUPLICATE)


class NoteTooLong(SentinelError):
    """The note is longer than ``MAX_NOTE``."""


def clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    text = note.replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTE:
        raise NoteTooLong(f"a note is at most {MAX_NOTE} characters")
    return text or None


def acknowledge_with_note(service: IncidentService, claim: AckClaim, note: str | None) -> Incident:
    """Acknowledge the claimed incident for its institution (once) and add the note (once)."""
    actor = f"contact:{claim.contact}"
    text = clean_note(note)

    def mutate(incident: Incident, now: datetime) -> list[Change]:
        changes: list[Change] = []
        if incident.state in _CLOSED:
            raise SentinelError(f"incident {incident.id} is {incident.state.value}")
        if incident.institution_acknowledged_at is None:
            stamp = format_timestamp(now)
            changes.append(Change("acknowledge", "institution_acknowledged_at", None, stamp))
            changes.append(Change("acknowledge", "institution_acknowledged_by", None, actor))
            incident.institution_acknowledged_at, incident.institution_acknowledged_by = stamp, actor
        if incident.state is IncidentState.NEW:
            changes += lc.enter_state(incident, IncidentState.ACKNOWLEDGED, actor, now, None)
        if text is not None and not any(c.author == actor and c.text == text for c in incident.comments):
            comment_id = f"note-{incident.audit_seq + 1:06d}"
            incident.comments.append(Comment(id=comment_id, author=actor, text=text, created_at=format_timestamp(now)))
            changes.append(Change("comment", "comments", None, text, "note from the acknowledgement page"))
        return changes

    return service.update(claim.incident_id, Scope.institution(claim.institution_id), mutate, actor=actor, retry=True)


def shown_title(store: Store, claim: AckClaim, fallback: str) -> str:
    """The incident's title as the notice with this link showed it (in the contact's language).

    The stored incident title is English (built from the rule title); the notice's own title is not.
    """
    docs = store.find_documents(
        OUTBOX,
        Scope.institution(claim.institution_id),
        [
            FieldFilter("incident_id", "eq", claim.incident_id),
            FieldFilter("recipient", "eq", claim.contact),
            FieldFilter("title", "exists"),
        ],
        sort="created_at",
        limit=1,
    )
    return str(docs[0].body["title"]) if docs else fallback


def soc_contact_line(settings: Settings) -> str | None:
    """How to reach the SOC, as one line for a page: name, email, phone, hours (those set)."""
    soc = settings.notify.soc_contact
    parts = [p for p in (soc.name, soc.email, soc.phone, soc.hours) if p]
    return ", ".join(parts) if (soc.email or soc.phone) else None
