"""Sign in with an API token, sign out, and choose the pages' language.

Signing in opens a server-side session (``sentinel.sessions``): the cookie holds a random session
id, never the token. The sign-in form itself has no session yet, so it carries a double-submit
token (a random value in a SameSite=Strict cookie and in the form). Failed sign-ins are logged and
throttled per client address; every failure says the same thing.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from sentinel.auth import AuthError
from sentinel.sessions import same_secret
from sentinel.web.deps import SESSION_COOKIE, CurrentPrincipal, ServicesDep
from sentinel.web.i18n import LANGUAGES
from sentinel.web.render import render, translator_for

router = APIRouter()

LOGIN_COOKIE = "sentinel_login"
SESSION_HOURS = 12


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(request: Request, error: str | None, status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"error": error, "csrf": nonce}, status)
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", secure=_secure(request), max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request, None)


@router.post("/login")
def login(
    request: Request, services: ServicesDep, token: Annotated[str, Form(max_length=200)], csrf: Annotated[str, Form()]
) -> Response:
    t = translator_for(request)
    address = request.client.host if request.client else "unknown"
    wait = services.sign_in_throttle.retry_after(address)
    if wait:
        response = _login_page(request, t.t("login.throttled", seconds=wait), 429)
        response.headers["Retry-After"] = str(wait)
        return response
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not same_secret(expected, csrf):
        return _login_page(request, t.t("login.expired"), 400)
    try:
        session_id, _ = services.sessions.open(token.strip())
    except AuthError as exc:
        services.sign_in_throttle.failed(address, str(exc))
        return _login_page(request, t.t("login.refused"), 401)
    services.sign_in_throttle.succeeded(address)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=SESSION_HOURS * 3600,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, services: ServicesDep, principal: CurrentPrincipal) -> Response:
    services.sessions.end(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
def choose_language(
    request: Request,
    services: ServicesDep,
    principal: CurrentPrincipal,
    language: Annotated[str, Form(max_length=5)],
    back: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    services.sessions.set_language(request.state.session, language)
    # Only a path on this site: never an open redirect.
    target = back if back.startswith("/") and not back.startswith("//") and "\\" not in back else "/"
    return RedirectResponse(target, status_code=303)
