"""Access control, walked over every route of the app.

The owner is the admin of the shared live app, who owns the two completed fixture runs (their
files, report, tracks, drill videos) and an API token. Every route is called as another
(non-admin) user, anonymously and with the owner's revoked token, on the owner's ids. Other
users get 404 (never 403, which would confirm the id exists) for anything owned, 403 only on
admin routes and then the same answer for an id that does not exist; callers without valid
credentials get 401 on the API and the sign-in redirect on pages; nothing of the owner's leaks
and nothing changes. The route table below must list every route: a new route fails the test
until its access rule is written down here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount

from formcoach.kit.errors import CATALOGUE
from formcoach.kit.settings import Settings
from tests.conftest import SINGLE_PERSON, TWO_PEOPLE
from tests.support.apputil import ADMIN, ADMIN_PW, basic, wait_for_run

OTHER_NAME, OTHER_PW = "acl-other", "other-user-password-7"
OWNER_TOKEN_NAME = "acl-owner-token-secret-name"
MISSING_ID = 987654


@dataclass
class Rule:
    """How one route must answer. ``kind``:

    public   anyone (no credentials needed, no user data)
    form     a public web form (CSRF-protected; refuses or redirects, never 5xx)
    shared   any signed-in user; the same non-personal data for everyone (service info, catalogues)
    own      acts on the caller's own data only (lists, me, create)
    owned    addresses the owner's ids: another user gets 404 not_found
    admin    administrators only: another user gets 403, the same for a missing id
    page     a web page: signed-out callers are sent to /login
    owned_page  a web page of the owner's run: another user gets the 404 page
    """

    kind: str
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    query: dict[str, Any] = field(default_factory=dict)


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): Rule("public"),
    ("GET", "/docs"): Rule("public"),
    ("GET", "/docs/oauth2-redirect"): Rule("public"),
    ("GET", "/api/health"): Rule("public"),
    ("GET", "/api/ready"): Rule("public"),
    ("GET", "/metrics"): Rule("admin"),
    ("GET", "/api/gateway/"): Rule("shared"),
    ("POST", "/api/users"): Rule(
        "admin", body={"username": "acl-new", "password": "newcomer-password-1"}
    ),
    ("GET", "/api/users"): Rule("admin"),
    ("DELETE", "/api/users/{user_id}"): Rule("admin"),
    ("PATCH", "/api/users/{user_id}"): Rule(
        "admin", body={"language": "en", "password": "taken-over-password-1"}
    ),
    ("GET", "/api/me"): Rule("own"),
    # The caller's own password: a weak new one answers 422 and changes nothing (a wrong
    # current one would count against the caller's throttle).
    ("POST", "/api/me/password"): Rule(
        "own", body={"current_password": OTHER_PW, "new_password": "short"}
    ),
    ("POST", "/api/tokens"): Rule("own", body={"name": "acl-other-token"}),
    ("GET", "/api/tokens"): Rule("own"),
    ("DELETE", "/api/tokens/{token_id}"): Rule("owned"),
    ("POST", "/api/runs"): Rule("own"),
    # Resumable uploads: an upload id of another user answers 404 (tests/gateway/test_tus_uploads.py,
    # which also checks HEAD: this table skips HEAD routes).
    ("POST", "/api/uploads"): Rule("own"),
    # tus discovery: what the server speaks, the same for every signed-in user.
    ("OPTIONS", "/api/uploads"): Rule("shared"),
    ("OPTIONS", "/api/uploads/{upload_id}"): Rule("shared"),
    ("PATCH", "/api/uploads/{upload_id}"): Rule("owned"),
    ("DELETE", "/api/uploads/{upload_id}"): Rule("owned"),
    ("POST", "/api/uploads/{upload_id}/run"): Rule("owned"),
    ("POST", "/api/framing-check"): Rule("own"),
    ("GET", "/api/runs"): Rule("own"),
    ("GET", "/api/runs/{run_id}"): Rule("owned"),
    ("DELETE", "/api/runs/{run_id}"): Rule("owned"),
    ("GET", "/api/runs/{run_id}/report"): Rule("owned"),
    ("GET", "/api/runs/{run_id}/files/{name}"): Rule("owned"),
    ("GET", "/api/runs/{run_id}/compare/{other_id}"): Rule("owned"),
    ("GET", "/api/runs/{run_id}/events"): Rule("owned"),
    ("GET", "/api/runs/{run_id}/tracks"): Rule("owned"),
    ("GET", "/api/runs/{run_id}/tracks/{track_id}/thumbnail.jpg"): Rule("owned"),
    ("POST", "/api/runs/{run_id}/reanalyse"): Rule("owned", body={"subject": 1}),
    ("GET", "/api/runs/{run_id}/report.pdf"): Rule("owned"),
    ("POST", "/api/runs/{run_id}/shares"): Rule("owned"),
    ("GET", "/api/runs/{run_id}/shares"): Rule("owned"),
    ("DELETE", "/api/runs/{run_id}/shares/{share_id}"): Rule("owned"),
    # A share link opens its one report to anyone holding it (tests/gateway/test_share_links.py
    # checks that it opens nothing else); walked with a real token of the owner's run.
    ("GET", "/s/{token}"): Rule("public"),
    ("GET", "/s/{token}/files/{name}"): Rule("public"),
    ("GET", "/s/{token}/drills/{job_id}"): Rule("public"),
    ("GET", "/s/{token}/drills/{job_id}/thumbnail"): Rule("public"),
    ("GET", "/api/video-processing/"): Rule("shared"),
    ("POST", "/api/video-processing/probe"): Rule("own"),
    ("GET", "/api/pose-estimation/"): Rule("shared"),
    ("GET", "/api/feature-extraction/"): Rule("shared"),
    ("GET", "/api/analysis/"): Rule("shared"),
    ("GET", "/api/analysis/reference"): Rule("shared"),
    ("GET", "/api/advice-generation/"): Rule("shared"),
    ("GET", "/api/advice-generation/drills"): Rule("shared"),
    ("GET", "/api/advice-generation/drills/match"): Rule("shared", query={"text": "plank"}),
    ("GET", "/api/advice-generation/drills/{drill_id}"): Rule("shared"),
    ("GET", "/api/video-generation/"): Rule("shared"),
    ("POST", "/api/video-generation/generate"): Rule("owned"),
    ("GET", "/api/video-generation/drills"): Rule("shared"),
    ("GET", "/api/video-generation/status/{run_id}"): Rule("owned"),
    ("GET", "/api/video-generation/videos/{job_id}"): Rule("owned"),
    ("GET", "/api/video-generation/videos/{job_id}/thumbnail"): Rule("owned"),
    ("MOUNT", "/static"): Rule("public"),
    ("MOUNT", "/docs-assets"): Rule("public"),
    ("GET", "/runs/{run_id}"): Rule("owned_page"),
    ("GET", "/runs/{run_id}/results"): Rule("owned_page"),
    ("GET", "/runs/{run_id}/print"): Rule("owned_page"),
    ("GET", "/compare"): Rule("page"),
    ("GET", "/admin/users"): Rule("page"),
    ("GET", "/tokens"): Rule("page"),
    ("GET", "/login"): Rule("public"),
    ("POST", "/login"): Rule("form", form={"username": "admin", "password": ADMIN_PW}),
    ("POST", "/logout"): Rule("form", form={}),
    ("POST", "/language"): Rule("form", form={"lang": "en"}),
    ("POST", "/account/password"): Rule(
        "form", form={"current_password": OTHER_PW, "new_password": "taken-over-password-2"}
    ),
    ("GET", "/"): Rule("page"),
    ("GET", "/history"): Rule("page"),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, HEAD aside (it mirrors GET)."""

    def walk(routes: list[Any]) -> list[Any]:
        out: list[Any] = []
        for route in routes:
            # FastAPI keeps included routers as branches; their contexts carry the full path.
            if hasattr(route, "effective_route_contexts"):
                out += list(route.effective_route_contexts())
            else:
                out.append(route)
        return out

    found: set[tuple[str, str]] = set()
    for route in walk(list(app.router.routes)):
        if isinstance(route, Mount):
            found.add(("MOUNT", route.path))
            continue
        assert isinstance(route, BaseRoute) or hasattr(route, "path"), route
        for method in set(getattr(route, "methods", None) or ()) - {"HEAD"}:
            found.add((method, route.path))
    return found


