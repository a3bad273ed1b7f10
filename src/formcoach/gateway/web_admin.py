"""Account pages: user administration (admins) and the user's own API tokens.

The pages only render; their buttons call the JSON API (PATCH/POST/DELETE /api/users,
/api/tokens) with the page's CSRF token, so every rule lives in one place."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from formcoach.gateway import service
from formcoach.gateway.web_common import render, session_user
from formcoach.kit.accounts import User
from formcoach.kit.api import DbSession

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
    tokens = service.list_tokens(session, user)
    return render(request, "tokens.html", user, nav="tokens", tokens=tokens)
