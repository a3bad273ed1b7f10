"""Server-side web sessions: the cookie holds a random id, the data lives in ``web_sessions``.

A signed cookie (what this replaced) cannot be ended: a copy taken before logout kept working
for its whole lifetime, and its payload was readable. Here logout deletes the row, a password
change or an admin reset/disable/delete deletes the user's rows (``end_user_sessions``), and
a row ends after ``session_idle_s`` without a request or ``session_max_age_s`` after it was
made, whichever comes first. Only an HMAC of the id is stored, so the table gives no usable
cookie. ``request.session`` stays a plain dict for the pages; the middleware saves it when
the response starts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import JSON, ForeignKey, Integer, String, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from formcoach.accounts.users import utcnow
from formcoach.kit.db import Base, UTCDateTime, get_sessionmaker
from formcoach.kit.settings import Settings

COOKIE_NAME = "formcoach_session"
# The request's own row, for "end every other session of this user" (a password change).
SCOPE_ROW_KEY = "formcoach.session_row"
# A request records its session's use at most this often: idle expiry to the minute is
# enough, and a write per request would serialise page loads behind SQLite's write lock.
TOUCH_EVERY_S = 60.0
SWEEP_EVERY_S = 60.0


class WebSession(Base):
    __tablename__ = "web_sessions"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class SessionData(dict[str, Any]):
    """A dict that knows whether a request changed it (only then is it written back)."""

    modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)

    def pop(self, key: str, *default: Any) -> Any:
        self.modified = True
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)


@dataclass(frozen=True)
class Loaded:
    row_id: int
    user_id: int | None
    data: dict[str, Any]
    touch_due: bool


def end_user_sessions(session: Session, user_id: int, keep_row: int | None = None) -> int:
    """Delete the user's web sessions (but the row given); returns how many ended."""
    statement = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_row is not None:
        statement = statement.where(WebSession.id != keep_row)
    return int(getattr(session.execute(statement), "rowcount", 0) or 0)


def own_session_row(connection: HTTPConnection) -> int | None:
    row = connection.scope.get(SCOPE_ROW_KEY)
    return int(row) if row is not None else None


class SessionStore:
    """Loads and saves session rows in their own short transactions (never the request's)."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.db_url
        self.idle = timedelta(seconds=settings.session_idle_s)
        self.max_age = timedelta(seconds=settings.session_max_age_s)
        self.max_age_s = int(settings.session_max_age_s)
        self.secure = settings.secure_cookies
        self._key = settings.session_secret().encode("utf-8")
        # Short idle limits (tests, kiosks) need the use recorded, and the table swept, sooner.
        self.touch_every_s = min(TOUCH_EVERY_S, settings.session_idle_s / 4)
        self.sweep_every_s = min(SWEEP_EVERY_S, settings.session_idle_s)
        self._last_sweep = -self.sweep_every_s
        self._sweep_lock = threading.Lock()

    def hash_id(self, raw: str) -> str:
        return hmac.new(self._key, raw.encode("utf-8"), hashlib.sha256).hexdigest()

    def _expired(self, row: WebSession, now: datetime) -> bool:
        return row.last_seen_at + self.idle < now or row.created_at + self.max_age < now

    def load(self, raw: str) -> Loaded | None:
        now = utcnow()
        with get_sessionmaker(self.url)() as db:
            row = db.scalar(select(WebSession).where(WebSession.id_hash == self.hash_id(raw)))
            if row is None:
                return None
            if self._expired(row, now):
                db.delete(row)
                db.commit()
                return None
            due = (now - row.last_seen_at).total_seconds() >= self.touch_every_s
            return Loaded(row.id, row.user_id, dict(row.data or {}), due)

    def save(self, raw: str | None, loaded: Loaded | None, data: SessionData) -> str | None:
        """Write what the request did to its session; returns a Set-Cookie value or None."""
        if not data:
            if loaded is not None:
                self._delete(loaded.row_id)
            return self._cookie("", 0) if raw else None
        if loaded is None or (data.modified and data.get("user_id") != loaded.user_id):
            # A new session, or a sign-in on an old one: always a new id, so an id planted
            # or seen before sign-in is worth nothing after it (session fixation).
            if loaded is not None:
                self._delete(loaded.row_id)
            return self._create(data)
        if data.modified or loaded.touch_due:
            self._update(loaded.row_id, dict(data) if data.modified else None)
        return None

    def _create(self, data: SessionData) -> str:
        raw = secrets.token_urlsafe(32)
        user_id = data.get("user_id")
        with get_sessionmaker(self.url)() as db:
            self._sweep(db)
            db.add(
                WebSession(
                    id_hash=self.hash_id(raw),
                    user_id=int(user_id) if user_id is not None else None,
                    data=dict(data),
                )
            )
            db.commit()
        return self._cookie(raw, self.max_age_s)

    def _update(self, row_id: int, data: dict[str, Any] | None) -> None:
        # A row deleted meanwhile (logout in another tab, a password reset) stays deleted.
        values: dict[str, Any] = {"last_seen_at": utcnow()}
        if data is not None:
            values["data"] = data
        with get_sessionmaker(self.url)() as db:
            db.execute(update(WebSession).where(WebSession.id == row_id).values(**values))
            db.commit()

    def _delete(self, row_id: int) -> None:
        with get_sessionmaker(self.url)() as db:
            db.execute(delete(WebSession).where(WebSession.id == row_id))
            db.commit()

    def _sweep(self, db: Session) -> None:
        """Delete expired rows now and then: abandoned cookies are never presented again."""
        now_s = time.monotonic()
        with self._sweep_lock:
            if now_s - self._last_sweep < self.sweep_every_s:
                return
            self._last_sweep = now_s
        now = utcnow()
        db.execute(
            delete(WebSession).where(
                or_(
                    WebSession.last_seen_at < now - self.idle,
                    WebSession.created_at < now - self.max_age,
                )
            )
        )

    def _cookie(self, raw: str, max_age: int) -> str:
        parts = [f"{COOKIE_NAME}={raw}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
        parts.append("SameSite=Lax")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


class ServerSessionMiddleware:
    """Gives each HTTP request ``scope["session"]`` from its cookie's row, and saves it."""

    def __init__(self, app: ASGIApp, store: SessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = HTTPConnection(scope).cookies.get(COOKIE_NAME) or None
        loaded = await anyio.to_thread.run_sync(self.store.load, raw) if raw else None
        data = SessionData(loaded.data if loaded else {})
        scope["session"] = data
        if loaded is not None:
            scope[SCOPE_ROW_KEY] = loaded.row_id

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await anyio.to_thread.run_sync(self.store.save, raw, loaded, data)
                if cookie is not None:
                    MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_session)