@dataclass
class World:
    client: TestClient
    settings: Settings
    params: dict[str, Any]
    owner_secrets: list[str]


@pytest.fixture(scope="module")
def world(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> World:
    client, settings = live_app
    run_a, run_b = completed_runs["single_person"], completed_runs["two_people"]
    assert run_a["status"] == run_b["status"] == "completed"
    report = client.get(run_a["report_url"], headers=ADMIN).json()
    tracks = client.get(f"/api/runs/{run_a['id']}/tracks", headers=ADMIN).json()
    token = client.post("/api/tokens", headers=ADMIN, json={"name": OWNER_TOKEN_NAME}).json()
    revoked = client.post("/api/tokens", headers=ADMIN, json={"name": "acl-revoked"}).json()
    assert client.delete(f"/api/tokens/{revoked['id']}", headers=ADMIN).status_code == 204
    made = client.post(
        "/api/users", headers=ADMIN, json={"username": OTHER_NAME, "password": OTHER_PW}
    )
    assert made.status_code in (201, 409), made.text
    # Bearer tokens for the walk: an argon2 check per request (Basic) would only add time.
    owner = {"Authorization": f"Bearer {token['token']}"}
    other = client.post("/api/tokens", headers=basic(OTHER_NAME, OTHER_PW), json={"name": "o"})
    share = client.post(f"/api/runs/{run_a['id']}/shares", headers=ADMIN).json()
    params = {
        "owner": owner,
        "share_id": share["id"],
        "token": share["token"],
        "other": {"Authorization": f"Bearer {other.json()['token']}"},
        "run_id": run_a["id"],
        "other_id": run_b["id"],
        "name": "annotated.mp4",
        "track_id": tracks["tracks"][0]["id"] if tracks.get("tracks") else 1,
        "job_id": report["drills"][0]["video_job_id"],
        "token_id": token["id"],
        "user_id": client.get("/api/me", headers=ADMIN).json()["id"],
        "drill_id": report["drills"][0]["drill_id"],
        "revoked": revoked["token"],
        "generate": {"run_id": run_a["id"], "drill_text": report["drills"][0]["drill_id"]},
    }
    # Strings that only the owner's data contains: none may reach another caller.
    secrets = [SINGLE_PERSON.name, TWO_PEOPLE.name, OWNER_TOKEN_NAME, token["token"]]
    return World(client, settings, params, secrets)


def _url(path: str, params: dict[str, Any], **override: Any) -> str:
    values = {**params, **override}
    keys = ("run_id", "other_id", "name", "track_id", "job_id", "token_id", "user_id")
    for key in (*keys, "share_id", "token"):
        path = path.replace("{" + key + "}", str(values[key]))
    # No upload of the owner is kept open here: an id of the right shape that names none.
    path = path.replace("{upload_id}", str(values.get("upload_id", "0" * 32)))
    return path.replace("{drill_id}", str(values["drill_id"]))


def _call(
    client: TestClient,
    method: str,
    path: str,
    rule: Rule,
    world: World,
    headers: dict[str, str],
    **override: Any,
) -> Any:
    if method == "MOUNT":
        asset = "/swagger-ui.css" if path == "/docs-assets" else "/app.css"
        return client.get(path + asset, headers=headers, follow_redirects=False)
    body = world.params["generate"] if path.endswith("/generate") else rule.body
    if path.startswith("/api/uploads"):
        # A resumable upload speaks tus 1.0: without its version header every call is 412.
        tus = {"Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Offset": "0"}
        tus["Content-Type"] = "application/offset+octet-stream"
        url = _url(path, world.params, **override)
        return client.request(
            method, url, content=b"", headers={**headers, **tus}, follow_redirects=False
        )
    url = _url(path, world.params, **override)
    if rule.form is not None:
        return client.request(
            method,
            url,
            data={**rule.form, "csrf": "forged"},
            headers=headers,
            follow_redirects=False,
        )
    return client.request(
        method, url, json=body, params=rule.query, headers=headers, follow_redirects=False
    )


def _error_code(r: Any) -> str:
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    code = str(body["error"]["code"])
    assert code in CATALOGUE and CATALOGUE[code].status == r.status_code, (code, r.status_code)
    return code


def _snapshot(world: World) -> dict[str, Any]:
    c, p = world.client, world.params
    owner = p["owner"]  # the owner's bearer token
    runs = [c.get(f"/api/runs/{i}", headers=owner) for i in (p["run_id"], p["other_id"])]
    return {
        "runs": [(r.status_code, r.json()) for r in runs],
        "list": c.get("/api/runs", headers=owner).json()["total"],
        "file": c.get(f"/api/runs/{p['run_id']}/files/annotated.mp4", headers=owner).content,
        "video": c.get(f"/api/video-generation/videos/{p['job_id']}", headers=owner).status_code,
        "tokens": [t["id"] for t in c.get("/api/tokens", headers=owner).json()],
        "me": c.get("/api/me", headers=owner).json(),
        "users": [u["id"] for u in c.get("/api/users", headers=owner).json()],
    }


def test_route_table_covers_every_route(live_app: tuple[TestClient, Settings]) -> None:
    client, _ = live_app
    found = app_routes(client.app)  # type: ignore[arg-type]
    missing = found - set(RULES)
    stale = set(RULES) - found
    assert not missing, f"routes without an access rule in {__file__}: {sorted(missing)}"
    assert not stale, f"rules for routes that no longer exist: {sorted(stale)}"


def test_anonymous_and_revoked_token_get_nothing(world: World) -> None:
    before = _snapshot(world)
    anonymous = TestClient(world.client.app)
    revoked = {"Authorization": f"Bearer {world.params['revoked']}"}
    for (method, path), rule in RULES.items():
        for headers in ({}, revoked):
            r = _call(anonymous, method, path, rule, world, headers)
            where = (method, path, headers)
            assert r.status_code < 500, where
            if rule.kind in ("public", "form"):
                assert r.status_code != 401 or path == "/login", where
            elif rule.kind in ("page", "owned_page"):
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), where
            else:
                assert r.status_code == 401 and _error_code(r) == "unauthorized", where
            for secret in world.owner_secrets:
                assert secret not in r.text, (where, secret)
    assert _snapshot(world) == before


