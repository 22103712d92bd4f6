"""``/ack/{token}``: an institution contact acknowledges an incident from the link in a notice.

``GET`` only shows a confirmation page and changes nothing: mail scanners and link previews
fetch links on their own. ``POST`` (the page's button) acknowledges, recorded in the audit
trail as ``contact:<email>``, with the contact's optional note ("what we found / what we did")
added to the incident in the same change (``sentinel.notify.acknowledgement``).
The signed token is the whole capability: no session, no CSRF
token is needed, and the page shows the incident's title, institution and severity, nothing
else. An expired link answers 400, a forged or damaged one 403; both pages say what to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from sentinel.config import Settings
from sentinel.errors import NotFoundError, SentinelError
from sentinel.incidents.model import COLLECTION as INCIDENTS
from sentinel.incidents.model import Incident, IncidentState
from sentinel.inventory import Inventory
from sentinel.notify.ack import AckClaim, AckSigner, AckTokenError
from sentinel.notify.acknowledgement import MAX_NOTE, NoteTooLong, acknowledge_with_note, shown_title, soc_contact_line
from sentinel.notify.render import Renderer, fill, lookup
from sentinel.store.base import Scope, Store
from sentinel.web.services import WebServices

log = logging.getLogger(__name__)

router = APIRouter(tags=["acknowledge"])

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
}
_CLOSED = (IncidentState.CLOSED, IncidentState.FALSE_POSITIVE, IncidentState.DUPLICATE, IncidentState.RESOLVED)


@dataclass
class _Ctx:
    settings: Settings
    store: Store
    inventory: Inventory
    signer: AckSigner
    renderer: Renderer


def _ctx(request: Request) -> _Ctx:
    services: WebServices = request.app.state.services
    return _Ctx(services.settings, services.store, services.inventory, services.ack_signer, services.notice_renderer)


def _language(ctx: _Ctx, institution_id: str | None) -> str:
    institution = ctx.inventory.get(institution_id) if institution_id else None
    return institution.language if institution else "en"


def _page(ctx: _Ctx, status: int, language: str, heading_key: str, message: str, **values: Any) -> HTMLResponse:
    values.setdefault("soc_contact", soc_contact_line(ctx.settings))
    values.setdefault("max_note", MAX_NOTE)
    html = ctx.renderer.page(
        "ack_page.html.j2", language, heading=lookup(language, heading_key), message=message, **values
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _claim(ctx: _Ctx, token: str) -> AckClaim | HTMLResponse:
    try:
        return ctx.signer.verify(token)
    except AckTokenError as exc:
        log.info("acknowledgement link refused: %s", exc.reason)
        # The institution (and so its language) is unknown: say it in both languages.
        key = "expired" if exc.reason == "expired" else "invalid"
        status = 400 if key == "expired" else 403
        return _page(
            ctx, status, "en", f"ack.{key}_title", lookup("en", f"ack.{key}"), message_alt=lookup("sw", f"ack.{key}")
        )


def _incident(ctx: _Ctx, claim: AckClaim) -> Incident | None:
    doc = ctx.store.get_document(INCIDENTS, claim.incident_id, Scope.institution(claim.institution_id))
    if doc is None:
        return None
    return Incident.model_validate({**doc.body, "version": doc.version})


def _summary(ctx: _Ctx, incident: Incident, language: str, claim: AckClaim) -> dict[str, str]:
    institution = ctx.inventory.get(incident.institution_id) if incident.institution_id else None
    return {
        "title": shown_title(ctx.store, claim, incident.title),
        "institution": institution.name if institution else (incident.institution_id or "-"),
        "severity": str(lookup(language, incident.severity.label_key)),
    }


def _fill(language: str, key: str, **values: str) -> str:
    return fill(str(lookup(language, key)), values)


@router.get("/ack/{token}", response_class=HTMLResponse)
def show(token: str, request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    claim = _claim(ctx, token)
    if isinstance(claim, HTMLResponse):
        return claim
    language = _language(ctx, claim.institution_id)
    incident = _incident(ctx, claim)
    if incident is None:
        return _page(ctx, 404, language, "ack.page_title", _fill(language, "ack.missing"))
    summary = _summary(ctx, incident, language, claim)
    if incident.state in _CLOSED:
        return _page(ctx, 200, language, "ack.page_title", _fill(language, "ack.closed"), incident=summary)
    if incident.institution_acknowledged_at is not None:  # still open: a note is welcome
        already = _fill(language, "ack.already")
        return _page(ctx, 200, language, "ack.done_title", already, incident=summary, show_note=True)
    intro = _fill(language, "ack.page_intro", institution=summary["institution"], contact=claim.contact)
    return _page(ctx, 200, language, "ack.page_title", intro, incident=summary, show_button=True, show_note=True)


@router.post("/ack/{token}", response_class=HTMLResponse)
def acknowledge(token: str, request: Request, note: Annotated[str | None, Form()] = None) -> HTMLResponse:
    ctx = _ctx(request)
    claim = _claim(ctx, token)
    if isinstance(claim, HTMLResponse):
        return claim
    language = _language(ctx, claim.institution_id)
    incident = _incident(ctx, claim)
    if incident is None:
        return _page(ctx, 404, language, "ack.page_title", _fill(language, "ack.missing"))
    summary = _summary(ctx, incident, language, claim)
    note_text = note
    service = request.app.state.services.incidents
    try:
        before = incident.institution_acknowledged_at
        acknowledge_with_note(service, claim, note_text)
    except NotFoundError:
        return _page(ctx, 404, language, "ack.page_title", _fill(language, "ack.missing"))
    except NoteTooLong:
        too_long = _fill(language, "ack.note_too_long", limit=str(MAX_NOTE))
        return _page(ctx, 400, language, "ack.page_title", too_long, incident=summary, show_note=True)
    except SentinelError as exc:  # e.g. the incident was closed meanwhile
        log.info("acknowledgement of incident %s by %s refused: %s", claim.incident_id, claim.contact, exc)
        return _page(ctx, 409, language, "ack.page_title", _fill(language, "ack.closed"), incident=summary)
    log.info("incident %s acknowledged by contact %s of %s", claim.incident_id, claim.contact, claim.institution_id)
    if before is not None:
        key = "ack.note_saved" if note_text and note_text.strip() else "ack.already"
        return _page(ctx, 200, language, "ack.done_title", _fill(language, key), incident=summary, show_note=True)
    done = _fill(language, "ack.done", institution=summary["institution"])
    if note_text and note_text.strip():
        done += " " + _fill(language, "ack.note_saved")
    return _page(ctx, 200, language, "ack.done_title", done, incident=summary, show_note=True)
