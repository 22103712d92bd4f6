"""Render a page: the sandboxed, autoescaped Jinja2 templates of ``dashboards/templates``.

Every page gets the reader's translator (``t``, ``date``, ``number``), the signed-in principal and
the session's CSRF token for its forms. Handlers pass only their own data.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import FileSystemLoader, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from dashboards import TEMPLATES_DIR
from sentinel.auth import Role
from sentinel.sessions import Session
from sentinel.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator
from sentinel.web.services import WebServices


def template_environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def reader_language(services: WebServices, session: Session | None) -> str:
    """The reader's choice, else the institution's language for institution users, else English."""
    if session is not None and session.language in LANGUAGES:
        return session.language
    if session is not None and session.principal.role is Role.INSTITUTION and session.principal.institution_id:
        institution = services.inventory.get(session.principal.institution_id)
        if institution is not None:
            return institution.language
    return DEFAULT_LANGUAGE


def reader_timezone(services: WebServices, session: Session | None) -> str:
    if session is not None and session.principal.institution_id:
        institution = services.inventory.get(session.principal.institution_id)
        if institution is not None:
            return institution.timezone
    return services.settings.timezone


def translator_for(request: Request) -> Translator:
    services: WebServices = request.app.state.services
    session: Session | None = getattr(request.state, "session", None)
    return services.page_text.translator(reader_language(services, session), reader_timezone(services, session))


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    translator = translator_for(request)
    html = request.app.state.templates.get_template(name).render(
        {
            **context,
            "principal": session.principal if session else None,
            "csrf": session.csrf if session else context.get("csrf", ""),
            "lang": translator.language,
            "languages": LANGUAGES,
            "t": translator.t,
            "date": translator.date,
            "number": translator.number,
            "path": request.url.path,
        }
    )
    return HTMLResponse(html, status_code=status_code)
