"""Account pages: user administration (admins), the user's own API tokens and password.

The pages only render; their buttons call the JSON API (PATCH/POST/DELETE /api/users,
/api/tokens) with the page's CSRF token, so every rule lives in one place. The password form
posts to /account/password (it works without script) and applies the same function as
POST /api/me/password."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from formcoach.accounts import service as accounts_service
from formcoach.accounts.signin import change_password
from formcoach.accounts.users import User
from formcoach.gateway.web_common import csrf_ok, render, session_user
from formcoach.gateway.web_text import TEXT
from formcoach.kit.api import DbSession, SettingsDep
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Text

router = APIRouter(include_in_schema=False)


@router.get("/admin/users", response_class=HTMLResponse, response_model=None)
def users_page(request: Request, session: DbSession) -> Response:
    user = session_user(request, session)
    if user is None:
        return RedirectResponse("/login?next=/admin/users", status_code=303)
    if not user.is_admin:
        return render(request, "missing.html", user, status_code=403)
    users = list(session.scalars(select(User).order_by(User.id)))
    return render(request, "users.html", user, nav="users", users=users)


@router.get("/tokens", response_class=HTMLResponse, response_model=None)
def tokens_page(request: Request, session: DbSession) -> Response:
    user = session_user(request, session)
    if user is None:
        return RedirectResponse("/login?next=/tokens", status_code=303)
    return _account_page(request, session, user)


def _account_page(
    request: Request,
    session: Session,
    user: User,
    status_code: int = 200,
    error: Text | None = None,
) -> HTMLResponse:
    tokens = accounts_service.list_tokens(session, user)
    changed = request.query_params.get("password") == "changed"
    return render(
        request,
        "tokens.html",
        user,
        status_code=status_code,
        nav="tokens",
        tokens=tokens,
        password_error=error,
        password_changed=changed and error is None,
    )


@router.post("/account/password", response_model=None)
def change_password_form(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    current_password: str = Form("", max_length=256),
    new_password: str = Form("", max_length=256),
    csrf: str = Form(""),
) -> Response:
    """The account page's password form: the rules of POST /api/me/password (accounts/signin.py
    change_password), answered as the page with the error, or a redirect once changed."""
    user = session_user(request, session)
    if user is None:
        return RedirectResponse("/login?next=/tokens", status_code=303)
    if not csrf_ok(request, csrf):
        return _account_page(request, session, user, 403, TEXT["form_expired"])
    try:
        change_password(request, session, user, current_password, new_password, settings)
    except AppError as exc:
        session.rollback()
        page = _account_page(
            request, session, user, exc.status, {"ja": exc.message("ja"), "en": exc.message("en")}
        )
        if "retry_after" in exc.params:
            page.headers["Retry-After"] = str(exc.params["retry_after"])
        return page
    session.commit()
    return RedirectResponse("/tokens?password=changed#password", status_code=303)
