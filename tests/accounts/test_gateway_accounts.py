"""Accounts: first admin, users API, HTTP Basic, bearer tokens, sessions, errors in ja/en."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from formcoach.accounts.users import ApiToken, User, verify_password
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.db import session_scope
from formcoach.kit.settings import Settings
from tests.support.apputil import ADMIN, basic


def test_first_admin_gets_generated_password_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    generated = prepare(settings)
    assert generated and len(generated) >= 12
    assert prepare(settings) is None  # never again, never a new password
    with session_scope(settings.db_url) as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and admin.is_admin
        assert admin.password_hash.startswith("$argon2")
        assert verify_password(admin.password_hash, generated)


def test_admin_password_from_environment(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_password="from-env-123")
    assert prepare(settings) is None
    with session_scope(settings.db_url) as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and verify_password(admin.password_hash, "from-env-123")


def test_unauthenticated_and_wrong_password_are_401_with_error_shape(
    live_app: tuple[TestClient, Settings],
) -> None:
    client, _ = live_app
    assert client.get("/api/health").json()["status"] == "ok"
    for headers in (
        {},
        basic("admin", "wrong"),
        basic("nobody", "x"),
        {"Authorization": "Bearer nope"},
    ):
        r = client.get("/api/runs", headers={**headers, "Accept-Language": "en"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
        assert "Authentication required" in r.json()["error"]["message"]
    r = client.get("/api/runs", headers={"Accept-Language": "ja"})
    assert r.json()["error"]["code"] == "unauthorized"
    assert "認証" in r.json()["error"]["message"]


def test_service_roots_answer_with_credentials(live_app: tuple[TestClient, Settings]) -> None:
    client, _ = live_app
    names = [
        "video-processing",
        "pose-estimation",
        "feature-extraction",
        "analysis",
        "advice-generation",
        "video-generation",
    ]
    for name in names:
        assert client.get(f"/api/{name}/").status_code == 401
        body = client.get(f"/api/{name}/", headers=ADMIN).json()
        assert body["service"] == name.replace("-", "_") and body["status"] == "ok"
        assert body["version"]


def test_users_api_and_tokens(live_app: tuple[TestClient, Settings]) -> None:
    client, settings = live_app
    r = client.post(
        "/api/users",
        headers=ADMIN,
        json={"username": "coach1", "password": "coach-password-1", "language": "en"},
    )
    assert r.status_code == 201, r.text
    coach_id = r.json()["id"]
    assert r.json()["language"] == "en" and not r.json()["is_admin"]
    dup = client.post(
        "/api/users",
        headers=ADMIN,
        json={"username": "coach1", "password": "another-pass-9", "language": "ja"},
    )
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "username_taken"
    bad = client.post("/api/users", headers=ADMIN, json={"username": "coach2", "password": "short"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "weak_password"

    coach = basic("coach1", "coach-password-1")
    assert [u["username"] for u in client.get("/api/users", headers=ADMIN).json()][:1] == ["admin"]
    # A non-admin cannot administer users.
    forbidden = client.get("/api/users", headers=coach)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    # The user's language drives error messages.
    assert client.get("/api/runs/999999", headers=coach).json()["error"]["message"] == "Not found."

    created = client.post("/api/tokens", headers=coach, json={"name": "laptop"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("fc_")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/runs", headers=bearer).status_code == 200
    with session_scope(settings.db_url) as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert token not in stored and all(len(h) == 64 for h in stored)
    # Another user cannot revoke it; its owner can, and then it no longer works.
    assert client.delete(f"/api/tokens/{created.json()['id']}", headers=ADMIN).status_code == 404
    assert client.delete(f"/api/tokens/{created.json()['id']}", headers=coach).status_code == 204
    assert client.get("/api/runs", headers=bearer).status_code == 401

    assert client.delete(f"/api/users/{coach_id}", headers=ADMIN).status_code == 204
    assert client.get("/api/runs", headers=coach).status_code == 401
    assert client.delete(f"/api/users/{coach_id}", headers=ADMIN).status_code == 404


def test_web_sign_in_session_and_csrf(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_password="web-password-1")
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as client:
        page = client.get("/login")
        assert page.status_code == 200 and 'name="csrf"' in page.text
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        bad = client.post("/login", data={"username": "admin", "password": "nope", "csrf": csrf})
        assert bad.status_code == 401
        no_csrf = client.post("/login", data={"username": "admin", "password": "web-password-1"})
        assert no_csrf.status_code == 401
        ok = client.post(
            "/login",
            data={"username": "admin", "password": "web-password-1", "csrf": csrf},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        home = client.get("/")
        assert home.status_code == 200 and "admin" in home.text
        # The session reads the API; changes through the API need the page's CSRF token.
        assert client.get("/api/runs").status_code == 200
        assert client.post("/api/tokens", json={"name": "x"}).status_code == 401
        token = home.text.split('name="csrf-token" content="')[1].split('"')[0]
        made = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": token})
        assert made.status_code == 201
