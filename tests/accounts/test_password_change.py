"""Self-service password change: POST /api/me/password and the account page's form."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.settings import Settings
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, basic

LIMIT = 3
NAME, OLD, NEW = "walker", "strider-password-1", "a-fresh-passphrase-9"


@pytest.fixture()
def app_settings(tmp_path: Path) -> tuple[TestClient, Settings]:
    settings = make_settings(
        tmp_path / "data",
        signin_max_failures_per_pair=LIMIT,
        signin_backoff_base_s=300.0,
        signin_max_failures_per_ip=50,
        signin_window_s=600.0,
    )
    prepare(settings)
    return TestClient(create_app(settings, start_jobs=False)), settings


@pytest.fixture()
def client(app_settings: tuple[TestClient, Settings]) -> Iterator[TestClient]:
    with app_settings[0] as c:
        made = c.post("/api/users", headers=ADMIN, json={"username": NAME, "password": OLD})
        assert made.status_code == 201, made.text
        yield c


def _token(client: TestClient, name: str) -> dict[str, str]:
    made = client.post("/api/tokens", headers=basic(NAME, OLD), json={"name": name})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


def _change(
    client: TestClient, headers: dict[str, str], current: str, new: str, lang: str = "en"
) -> Any:
    return client.post(
        f"/api/me/password?lang={lang}",
        headers=headers,
        json={"current_password": current, "new_password": new},
    )


def test_a_user_changes_their_password_and_other_tokens_are_revoked(client: TestClient) -> None:
    used, other, third = _token(client, "laptop"), _token(client, "phone"), _token(client, "ci")
    r = _change(client, used, OLD, NEW)
    assert r.status_code == 200, r.text
    assert r.json() == {"revoked_tokens": 2}
    # The old password is gone, the new one signs in; the token used goes on, the others not.
    assert client.get("/api/me", headers=basic(NAME, OLD)).status_code == 401
    assert client.get("/api/me", headers=basic(NAME, NEW)).json()["username"] == NAME
    assert client.get("/api/me", headers=used).json()["username"] == NAME
    for revoked in (other, third):
        answer = client.get("/api/me", headers=revoked)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    names = [t["name"] for t in client.get("/api/tokens", headers=used).json()]
    assert names == ["laptop"]
    # Changed with the password itself (HTTP Basic): no token is kept.
    again = _change(client, basic(NAME, NEW), NEW, "yet-another-pass-42")
    assert again.status_code == 200 and again.json() == {"revoked_tokens": 1}
    assert client.get("/api/me", headers=used).status_code == 401
    # Other users are untouched.
    assert client.get("/api/me", headers=ADMIN).json()["username"] == "admin"


def test_wrong_current_password_is_refused_and_throttled(client: TestClient) -> None:
    token = _token(client, "t")
    for lang, word in (("en", "current password is wrong"), ("ja", "現在のパスワード")):
        r = _change(client, token, "not-my-password", NEW, lang)
        assert r.status_code == 403, r.text
        assert (
            r.json()["error"]["code"] == "wrong_password" and word in r.json()["error"]["message"]
        )
    assert _change(client, token, "still-not-it", NEW).status_code == 403
    # The limit reached: refused without checking, even with the right password.
    r = _change(client, token, OLD, NEW)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(r.headers["Retry-After"]) <= 600
    # Nothing changed; sign-in itself (its own counter) and the token still work.
    assert client.get("/api/me", headers=basic(NAME, OLD)).json()["username"] == NAME
    assert client.get("/api/me", headers=token).status_code == 200
    # Another user's password change is not throttled by it.
    assert _change(client, ADMIN, "wrong-admin-guess", NEW).status_code == 403


def test_the_new_password_must_follow_the_rules(client: TestClient) -> None:
    token = _token(client, "t")
    cases = [
        ("short-1", "10 characters", "10 文字以上"),
        (NAME, "10 characters", "10 文字以上"),  # too short before it is the username
        ("password123", "commonly used", "よく使われている"),
        ("aaaaaaaaaaaa", "repeated character", "繰り返し"),
        # Containing the user name, in any case, is refused like being it (issue 23, item 8).
        ("My-WALKER-pass-2026", "contain the username", "ユーザー名を含む"),
    ]
    for new, en, ja in cases:
        for lang, word in (("en", en), ("ja", ja)):
            r = _change(client, token, OLD, new, lang)
            assert r.status_code == 422, (new, r.text)
            body = r.json()["error"]
            assert body["code"] == "weak_password" and word in body["message"], (new, body)
    # Refused: the password and the tokens are as they were.
    assert client.get("/api/me", headers=basic(NAME, OLD)).status_code == 200
    assert client.get("/api/me", headers=token).status_code == 200
    # A missing field is a validation error in the catalogue's shape.
    r = client.post("/api/me/password", headers=token, json={"new_password": NEW})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert client.post("/api/me/password", json={}).status_code == 401


# --- the web form -----------------------------------------------------------------------------


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="')[1].split('"')[0]


def _signed_in(app_client: TestClient) -> TestClient:
    browser = TestClient(app_client.app)
    csrf = _csrf(browser.get("/login").text)
    r = browser.post(
        "/login",
        data={"username": NAME, "password": OLD, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return browser


def _post_form(browser: TestClient, current: str, new: str, csrf: str, lang: str = "en") -> Any:
    return browser.post(
        f"/account/password?lang={lang}",
        data={"current_password": current, "new_password": new, "csrf": csrf},
        follow_redirects=False,
    )


def test_the_account_page_changes_the_password(client: TestClient) -> None:
    token = _token(client, "script")
    browser = _signed_in(client)
    page = browser.get("/tokens?lang=ja")
    assert page.status_code == 200
    assert "パスワードの変更" in page.text and 'action="/account/password"' in page.text
    csrf = _csrf(page.text)
    # Errors come back on the page, in the page's language, with the API's status.
    wrong = _post_form(browser, "not-the-password", NEW, csrf, "ja")
    assert wrong.status_code == 403 and "現在のパスワードが正しくありません" in wrong.text
    weak = _post_form(browser, OLD, "short", csrf)
    assert weak.status_code == 422 and "use at least 10 characters" in weak.text
    done = _post_form(browser, OLD, NEW, csrf)
    assert done.status_code == 303
    assert done.headers["location"] == "/tokens?password=changed#password"
    shown = browser.get("/tokens?password=changed&lang=en")
    assert "Your password was changed" in shown.text
    # This browser stays signed in; the new password signs in; the API token is revoked.
    assert browser.get("/", follow_redirects=False).status_code == 200
    assert client.get("/api/me", headers=basic(NAME, NEW)).status_code == 200
    assert client.get("/api/me", headers=basic(NAME, OLD)).status_code == 401
    assert client.get("/api/me", headers=token).status_code == 401


def test_the_form_needs_the_csrf_token_and_a_session(client: TestClient) -> None:
    browser = _signed_in(client)
    forged = _post_form(browser, OLD, NEW, "forged-token")
    assert forged.status_code == 403 and "The form has expired" in forged.text
    signed_out = _post_form(TestClient(client.app), OLD, NEW, "x")
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")
    assert client.get("/api/me", headers=basic(NAME, OLD)).status_code == 200


def test_the_form_is_throttled_like_the_api(client: TestClient) -> None:
    browser = _signed_in(client)
    csrf = _csrf(browser.get("/tokens").text)
    for _ in range(LIMIT):
        assert _post_form(browser, "guess-guess-1", NEW, csrf).status_code == 403
    blocked = _post_form(browser, OLD, NEW, csrf)
    assert blocked.status_code == 429 and "Too many failed" in blocked.text
    assert int(blocked.headers["Retry-After"]) > 0
    # The API shares the count: it is per account, whichever way the guesses came.
    r = _change(client, basic(NAME, OLD), OLD, NEW)
    assert r.status_code == 429


def test_a_password_change_ends_the_users_other_browser_sessions(client: TestClient) -> None:
    changer, other = _signed_in(client), _signed_in(client)
    csrf_other = _csrf(other.get("/tokens").text)
    assert other.get("/api/me").status_code == 200
    csrf = _csrf(changer.get("/tokens").text)
    assert _post_form(changer, OLD, NEW, csrf).status_code == 303
    # The other browser's cookie is still validly signed, but it is no longer a session.
    assert other.get("/", follow_redirects=False).status_code == 303
    assert other.get("/api/me").status_code == 401
    late = other.post(
        "/api/tokens", headers={"X-CSRF-Token": csrf_other}, json={"name": "stolen-cookie"}
    )
    assert late.status_code == 401
    assert changer.get("/api/me").json()["username"] == NAME
    assert changer.get("/tokens").status_code == 200


def test_an_admin_password_reset_ends_the_users_browser_sessions(client: TestClient) -> None:
    browser = _signed_in(client)
    assert browser.get("/api/me").status_code == 200
    uid = client.get("/api/me", headers=basic(NAME, OLD)).json()["id"]
    reset = client.patch(f"/api/users/{uid}", headers=ADMIN, json={"password": NEW})
    assert reset.status_code == 200, reset.text
    assert browser.get("/api/me").status_code == 401
    assert browser.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_an_admin_password_reset_revokes_the_users_api_tokens(client: TestClient) -> None:
    token = _token(client, "laptop")
    uid = client.get("/api/me", headers=token).json()["id"]
    reset = client.patch(f"/api/users/{uid}", headers=ADMIN, json={"password": NEW})
    assert reset.status_code == 200, reset.text
    # Refused in this process at once (the cache is cleared on commit) and gone from the table.
    assert client.get("/api/me", headers=token).status_code == 401
    assert client.get("/api/tokens", headers=basic(NAME, NEW)).json() == []
    assert client.get("/api/me", headers=basic(NAME, OLD)).status_code == 401


def test_disabling_a_user_revokes_their_api_tokens(client: TestClient) -> None:
    token = _token(client, "laptop")
    uid = client.get("/api/me", headers=token).json()["id"]
    off = client.patch(f"/api/users/{uid}", headers=ADMIN, json={"is_active": False})
    assert off.status_code == 200, off.text
    assert client.get("/api/me", headers=token).status_code == 401
    assert client.get("/api/me", headers=basic(NAME, OLD)).status_code == 401
    # Enabled again, the old token stays dead: only the password gives access.
    on = client.patch(f"/api/users/{uid}", headers=ADMIN, json={"is_active": True})
    assert on.status_code == 200, on.text
    assert client.get("/api/me", headers=token).status_code == 401
    assert client.get("/api/tokens", headers=basic(NAME, OLD)).json() == []


def test_a_cookie_in_the_old_signed_format_is_not_a_session(client: TestClient) -> None:
    # What earlier versions sent: signed, readable data. Sessions are rows now (accounts/sessions.py),
    # so a cookie carrying a user id, however it was made, opens nothing.
    uid = client.get("/api/me", headers=basic(NAME, OLD)).json()["id"]
    payload = base64.b64encode(json.dumps({"user_id": uid, "auth": "x"}).encode()).decode()
    browser = TestClient(client.app)
    browser.cookies.set("formcoach_session", f"{payload}.Zs1Vxw.c2lnbmF0dXJl")
    assert browser.get("/api/me").status_code == 401
    assert browser.get("/", follow_redirects=False).status_code == 303
    # Signing in properly gives a session for the same user.
    assert _signed_in(client).get("/api/me").json()["id"] == uid
