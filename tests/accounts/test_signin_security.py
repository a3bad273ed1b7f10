"""Sign-in security: throttling, password rules, hashed tokens, security headers and CSRF."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from formcoach.accounts import throttle as throttle_module
from formcoach.accounts.throttle import SigninThrottle
from formcoach.accounts.users import ApiToken
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.db import session_scope
from formcoach.kit.settings import Settings
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, ADMIN_PW, basic

ACCOUNT_LIMIT = 3
IP_LIMIT = 6


@pytest.fixture()
def app_settings(tmp_path: Path) -> tuple[FastAPI, Settings]:
    settings = make_settings(
        tmp_path / "data",
        signin_max_failures_per_pair=ACCOUNT_LIMIT,
        signin_max_failures_per_ip=IP_LIMIT,
        signin_window_s=600.0,
        signin_backoff_base_s=300.0,
    )
    prepare(settings)
    return create_app(settings, start_jobs=False), settings


@pytest.fixture()
def client(app_settings: tuple[FastAPI, Settings]) -> Iterator[TestClient]:
    with TestClient(app_settings[0]) as c:
        yield c


def _make_user(client: TestClient, name: str, password: str) -> int:
    r = client.post("/api/users", headers=ADMIN, json={"username": name, "password": password})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _csrf(page: str, name: str = 'name="csrf" value="') -> str:
    return page.split(name)[1].split('"')[0]


# --- throttling -----------------------------------------------------------------------------


def test_basic_auth_is_throttled_per_account_and_address(client: TestClient) -> None:
    _make_user(client, "runner1", "runner-password-1")
    token = client.post("/api/tokens", headers=basic("runner1", "runner-password-1"), json={})
    bearer = {"Authorization": f"Bearer {token.json()['token']}"}
    for _ in range(ACCOUNT_LIMIT):
        r = client.get("/api/me", headers=basic("runner1", "wrong-password"))
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    # From this address, even the right password is refused now, without being checked, in the
    # caller's language (tests/accounts/test_signin_throttle.py: other addresses are not).
    for lang, word in (("en", "Too many failed sign-in attempts"), ("ja", "サインインの失敗")):
        r = client.get(f"/api/me?lang={lang}", headers=basic("runner1", "runner-password-1"))
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "too_many_attempts"
        assert word in r.json()["error"]["message"]
        wait = int(r.headers["Retry-After"])
        assert 0 < wait <= 600 and str(wait) in r.json()["error"]["message"]
    # Token creation by password is the same sign-in, so it is refused too.
    made = client.post("/api/tokens", headers=basic("runner1", "runner-password-1"), json={})
    assert made.status_code == 429 and made.json()["error"]["code"] == "too_many_attempts"
    # The lock is on password sign-in of that account only: its token and other users still work.
    assert client.get("/api/me", headers=bearer).json()["username"] == "runner1"
    assert client.get("/api/me", headers=ADMIN).json()["username"] == "admin"


def test_basic_auth_is_throttled_per_client_address(
    app_settings: tuple[FastAPI, Settings],
) -> None:
    app, _ = app_settings
    attacker = TestClient(app, client=("203.0.113.7", 40000))
    other = TestClient(app, client=("198.51.100.2", 40000))
    # Guessing across many usernames (none slowed on its own) trips the address limit: every
    # name this address has failed on is slowed from the next failure...
    for i in range(IP_LIMIT):
        assert attacker.get("/api/me", headers=basic(f"user{i}", "guess-123")).status_code == 401
    assert attacker.get("/api/me", headers=basic("admin", "guess-123")).status_code == 401
    r = attacker.get("/api/me", headers=ADMIN)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
    assert int(r.headers["Retry-After"]) > 0
    # ...but never an account it has not failed on, nor another address.
    assert attacker.get("/api/me", headers=basic("user0", "guess-123")).status_code == 429
    assert other.get("/api/me", headers=ADMIN).status_code == 200


def test_web_sign_in_form_is_throttled(client: TestClient) -> None:
    csrf = _csrf(client.get("/login").text)
    for _ in range(ACCOUNT_LIMIT):
        bad = client.post("/login", data={"username": "admin", "password": "no", "csrf": csrf})
        assert bad.status_code == 401
    for lang, word in (("en", "Too many failed sign-in attempts"), ("ja", "サインインの失敗")):
        r = client.post(
            f"/login?lang={lang}",
            data={"username": "admin", "password": ADMIN_PW, "csrf": csrf},
            follow_redirects=False,
        )
        assert r.status_code == 429 and word in r.text
        assert int(r.headers["Retry-After"]) > 0
    assert "user_id" not in client.cookies.get("formcoach_session", "")
    assert client.get("/", follow_redirects=False).status_code == 303  # still signed out


def test_throttle_forgets_expired_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle_module, "MAX_TRACKED_KEYS", 3)
    now = [0.0]
    throttle = SigninThrottle(5, 100, 100, window_s=60.0, clock=lambda: now[0])
    for i in range(4):
        throttle.failed(f"made-up-{i}", "10.0.0.1")
    now[0] += 61
    throttle.failed("late", "10.0.0.2")
    # Memory stays bounded: the made-up usernames nobody asks about again are gone.
    assert set(throttle._failures) == {
        ("pair", "late\x0010.0.0.2"),
        ("account", "late"),
        ("ip", "10.0.0.2"),
    }


# --- password rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "en", "ja"),
    [
        ("short-1", "at least 10 characters", "10 文字以上"),
        ("Coach-Anna", "must not contain the username", "ユーザー名"),
        ("Password123", "most commonly used", "よく使われている"),
        ("abababababab", "repeated character", "繰り返し"),
        ("0123456789", "simple sequence", "連続"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(
    client: TestClient, password: str, en: str, ja: str
) -> None:
    for lang, text in (("en", en), ("ja", ja)):
        r = client.post(
            f"/api/users?lang={lang}",
            headers=ADMIN,
            json={"username": "coach-anna", "password": password},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "weak_password"
        assert text in r.json()["error"]["message"]


def test_password_rules_apply_to_reset_and_change(client: TestClient) -> None:
    uid = _make_user(client, "coach-ben", "good-horse-battery")
    for body_password in ("coach-ben", "qwertyuiop", "x" * 12):
        r = client.patch(f"/api/users/{uid}", headers=ADMIN, json={"password": body_password})
        assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password"
    # The admin changing their own password meets the same rules.
    r = client.patch("/api/users/1", headers=ADMIN, json={"password": "admin"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password"
    ok = client.patch(f"/api/users/{uid}", headers=ADMIN, json={"password": "staple-river-41"})
    assert ok.status_code == 200
    assert client.get("/api/me", headers=basic("coach-ben", "staple-river-41")).status_code == 200


# --- hashed tokens --------------------------------------------------------------------------


def test_tokens_are_stored_only_as_hashes(
    client: TestClient, app_settings: tuple[FastAPI, Settings]
) -> None:
    _, settings = app_settings
    plain = client.post("/api/tokens", headers=ADMIN, json={"name": "ci"}).json()["token"]
    with session_scope(settings.db_url) as session:
        rows = session.scalars(select(ApiToken)).all()
        assert [r.token_hash for r in rows] == [hashlib.sha256(plain.encode()).hexdigest()]
    # Nowhere in the database file either (WAL included), not even its random part.
    db_files = list(settings.data_dir.glob("formcoach.db*"))
    assert db_files
    for path in db_files:
        assert plain[3:].encode() not in path.read_bytes()


# --- headers and CSRF -----------------------------------------------------------------------

PAGES = ["/login", "/", "/history", "/tokens", "/static/app.css", "/api/health", "/api/me"]


def _check_headers(headers: Any) -> None:
    csp = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and "unsafe" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    # Only the new-analysis page (record mode) may use the camera.
    assert "microphone=()" in headers["permissions-policy"]


def test_security_headers_on_pages_and_api(client: TestClient) -> None:
    csrf = _csrf(client.get("/login").text)
    client.post("/login", data={"username": "admin", "password": ADMIN_PW, "csrf": csrf})
    for path in [*PAGES, "/runs/999999", "/api/runs/999999", "/no-such-page"]:
        r = client.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        _check_headers(r.headers)
        # Plain HTTP (a shop's LAN): HSTS would only pin a scheme the server does not serve.
        assert "strict-transport-security" not in r.headers
    anonymous = TestClient(client.app)
    assert anonymous.get("/api/runs").status_code == 401
    _check_headers(anonymous.get("/api/runs").headers)
    # The API docs page keeps working: its own policy lets the local Swagger bundle run, and
    # names no other host (no CDN).
    docs = client.get("/docs")
    assert "'unsafe-inline'" in docs.headers["content-security-policy"]
    assert "http" not in docs.headers["content-security-policy"]


def test_hsts_only_behind_tls(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "tls", secure_cookies=True)
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False), base_url="https://shop") as c:
        r = c.get("/login")
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
        _check_headers(r.headers)


def test_forms_refuse_missing_or_wrong_csrf_token(client: TestClient) -> None:
    login_csrf = _csrf(client.get("/login").text)
    for sent in (None, "wrong-token"):
        data = {"username": "admin", "password": ADMIN_PW}
        if sent:
            data["csrf"] = sent
        r = client.post("/login", data=data, follow_redirects=False)
        assert r.status_code == 401
        assert client.get("/", follow_redirects=False).status_code == 303  # not signed in
    ok = client.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PW, "csrf": login_csrf},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    home = client.get("/")
    page_csrf = _csrf(home.text, 'name="csrf-token" content="')
    # Language change and sign-out with a bad token change nothing.
    for sent in ("", "wrong-token"):
        client.post("/language", data={"lang": "en", "csrf": sent, "next": "/"})
        assert client.get("/api/me").json()["language"] == "ja"
        client.post("/logout", data={"csrf": sent})
        assert client.get("/", follow_redirects=False).status_code == 200
    # JSON changes made with the session cookie need the token in X-CSRF-Token.
    assert client.post("/api/tokens", json={"name": "x"}).status_code == 401
    bad = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "wrong"})
    assert bad.status_code == 401
    assert client.get("/api/tokens").json() == []
    # With the page's token both work.
    client.post("/language", data={"lang": "en", "csrf": page_csrf, "next": "/"})
    assert client.get("/api/me").json()["language"] == "en"
    client.post("/logout", data={"csrf": page_csrf})
    assert client.get("/", follow_redirects=False).status_code == 303
