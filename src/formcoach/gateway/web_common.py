"""Shared helpers of the web pages: language choice, CSRF token, session user, page rendering."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from formcoach.accounts.users import User, cookie_user
from formcoach.gateway.public_text import strip_internal
from formcoach.gateway.web_text import labels, texts
from formcoach.kit.i18n import Language, as_language, parse_accept_language

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
STATIC_DIR = Path(__file__).parent / "static"
# `|public` drops internal file names from texts shown to users (gateway/public_text.py).
templates.env.filters["public"] = strip_internal


def page_lang(request: Request, user: User | None) -> Language:
    """?lang= for a one-off view, else the user's saved choice, else the session, else browser."""
    asked = as_language(request.query_params.get("lang"))
    if asked is not None:
        return asked
    if user is not None and as_language(user.language) is not None:
        return user.language
    saved = as_language(request.session.get("lang"))
    if saved is not None:
        return saved
    return parse_accept_language(request.headers.get("accept-language"))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def csrf_ok(request: Request, sent: str) -> bool:
    expected = str(request.session.get("csrf", ""))
    return bool(expected) and hmac.compare_digest(sent, expected)


def session_user(request: Request, session: Session) -> User | None:
    return cookie_user(session, request.session)


def safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a link send users elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    # A page may fix its language (a share link opens in the report's language).
    lang = context.pop("lang_override", None) or page_lang(request, user)
    url = request.url.remove_query_params("lang")
    here = url.path + (f"?{url.query}" if url.query else "")
    return templates.TemplateResponse(
        request,
        name,
        {
            "t": texts(lang),
            "L": labels(lang),
            "lang": lang,
            "user": user,
            "csrf": csrf_token(request),
            "here": here,
            "nav": context.pop("nav", ""),
            **context,
        },
        status_code=status_code,
    )
