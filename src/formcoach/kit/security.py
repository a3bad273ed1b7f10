"""Sign-in throttling, password rules and the security headers of every response."""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from formcoach.kit.accounts import (
    TOKEN_CACHE,
    User,
    authenticate_password,
    hash_password,
    hash_token,
    revoke_tokens,
    session_fingerprint,
    verify_password,
)
from formcoach.kit.errors import AppError, render_message
from formcoach.kit.i18n import Text, pick
from formcoach.kit.settings import Settings, get_settings

# --- sign-in throttling ---------------------------------------------------------------------

# Above this many accounts and addresses with recent failures, expired ones are swept out.
MAX_TRACKED_KEYS = 10_000


Key = tuple[str, str]


class SigninThrottle:
    """Recent password failures per account and per client address, in this process.

    Kept in memory: a restart forgets them, which only gives an attacker one more window.
    This is the one-process default; with Redis configured, RedisSigninThrottle
    (kit/throttle_redis.py) shares the counts between every gateway process.
    Only password checks are throttled: bearer tokens are 256-bit random (not guessable) and
    an account locked by someone else's guesses keeps its existing tokens and sessions.

    Keys are (kind, name): ("account", casefolded username) and ("ip", address) for sign-in,
    ("change", user id) for the current password asked by a password change.
    """

    def __init__(
        self,
        max_per_account: int,
        max_per_ip: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"account": max_per_account, "ip": max_per_ip, "change": max_per_account}
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[Key, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: Key, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def wait_for(self, keys: Sequence[Key]) -> int:
        """Seconds until every key accepts a password check again; 0 when they do now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                limit = self.limits[key[0]]
                if len(times) >= limit:
                    # Accepted again once enough of the failures have left the window.
                    wait = max(wait, times[len(times) - limit] + self.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def record(self, keys: Sequence[Key]) -> None:
        """One failure on each key."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > MAX_TRACKED_KEYS:
                # Guesses at many made-up usernames leave keys nobody asks about again.
                for key in list(self._failures):
                    self._recent(key, now)
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def clear(self, key: Key) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def retry_after(self, account: str, ip: str) -> int:
        """Seconds until password sign-in is accepted again; 0 when it is accepted now."""
        return self.wait_for(signin_keys(account, ip))

    def failed(self, account: str, ip: str) -> None:
        self.record(signin_keys(account, ip))

    def succeeded(self, account: str) -> None:
        # The address keeps its count: one known password must not reset guessing at others.
        self.clear(("account", account.casefold()))


def signin_keys(account: str, ip: str) -> list[Key]:
    return [("account", account.casefold()), ("ip", ip)]


def make_signin_throttle(settings: Settings) -> SigninThrottle:
    """Counts in Redis when the app has one (the scaled-out shape: FORMCOACH_BROKER_URL),
    else in this process's memory (the one-process default)."""
    limits = (
        settings.signin_max_failures_per_account,
        settings.signin_max_failures_per_ip,
        settings.signin_window_s,
    )
    url = settings.broker_url or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from formcoach.kit.throttle_redis import RedisSigninThrottle

        return RedisSigninThrottle.from_url(url, *limits)
    return SigninThrottle(*limits)


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


def signin_throttle(request: Request) -> SigninThrottle:
    """The app's throttle, made on first use (so every app, even a test's bare one, has one)."""
    throttle = getattr(request.app.state, "signin_throttle", None)
    if not isinstance(throttle, SigninThrottle):
        throttle = make_signin_throttle(_settings(request))
        request.app.state.signin_throttle = throttle
    return throttle


def client_address(request: Request) -> str:
    # uvicorn already replaces this with X-Forwarded-For when the proxy is a trusted one
    # (--forwarded-allow-ips); an untrusted header is never read here.
    return request.client.host if request.client else "unknown"


def password_signin(request: Request, session: Session, username: str, password: str) -> User:
    """Check a username and password under the throttle.

    Raises too_many_attempts (with retry_after, sent as Retry-After) while the account or the
    address is throttled, without checking the password; unauthorized when they are wrong.
    """
    throttle = signin_throttle(request)
    ip = client_address(request)
    wait = throttle.retry_after(username, ip)
    if wait:
        raise AppError("too_many_attempts", retry_after=wait)
    user = authenticate_password(session, username, password)
    if user is None:
        throttle.failed(username, ip)
        raise AppError("unauthorized")
    throttle.succeeded(username)
    return user


# --- password rules -------------------------------------------------------------------------

RULES: dict[str, Text] = {
    "too_short": {
        "ja": "{min_length} 文字以上にしてください。",
        "en": "use at least {min_length} characters.",
    },
    "username": {
        "ja": "ユーザー名を含むパスワードは使えません。",
        "en": "it must not contain the username.",
    },
    "common": {
        "ja": "よく使われているパスワードは使えません。",
        "en": "it is one of the most commonly used passwords.",
    },
    "repetitive": {
        "ja": "同じ文字や連続した文字の繰り返しは使えません。",
        "en": "it must not be one repeated character or a simple sequence.",
    },
}

# Passwords of 10+ characters from the top of the NCSC "100,000 most breached passwords" list
# (ncsc.gov.uk/static-assets/documents/PwnedPasswordsTop100k.txt); shorter ones already fail
# the length rule. Compared case-insensitively.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "0987654321",
        "12345678910",
        "123456789a",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "qwertyuiop",
        "asdfghjkl;",
        "password123",
        "password1234",
        "password12",
        "passw0rd123",
        "iloveyou12",
        "qwerty12345",
        "qwerty123456",
        "1q2w3e4r5t6y",
        "zaq12wsxcde3",
        "football123",
        "princess123",
        "sunshine123",
        "welcome123",
        "letmein123",
        "admin12345",
        "administrator",
        "changeme123",
        "trustno1234",
        "baseball123",
        "superman123",
        "michael123",
        "abcdefghij",
        "abc1234567",
        "1111111111",
        "formcoach1",
        "formcoach123",
    }
)
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm")


