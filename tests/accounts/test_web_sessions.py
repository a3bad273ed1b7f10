"""Server-side web sessions (accounts/sessions.py): an opaque cookie, ended at once by logout, a
password change or an admin action, and expired after idle and absolute time."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from formcoach.accounts.sessions import COOKIE_NAME, WebSession
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.db import session_scope
from formcoach.kit.settings import Settings
from tests.conftest import make_settings
from tests.support.apputil import ADMIN

NAME, PW, NEW = "frontdesk", "shop-tablet-pass-1", "another-tablet-pass-2"


def _app(tmp_path: Path, **overrides: object) -> tuple[TestClient, Settings]:
    settings = make_settings(tmp_path / "data", **overrides)
    prepare(settings)
    client = TestClient(create_app(settings, start_jobs=False))
    client.__enter__()
    made = client.post("/api/users", headers=ADMIN, json={"username": NAME, "password": PW})
    assert made.status_code == 201, made.text
    return client, settings


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    client, settings = _app(tmp_path)
    yield client, settings
    client.__exit__(None, None, None)


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="')[1].split('"')[0]


def _browser(client: TestClient, password: str = PW) -> TestClient:
    browser = TestClient(client.app)
    csrf = _csrf(browser.get("/login").text)
    r = browser.post(
        "/login",
        data={"username": NAME, "password": password, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert browser.get("/api/me").status_code == 200
    return browser


def _copy(browser: TestClient) -> TestClient:
    """Another client holding the same cookie: what a stolen copy of the cookie gives."""
    thief = TestClient(browser.app)
    thief.cookies.set(COOKIE_NAME, browser.cookies[COOKIE_NAME])
    return thief


def _page_csrf(browser: TestClient) -> str:
    return _csrf(browser.get("/tokens").text)


def _signed_out(browser: TestClient) -> bool:
    me = browser.get("/api/me")
    page = browser.get("/", follow_redirects=False)
    return me.status_code == 401 and page.status_code == 303


def test_the_cookie_is_an_opaque_id_and_only_its_hash_is_stored(
    app: tuple[TestClient, Settings],
) -> None:
    client, settings = app
    browser = _browser(client)
    value = browser.cookies[COOKIE_NAME]
    # 32 random bytes, nothing else: no user id, fingerprint or CSRF token to read.
    assert len(value) == 43 and "." not in value
    try:
        decoded = base64.urlsafe_b64decode(value + "=")
    except binascii.Error:
        decoded = b""
    assert b"user_id" not in decoded and b"csrf" not in decoded
    with session_scope(settings.db_url) as db:
        rows = list(db.scalars(select(WebSession).where(WebSession.user_id.is_not(None))))
        assert len(rows) == 1 and rows[0].id_hash != value and value not in rows[0].id_hash
        assert rows[0].data["csrf"] not in value


def test_sign_in_gives_a_new_id(app: tuple[TestClient, Settings]) -> None:
    client, _ = app
    browser = TestClient(client.app)
    csrf = _csrf(browser.get("/login").text)
    before = browser.cookies[COOKIE_NAME]  # the anonymous session holding the CSRF token
    planted = TestClient(client.app)
    planted.cookies.set(COOKIE_NAME, before)
    r = browser.post("/login", data={"username": NAME, "password": PW, "csrf": csrf})
    assert r.status_code == 200
    assert browser.cookies[COOKIE_NAME] != before
    # Whoever knew the id before sign-in (session fixation) has nothing.
    assert _signed_out(planted)


def test_logout_ends_every_copy_of_the_cookie(app: tuple[TestClient, Settings]) -> None:
    client, _ = app
    browser = _browser(client)
    thief = _copy(browser)
    assert thief.get("/api/me").status_code == 200
    out = browser.post("/logout", data={"csrf": _page_csrf(browser)}, follow_redirects=False)
    assert out.status_code == 303
    assert _signed_out(thief) and _signed_out(browser)


def test_a_password_change_ends_the_other_sessions_and_keeps_its_own(
    app: tuple[TestClient, Settings],
) -> None:
    client, _ = app
    changer, other = _browser(client), _browser(client)
    csrf = _page_csrf(changer)
    r = changer.post(
        "/api/me/password?lang=en",
        headers={"X-CSRF-Token": csrf},
        json={"current_password": PW, "new_password": NEW},
    )
    assert r.status_code == 200, r.text
    assert _signed_out(other)
    assert changer.get("/api/me").status_code == 200


@pytest.mark.parametrize(
    "action", ["reset", "disable", "delete"], ids=["admin-reset", "disable", "delete"]
)
def test_an_admin_action_ends_the_users_sessions(
    app: tuple[TestClient, Settings], action: str
) -> None:
    client, settings = app
    browser = _browser(client)
    thief = _copy(browser)
    uid = browser.get("/api/me").json()["id"]
    if action == "delete":
        r = client.delete(f"/api/users/{uid}", headers=ADMIN)
    else:
        body = {"password": NEW} if action == "reset" else {"is_active": False}
        r = client.patch(f"/api/users/{uid}", headers=ADMIN, json=body)
    assert r.status_code in (200, 204), r.text
    assert _signed_out(browser) and _signed_out(thief)
    with session_scope(settings.db_url) as db:
        assert list(db.scalars(select(WebSession).where(WebSession.user_id == uid))) == []
    if action == "disable":
        # Enabled again, the old session stays dead: only signing in gives a new one.
        assert client.patch(f"/api/users/{uid}", headers=ADMIN, json={"is_active": True}).is_success
        assert _signed_out(thief)


def test_idle_sessions_expire_and_used_ones_do_not(tmp_path: Path) -> None:
    client, _ = _app(tmp_path, session_idle_s=2.0, session_max_age_s=3600.0)
    with client:
        busy, idle = _browser(client), _browser(client)
        for _ in range(8):  # 4 s of use, twice the idle limit
            time.sleep(0.5)
            assert busy.get("/api/me").status_code == 200
        assert _signed_out(idle)


def test_sessions_end_at_the_absolute_limit_however_busy(tmp_path: Path) -> None:
    client, _ = _app(tmp_path, session_idle_s=3600.0, session_max_age_s=4.0)
    with client:
        browser = _browser(client)
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            assert browser.get("/api/me").status_code == 200
            time.sleep(0.25)
        thief = _copy(browser)
        time.sleep(2.0)
        # Refused on the server, not only dropped by a browser that honours Max-Age.
        assert _signed_out(thief) and _signed_out(browser)


def test_expired_rows_are_swept(tmp_path: Path) -> None:
    client, settings = _app(tmp_path, session_idle_s=1.0)
    with client:
        for _ in range(3):
            TestClient(client.app).get("/login")  # anonymous sessions, never seen again
        time.sleep(1.5)
        # The next new session sweeps the table (at most once per idle limit, or minute).
        TestClient(client.app).get("/login")
        with session_scope(settings.db_url) as db:
            assert len(list(db.scalars(select(WebSession)))) == 1
