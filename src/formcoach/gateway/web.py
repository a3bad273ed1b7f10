"""Server-rendered web pages (ja/en) on a signed session cookie: sign-in, language, new
analysis and history. Run, compare, print and admin pages live in web_runs and web_admin."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from formcoach.accounts import service as accounts_service
from formcoach.accounts.signin import password_signin
from formcoach.accounts.users import session_fingerprint
from formcoach.gateway import web_admin, web_runs, web_share
from formcoach.gateway.record_text import record_context
from formcoach.gateway.web_common import (
    STATIC_DIR,
    csrf_ok,
    page_lang,
    render,
    safe_next,
    session_user,
)
from formcoach.gateway.web_text import TEXT
from formcoach.kit.api import DbSession, settings_dep
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language, as_language
from formcoach.kit.pipeline import MOVEMENTS, VIEWS
from formcoach.runs import service as runs_service
from formcoach.runs.models import PERSON_MAX

router = APIRouter(include_in_schema=False)
router.include_router(web_runs.router)
router.include_router(web_admin.router)
router.include_router(web_share.router)


def static_files() -> StaticFiles:
    """The stylesheet and script of the pages (mounted at /static by the app)."""
    return StaticFiles(directory=str(STATIC_DIR))


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(
        request, "login.html", None, error=None, next=safe_next(request.query_params.get("next"))
    )


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: DbSession,
    username: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/"),
) -> Response:
    if not csrf_ok(request, csrf):
        return render(
            request, "login.html", None, status_code=401, error=TEXT["bad_login"], next=next
        )
    try:
        # Throttled like HTTP Basic: repeated wrong passwords pause sign-in for a while.
        user = password_signin(request, session, username, password)
    except AppError as exc:
        if exc.code != "too_many_attempts":
            return render(
                request, "login.html", None, status_code=401, error=TEXT["bad_login"], next=next
            )
        wait = exc.params["retry_after"]
        error = {k: v.format(seconds=wait) for k, v in TEXT["too_many_attempts"].items()}
        page = render(request, "login.html", None, status_code=429, error=error, next=next)
        page.headers["Retry-After"] = str(wait)
        return page
    lang = request.session.get("lang")
    request.session.clear()
    # A new CSRF token at sign-in: a token planted before sign-in must not carry over.
    request.session.update(
        {
            "user_id": user.id,
            "auth": session_fingerprint(user),
            "csrf": secrets.token_urlsafe(24),
        }
    )
    lang = as_language(lang)
    if lang is not None and lang != user.language:
        # A language picked on the sign-in page is an explicit choice: remember it on the user.
        request.session["lang"] = lang
        accounts_service.update_user(session, user.id, language=lang)
        session.commit()
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> RedirectResponse:
    if csrf_ok(request, csrf):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
def set_language(
    request: Request,
    session: DbSession,
    lang: Language = Form(""),
    csrf: str = Form(""),
    next: str = Form("/"),
) -> RedirectResponse:
    """Remembered on the user when signed in, else for this browser session."""
    if lang in ("ja", "en") and csrf_ok(request, csrf):
        request.session["lang"] = lang
        user = session_user(request, session)
        if user is not None:
            accounts_service.update_user(session, user.id, language=lang)
            # Committed before the redirect: the next page must already read the new language.
            session.commit()
    return RedirectResponse(safe_next(next), status_code=303)


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


@router.get("/", response_class=HTMLResponse, response_model=None)
def home(request: Request, session: DbSession) -> Response:
    user = session_user(request, session)
    if user is None:
        return _to_login(request)
    runs, _ = runs_service.list_runs_filtered(session, user, 1, 5)
    return render(
        request,
        "home.html",
        user,
        nav="new",
        runs=runs,
        movements=MOVEMENTS,
        views=VIEWS,
        persons=runs_service.list_persons(session, user),
        person_max=PERSON_MAX,
        chunk_bytes=settings_dep(request).upload_chunk_kb * 1024,
        **record_context(page_lang(request, user)),
    )


def _day(value: str) -> date | None:
    """The filter form sends empty fields; an empty or malformed date means no bound."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/history", response_class=HTMLResponse, response_model=None)
def history(
    request: Request,
    session: DbSession,
    movement: Annotated[str, Query(max_length=16)] = "",
    person: Annotated[str, Query(max_length=PERSON_MAX)] = "",
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    user = session_user(request, session)
    if user is None:
        return _to_login(request)
    runs, total = runs_service.list_runs_filtered(
        session,
        user,
        1,
        100,
        movement=movement or None,
        person=person.strip() or None,
        date_from=runs_service.day_start(_day(date_from)),
        date_to=runs_service.day_start(_day(date_to), 1),
    )
    filters = {
        "movement": movement,
        "person": person,
        "date_from": _day(date_from),
        "date_to": _day(date_to),
    }
    return render(
        request,
        "history.html",
        user,
        nav="history",
        runs=runs,
        total=total,
        filters=filters,
        movements=MOVEMENTS,
        persons=runs_service.list_persons(session, user),
    )
