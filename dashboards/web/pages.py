"""The browser pages: sign in with an API token, overview, event search.

The session cookie is HttpOnly and SameSite=Strict, so another site cannot make the browser
send it; forms also carry a CSRF token (double submit) for defence in depth.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sentinel.api.deps import SESSION_COOKIE
from sentinel.auth import AuthError, Principal, authenticate
from sentinel.durations import parse_duration
from sentinel.search_query import parse_search
from sentinel.status import build_status

HERE = Path(__file__).parent
CSRF_COOKIE = "sentinel_csrf"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def principal_of(request: Request) -> Principal | None:
    try:
        return authenticate(request.app.state.store, request.cookies.get(SESSION_COOKIE, ""))
    except AuthError:
        return None


def _csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def render(request: Request, name: str, context: dict[str, object], status_code: int = 200) -> HTMLResponse:
    token = _csrf(request)
    response = templates.TemplateResponse(request, name, {**context, "csrf": token}, status_code=status_code)
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(request: Request) -> Response:
        principal = principal_of(request)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        report = build_status(request.app.state.store, principal.scope, health=request.app.state.collection_health)
        return render(request, "overview.html", {"principal": principal, "report": dataclasses.asdict(report)})

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> Response:
        return render(request, "login.html", {"error": None})

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token: Annotated[str, Form()], csrf: Annotated[str, Form()]) -> Response:
        expected = request.cookies.get(CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(expected, csrf):
            return render(request, "login.html", {"error": "Your form expired; please try again."}, 400)
        try:
            authenticate(request.app.state.store, token.strip())
        except AuthError as exc:
            return render(request, "login.html", {"error": str(exc)}, 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token.strip(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=12 * 3600,
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form()]) -> Response:
        expected = request.cookies.get(CSRF_COOKIE, "")
        response = RedirectResponse("/login", status_code=303)
        if expected and hmac.compare_digest(expected, csrf):
            response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/events", response_class=HTMLResponse, include_in_schema=False)
    def events_page(request: Request, q: str = "", since: str = "1h") -> Response:
        principal = principal_of(request)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        error = None
        result = None
        try:
            query = parse_search(q, start=datetime.now(UTC) - parse_duration(since))
            result = request.app.state.store.search_events(query, principal.scope, limit=200)
        except ValueError as exc:
            error = str(exc)
        return render(
            request, "events.html", {"principal": principal, "q": q, "since": since, "result": result, "error": error}
        )
