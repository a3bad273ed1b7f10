"""The shared user store: users, API tokens, password hashing and credential checks.

Every service authenticates its own requests against this store, so a service reached
directly is no back door.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from formcoach.kit.db import Base, UTCDateTime

_hasher = PasswordHasher()
# Verifying against a real hash when the user does not exist keeps timing the same.
_DUMMY_HASH = _hasher.hash("formcoach-timing-equaliser")
TOKEN_PREFIX = "fc_"
# How stale a token's last_used_at may get before a request records the use again.
TOKEN_TOUCH_S = 60.0
_TOUCHED: dict[int, float] = {}  # token id -> monotonic time this process last recorded a use
_TOUCH_LOCK = threading.Lock()


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(2), default="ja")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # Only a SHA-256 of the token is kept: a leaked database leaks no usable token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def authenticate_password(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    return user


def authenticate_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    # A write per request would serialise every poll behind the database's write lock (SQLite):
    # "last used" to the minute is all the token page shows, so each process records a token's
    # use at most once a minute, and commits it at once: left in the request's transaction,
    # SQLite's write lock would be held for the whole request (an upload streams for seconds)
    # and other writers would time out ("database is locked").
    now = time.monotonic()
    with _TOUCH_LOCK:
        due = now - _TOUCHED.get(row.id, -TOKEN_TOUCH_S) >= TOKEN_TOUCH_S
        if due:
            _TOUCHED[row.id] = now
    if due:
        row.last_used_at = utcnow()
        session.commit()
    return user
