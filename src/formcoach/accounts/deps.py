"""Who sends a request: the FastAPI dependencies every router authenticates with.

Bearer tokens (cached, accounts.users.TokenCache), HTTP Basic (throttled like the sign-in
page) and the web session cookie (server-side rows, accounts.sessions; changes also need the
page's CSRF token).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from formcoach.accounts.signin import password_signin
from formcoach.accounts.users import (
    Principal,
    User,
    authenticate_token,
    cookie_user,
    token_principal,
)
from formcoach.kit.api import DbSession
from formcoach.kit.errors import AppError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _authorization(request: Request) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower(), value.strip()


def request_principal(request: Request, session: Session) -> Principal | None:
    """Who sends the request, as current_user decides, without loading the user row for a
    bearer token (kept in accounts.TOKEN_CACHE): for routes polled often."""
    scheme, value = _authorization(request)
    if scheme == "bearer" and value:
        return token_principal(session, value)
    user = _user_from_request(request, session)
    if user is None:
        return None
    return Principal(None, user.id, user.language, bool(user.is_admin))


def _user_from_request(request: Request, session: Session) -> User | None:
    scheme, value = _authorization(request)
    if scheme == "bearer" and value:
        return authenticate_token(session, value)
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        # Throttled: repeated wrong passwords answer 429 too_many_attempts for a while.
        return password_signin(request, session, username, password) if sep else None
    # The web pages use a signed session cookie (set by the gateway's sign-in page).
    session_data = request.scope.get("session")
    if session_data and "user_id" in session_data:
        user = cookie_user(session, session_data)
        if user is None:
            return None
        # A cookie rides along on cross-site requests: changes need the page's CSRF token too.
        if request.method not in SAFE_METHODS:
            sent = request.headers.get("x-csrf-token", "")
            expected = str(session_data.get("csrf", ""))
            if not expected or not hmac.compare_digest(sent, expected):
                return None
        return user
    return None


def current_user(request: Request, session: DbSession) -> User:
    user = _user_from_request(request, session)
    if user is None:
        raise AppError("unauthorized")
    request.state.user = user
    # Kept as a plain value: error handlers run after the session is closed.
    request.state.language = str(user.language)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AppError("forbidden")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
