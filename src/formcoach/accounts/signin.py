"""Sign-in (throttled), password rules, password change and the first admin's password."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from formcoach.accounts.sessions import end_user_sessions, own_session_row
from formcoach.accounts.throttle import Key, SigninThrottle, signin_keys
from formcoach.accounts.users import (
    User,
    authenticate_password,
    hash_password,
    hash_token,
    revoke_tokens,
    session_fingerprint,
    verify_password,
)
from formcoach.kit.errors import AppError, render_message
from formcoach.kit.i18n import Language, Text, pick
from formcoach.kit.settings import Settings, get_settings

__all__ = ["Key", "SigninThrottle", "signin_keys"]

# --- sign-in throttling ---------------------------------------------------------------------


def make_signin_throttle(settings: Settings) -> SigninThrottle:
    """Counts in Redis when the app has one (the scaled-out shape: FORMCOACH_BROKER_URL),
    else in this process's memory (the one-process default)."""
    limits = (
        settings.signin_max_failures_per_pair,
        settings.signin_max_failures_per_account,
        settings.signin_max_failures_per_ip,
        settings.signin_window_s,
        settings.signin_backoff_base_s,
        settings.signin_backoff_max_s,
    )
    url = settings.broker_url or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from formcoach.accounts.throttle_redis import RedisSigninThrottle

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
    """The address the throttle counts: the peer, or the one a trusted proxy forwarded.

    X-Forwarded-For is read only when the peer is in FORMCOACH_TRUSTED_PROXIES, right to left,
    skipping the trusted hops: anything further left was written by the client and can be
    anything. uvicorn's own header rewriting is off (cli.serve), since it trusts loopback by
    default and a client on the same host could then rotate the header at will.
    """
    peer = request.client.host if request.client else "unknown"
    proxies = _settings(request).trusted_proxy_networks()
    if not proxies or not _in_networks(peer, proxies):
        return peer
    hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    hops = [h for h in hops if h]
    for hop in reversed(hops):
        if not _in_networks(hop, proxies):
            return hop
    # Every hop is a trusted network (a client on the shop's own LAN): the first one is it.
    return hops[0] if hops else peer


def _in_networks(address: str, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks if net.version == ip.version)


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
    throttle.succeeded(username, ip)
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

    def message(self, lang: Language = "en") -> str:
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
    is a long-lived credential that may have leaked with the old password. Every other web
    session of the user is deleted (accounts/sessions.py); the caller's own session goes on.
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
    keep_row = None
    if own is not None and own.get("user_id") == user.id:
        # The session that changed the password goes on; every other one of the user ends.
        own["auth"] = session_fingerprint(user)
        keep_row = own_session_row(request)
    end_user_sessions(session, user.id, keep_row=keep_row)
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
