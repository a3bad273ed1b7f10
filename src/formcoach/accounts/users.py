"""The shared user store: users, API tokens, password hashing and credential checks.

Every service authenticates its own requests against this store, so a service reached
directly is no back door.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, event, select, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from formcoach.kit.db import Base, UTCDateTime
from formcoach.kit.i18n import Language, as_language

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
    # Never hand a deleted user's id to a new one (SQLite reuses the newest without it; 0006).
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[Language] = mapped_column(String(2), default="ja")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = ({"sqlite_autoincrement": True},)

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


def session_fingerprint(user: User) -> str:
    """A short digest of the stored password hash, kept in the signed session cookie.

    A cookie session lives in the browser, with nothing on the server to delete; comparing
    this on every request ends every session of a user whose password changed (by them or by
    an admin), except the one that changed it, which is given the new fingerprint.
    """
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:32]


def cookie_user(session: Session, data: Mapping[str, Any]) -> User | None:
    """The active user a signed session cookie's data stands for, or None."""
    user_id = data.get("user_id")
    if user_id is None:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    expected = session_fingerprint(user)
    return user if hmac.compare_digest(str(data.get("auth", "")), expected) else None


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


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to: what a request needs without loading the User row."""

    token_id: int | None  # None: signed in another way (password, session cookie)
    user_id: int
    language: Language
    is_admin: bool


class TokenCache:
    """Valid tokens by SHA-256, for ``ttl_s`` seconds, in this process.

    Every authenticated request looked its token up (token row, then user row): most of the CPU
    of a status poll. A change to any user, or the deletion of any token, through a Session of
    this process clears the whole cache once committed (the listeners below), so a revoked token
    or a deactivated user is refused at once here; another process (a second gateway, a service)
    may accept a revoked token for at most ``ttl_s`` more seconds. Unknown tokens are not
    cached: they always reach the database.
    """

    def __init__(
        self, ttl_s: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}
        # Bumped by every invalidation: a lookup that read the database before an invalidation
        # must not store what it read after it (it may be the revoked token).
        self._generation = 0
        self._lock = threading.Lock()

    def generation(self) -> int:
        return self._generation

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None or entry[0] < self.clock():
            return None
        return entry[1]

    def put(self, token_hash: str, principal: Principal, generation: int) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[token_hash] = (self.clock() + self.ttl_s, principal)

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


# Seconds a process keeps trusting a token it has checked (see TokenCache).
TOKEN_CACHE_S = 5.0
TOKEN_CACHE = TokenCache(TOKEN_CACHE_S)
_AUTH_CHANGED = "formcoach_auth_changed"


def _changes_credentials(obj: object, deleted: bool) -> bool:
    if isinstance(obj, User):
        return True
    # A token's last_used_at (touched once a minute) or name changes nobody's access.
    return isinstance(obj, ApiToken) and deleted


@event.listens_for(Session, "after_flush")
def _note_credential_changes(session: Session, _context: Any) -> None:
    changed = any(_changes_credentials(o, True) for o in session.deleted) or any(
        _changes_credentials(o, False) for o in session.dirty
    )
    if changed:
        # Cleared now and again at the commit: a request reading in between may have cached
        # the old state (the generation check stops only lookups that began earlier).
        session.info[_AUTH_CHANGED] = True
        TOKEN_CACHE.invalidate()


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_credential_changes(state: ORMExecuteState) -> None:
    if not (state.is_delete or state.is_update):
        return
    mapper = state.bind_mapper
    entity = mapper.class_ if mapper is not None else None
    if entity is User or (entity is ApiToken and state.is_delete):
        state.session.info[_AUTH_CHANGED] = True
        TOKEN_CACHE.invalidate()


@event.listens_for(Session, "after_commit")
def _invalidate_after_commit(session: Session) -> None:
    if session.info.pop(_AUTH_CHANGED, False):
        TOKEN_CACHE.invalidate()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_AUTH_CHANGED, None)


def token_principal(session: Session, token: str) -> Principal | None:
    """The owner of a valid token of an active user, or None; cached for TOKEN_CACHE_S."""
    token_hash = hash_token(token)
    principal = TOKEN_CACHE.get(token_hash)
    if principal is None:
        generation = TOKEN_CACHE.generation()
        row = session.execute(
            select(ApiToken.id, User.id, User.language, User.is_admin)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash, User.is_active.is_(True))
        ).first()
        if row is None:
            return None
        principal = Principal(int(row[0]), int(row[1]), as_language(row[2]) or "ja", bool(row[3]))
        TOKEN_CACHE.put(token_hash, principal, generation)
    if principal.token_id is not None:  # always, for a token
        _touch(session, principal.token_id)
    return principal


def _touch(session: Session, token_id: int) -> None:
    # A write per request would serialise every poll behind the database's write lock (SQLite):
    # "last used" to the minute is all the token page shows, so each process records a token's
    # use at most once a minute, and commits it at once: left in the request's transaction,
    # SQLite's write lock would be held for the whole request (an upload streams for seconds)
    # and other writers would time out ("database is locked").
    now = time.monotonic()
    with _TOUCH_LOCK:
        due = now - _TOUCHED.get(token_id, -TOKEN_TOUCH_S) >= TOKEN_TOUCH_S
        if due:
            _TOUCHED[token_id] = now
    if due:
        session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow())
        )
        session.commit()


def authenticate_token(session: Session, token: str) -> User | None:
    principal = token_principal(session, token)
    if principal is None:
        return None
    user = session.get(User, principal.user_id)
    # Checked again on the row: the cache may be up to TOKEN_CACHE_S old (another process).
    if user is None or not user.is_active:
        return None
    return user


def revoke_tokens(session: Session, user_id: int, keep_token_hash: str | None = None) -> int:
    """Delete the user's API tokens (but the one given by its hash); returns how many went.

    A bulk delete: the token cache's listeners above see it and forget every cached token.
    """
    statement = sa_delete(ApiToken).where(ApiToken.user_id == user_id)
    if keep_token_hash is not None:
        statement = statement.where(ApiToken.token_hash != keep_token_hash)
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def configure_token_cache(ttl_s: float) -> None:
    """The cache is per process, and every app of a process shares the one settings object."""
    TOKEN_CACHE.ttl_s = ttl_s