def test_another_user_cannot_read_change_or_delete(world: World) -> None:
    before = _snapshot(world)
    other = world.params["other"]
    assert world.client.get("/api/me", headers=basic(OTHER_NAME, OTHER_PW)).status_code == 200
    browser = TestClient(world.client.app)
    page = browser.get("/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    signed_in = browser.post(
        "/login",
        data={"username": OTHER_NAME, "password": OTHER_PW, "csrf": csrf},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    for (method, path), rule in RULES.items():
        where = (method, path)
        if rule.kind in ("page", "owned_page"):
            r = _call(browser, method, path, rule, world, {})
            if rule.kind == "owned_page":
                assert r.status_code == 404, where
            elif path == "/admin/users":
                assert r.status_code == 403, where
            else:
                query = {"a": world.params["run_id"], "b": world.params["other_id"]}
                r = browser.get(path, params=query if path == "/compare" else None)
                assert r.status_code == 200, where
        else:
            r = _call(world.client, method, path, rule, world, other)
            assert r.status_code < 500, (where, r.text)
            if rule.kind == "owned":
                assert r.status_code == 404 and _error_code(r) == "not_found", (where, r.text)
            elif rule.kind == "admin":
                assert r.status_code == 403 and _error_code(r) == "forbidden", where
                if "{user_id}" in path:
                    missing = _call(
                        world.client, method, path, rule, world, other, user_id=MISSING_ID
                    )
                    assert (missing.status_code, missing.json()) == (r.status_code, r.json())
            elif rule.kind in ("shared", "own", "public"):
                assert r.status_code in (200, 201, 204, 422), (where, r.status_code, r.text)
        for secret in world.owner_secrets:
            assert secret not in r.text, (where, secret)
    # The owner's ids are invisible in the other user's lists too.
    runs = world.client.get("/api/runs", headers=other).json()["items"]
    assert not {world.params["run_id"], world.params["other_id"]} & {r["id"] for r in runs}
    tokens = world.client.get("/api/tokens", headers=other).json()
    assert world.params["token_id"] not in {t["id"] for t in tokens}
    assert world.client.get("/api/me", headers=other).json()["username"] == OTHER_NAME
    # Nothing of the owner's changed: runs, files, drill video, tokens, account, users.
    assert _snapshot(world) == before


def test_owner_runs_are_hidden_from_the_owner_of_another_run(world: World, tmp_path: Path) -> None:
    """The reverse direction: the admin is "another user" for a run of the non-admin."""
    from tests.support.media import gradient_clip

    other = basic(OTHER_NAME, OTHER_PW)
    clip = gradient_clip(tmp_path / "acl-other-clip.mp4", seconds=1.5)
    with clip.open("rb") as fh:
        made = world.client.post(
            "/api/runs", headers=other, files={"video": (clip.name, fh, "video/mp4")}
        )
    assert made.status_code == 202, made.text
    run_id = made.json()["id"]
    for path in (
        f"/api/runs/{run_id}",
        f"/api/runs/{run_id}/report",
        f"/api/runs/{run_id}/tracks",
        f"/api/runs/{run_id}/files/upload.bin",
        f"/api/runs/{run_id}/compare/{world.params['run_id']}",
        f"/api/video-generation/status/{run_id}",
    ):
        r = world.client.get(path, headers=ADMIN)
        assert r.status_code == 404 and _error_code(r) == "not_found", path
        assert clip.name not in r.text
    assert world.client.delete(f"/api/runs/{run_id}", headers=ADMIN).status_code == 404
    # Its owner still has it; deleted once its job is done (a gradient has nobody: it fails fast).
    assert wait_for_run(world.client, run_id, other)["id"] == run_id
    assert world.client.delete(f"/api/runs/{run_id}", headers=other).status_code == 204