def _is_repetitive(password: str) -> bool:
    low = password.casefold()
    if len(set(low)) <= 2:
        return True
    # Any run of the alphabet, the digits or the keyboard row, forwards or backwards.
    return any(low in seq or low in seq[::-1] for seq in _SEQUENCES)


def password_problem(password: str, username: str, settings: Settings) -> str | None:
    """The first password rule the password breaks (a key of RULES), or None."""
    if len(password) < settings.password_min_length:
        return "too_short"
    # Containing the name is as guessable as being it ("admin2024!", "Taro-password").
    if username and username.casefold() in password.casefold():
        return "username"
    if password.casefold() in COMMON_PASSWORDS:
        return "common"
    if _is_repetitive(password):
        return "repetitive"
    return None


class WeakPasswordError(AppError):
    """weak_password (or weak_admin_password), with the broken rule in the caller's language."""

    def __init__(self, rule: str, code: str = "weak_password", **params: Any) -> None:
        super().__init__(code, **params)
        self.rule = rule

    def message(self, lang: str = "en") -> str:
        rule = pick(RULES[self.rule], lang).format(**self.params)
        return render_message(self.code, lang, rule=rule)


def check_password(password: str, username: str, settings: Settings) -> None:
    """Raise weak_password (422) when the password breaks a rule; used on creation and change."""
    rule = password_problem(password, username, settings)
    if rule is not None:
        raise WeakPasswordError(rule, min_length=settings.password_min_length)


# --- password change and the first admin ------------------------------------------------------


def bearer_token_hash(request: Request) -> str | None:
    """SHA-256 of the bearer token the request came with, if it came with one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return hash_token(value.strip()) if scheme.lower() == "bearer" and value.strip() else None


def change_password(
    request: Request, session: Session, user: User, current: str, new: str, settings: Settings
) -> int:
    """Set a signed-in user's new password; returns how many API tokens were revoked.

    The current password is asked for (a session or token left open must not be enough to
    take the account over) and its failures are throttled like sign-in: the account limit
    within the window, on a counter of its own (a signed-in user is not locked out of this
    by strangers guessing at their sign-in; a guesser here needs a valid session already).
    Wrong: wrong_password (403); throttled: too_many_attempts (429); weak: weak_password.

    Every API token of the user is revoked except the one this request came with: a token
    is a long-lived credential that may have leaked with the old password. Every other signed
    cookie session of the user ends too (its password fingerprint no longer matches, see
    accounts.session_fingerprint); the caller's own session goes on.
    """
    throttle = signin_throttle(request)
    keys: list[Key] = [("change", str(user.id))]
    wait = throttle.wait_for(keys)
    if wait:
        raise AppError("too_many_attempts", retry_after=wait)
    if not verify_password(user.password_hash, current):
        throttle.record(keys)
        raise AppError("wrong_password")
    throttle.clear(keys[0])
    check_password(new, user.username, settings)
    user.password_hash = hash_password(new)
    own = request.scope.get("session")
    if own is not None and own.get("user_id") == user.id:
        # The session that changed the password goes on; every other one of the user ends.
        own["auth"] = session_fingerprint(user)
    revoked = revoke_tokens(session, user.id, keep_token_hash=bearer_token_hash(request))
    session.flush()
    return revoked


ADMIN_USERNAME = "admin"
# token_urlsafe gives 4 characters per 3 bytes; 16 characters = 96 random bits.
GENERATED_PASSWORD_CHARS = 16


def first_admin_password(given: str | None, settings: Settings) -> tuple[str, bool]:
    """The first admin's password and whether it was generated (to be printed once).

    FORMCOACH_ADMIN_PASSWORD must follow the password rules like any other password: a weak
    one raises weak_admin_password (the CLI prints it in ja and en and does not start). A
    generated one is at least the minimum length and is drawn again until it breaks no rule.
    """
    if given:
        rule = password_problem(given, ADMIN_USERNAME, settings)
        if rule is not None:
            raise WeakPasswordError(
                rule, code="weak_admin_password", min_length=settings.password_min_length
            )
        return given, False
    chars = max(GENERATED_PASSWORD_CHARS, settings.password_min_length)
    while True:
        password = secrets.token_urlsafe(chars)[:chars]
        if password_problem(password, ADMIN_USERNAME, settings) is None:
            return password, True


# --- security headers -----------------------------------------------------------------------

# The pages load only their own script and stylesheet (no inline script or style), so the
# policy needs no 'unsafe-inline'. Videos play from same-origin URLs; QR codes are inline SVG.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# /docs is Swagger UI from this app's own files (kit/webdocs.py), started by FastAPI's inline
# script; Swagger UI styles its elements inline.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Run ids in page addresses stay on this site.
    (b"referrer-policy", b"same-origin"),
    # The pages use no camera, microphone or location: a script injected somehow cannot either.
    (
        b"permissions-policy",
        b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# One year (the hstspreload.org minimum), only when the browser reached us over TLS.
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    """Pure ASGI middleware (streamed bodies pass untouched) adding the headers to every answer."""

    def __init__(self, app: ASGIApp, tls: bool) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        csp = DOCS_CSP if path in DOCS_PATHS else PAGE_CSP
        extra = [*BASE_HEADERS, (b"content-security-policy", csp.encode())]
        if self.tls or scope.get("scheme") == "https":
            extra.append(HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in extra if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Headers on every response; the sign-in throttle is made on first use."""
    # The cache is per process and every app of a process shares the one settings object.
    TOKEN_CACHE.ttl_s = settings.token_cache_s
    build_stack = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware, which add_middleware cannot reach: the 500
        # it sends for an unhandled exception carries the headers too.
        # secure_cookies is the "served behind TLS" switch (README): HSTS follows it.
        return SecurityHeaders(build_stack(), tls=settings.secure_cookies)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
