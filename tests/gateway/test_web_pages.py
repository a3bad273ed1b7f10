"""Web app server side: comparison and noise, user administration, run filters, language,
CSRF and cookie flags, charts (fast: no pipeline run; runs are made in the database)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from formcoach.accounts.users import User
from formcoach.analysis.compare import compare_analyses, load_sdd
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.gateway.web_charts import CHARTS, render_chart
from formcoach.gateway.web_common import safe_next
from formcoach.kit.db import session_scope
from formcoach.kit.pipeline import ANALYSIS, RunOptions, run_file
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.pipeline.stages import STAGES
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, basic


def analysis(trunk: float, knee: float, cadence: float | None) -> dict[str, Any]:
    def metric(value: float | None, unit: str, en: str) -> dict[str, Any]:
        return {"value": value, "unit": unit, "label": {"ja": "ja-" + en, "en": en}}

    return {
        "movement": "running",
        "metrics": {
            "trunk_lean_deg": metric(trunk, "deg", "trunk lean"),
            "knee_flexion_peak_left_deg": metric(knee, "deg", "left knee"),
            "cadence_spm": metric(cadence, "spm", "cadence"),
        },
    }


def test_compare_marks_changes_below_the_sdd_as_noise() -> None:
    rows = {
        r["key"]: r for r in compare_analyses(analysis(10, 40, 160), analysis(12, 50, None), "en")
    }
    trunk = rows["trunk_lean_deg"]
    assert (trunk["before"], trunk["after"], trunk["change"]) == (10, 12, 2)
    assert trunk["within_noise"] is True and trunk["sdd"] == 4.8
    assert "1.3–4.8" in trunk["sdd_source"]
    knee = rows["knee_flexion_peak_left_deg"]
    assert knee["change"] == 10 and knee["within_noise"] is False
    # No SDD is known for cadence, and a missing value gives no change at all.
    assert rows["cadence_spm"]["change"] is None and rows["cadence_spm"]["within_noise"] is None
    assert (
        compare_analyses(analysis(1, 2, 3), analysis(1, 2, 3), "ja")[0]["label"] == "ja-trunk lean"
    )


def test_sdd_section_of_the_reference_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "reference.yaml"
    path.write_text(
        "sdd:\n  by_metric:\n    trunk_lean_deg: {value: 1.3, source: Test source 2024}\n"
        "  by_unit:\n    spm: {value: 3, source: Test cadence source}\n"
    )
    table = load_sdd(path)
    assert table.lookup("trunk_lean_deg", "deg") is not None
    rows = {
        r["key"]: r
        for r in compare_analyses(analysis(10, 40, 160), analysis(12, 41, 162), "en", table)
    }
    assert rows["trunk_lean_deg"]["within_noise"] is False  # 2° > 1.3° for this metric
    assert rows["knee_flexion_peak_left_deg"]["within_noise"] is None  # no deg default here
    assert rows["cadence_spm"]["within_noise"] is True
    (tmp_path / "empty.yaml").write_text("version: 1\n")
    packaged = load_sdd()
    assert packaged.lookup("any_angle_deg", "deg") is not None
    assert load_sdd(tmp_path / "empty.yaml") == packaged


def test_chart_svg_has_data_axis_and_breaks_at_gaps() -> None:
    features = {
        "times": [0.0, 0.1, 0.2, 0.3],
        "series": {"left_knee_flexion_deg": [10, None, 30, 40], "right_knee_flexion_deg": [5] * 4},
    }
    svg = str(render_chart(CHARTS[0], features, "en"))
    assert svg.startswith("<svg") and 'data-t1="0.3000"' in svg and 'class="playhead"' in svg
    left_path = re.findall(r'<path d="([^"]+)"', svg)[0]
    assert left_path.count("M") == 2  # the missing frame splits the line
    assert render_chart(CHARTS[2], features, "en") is None  # no trunk series: no empty chart


def test_safe_next_refuses_other_sites() -> None:
    assert safe_next("/runs/3") == "/runs/3"
    for bad in ("//evil.example", "https://evil.example", "/\\evil", None, ""):
        assert safe_next(bad) == "/"


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    settings = make_settings(tmp_path / "data")
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as client:
        yield client, settings


def _add_run(settings: Settings, filename: str, movement: str, created: datetime) -> int:
    # The person label is the file name's first word: "anna-june.mp4" -> "Anna".
    person = filename.split("-")[0].capitalize()
    with session_scope(settings.db_url) as session:
        admin = session.query(User).filter_by(username="admin").one()
        options = RunOptions(movement=movement)
        run = runs_service.create_run(
            session, admin, options, filename, 10, person=person, stages=STAGES
        )
        run.created_at = created
        return int(run.id)


def test_user_administration(app: tuple[TestClient, Settings]) -> None:
    client, _ = app
    made = client.post(
        "/api/users", headers=ADMIN, json={"username": "coach", "password": "trainer-password"}
    )
    uid = made.json()["id"]
    coach = basic("coach", "trainer-password")
    assert client.get("/api/me", headers=coach).status_code == 200
    # A user changes their own language, nothing else.
    assert (
        client.patch(f"/api/users/{uid}", headers=coach, json={"language": "en"}).json()["language"]
        == "en"
    )
    denied = client.patch(f"/api/users/{uid}", headers=coach, json={"is_admin": True})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    assert client.patch("/api/users/1", headers=coach, json={"language": "en"}).status_code == 403
    # The admin disables, enables and resets the password.
    assert (
        client.patch(f"/api/users/{uid}", headers=ADMIN, json={"is_active": False}).json()[
            "is_active"
        ]
        is False
    )
    assert client.get("/api/me", headers=coach).status_code == 401
    client.patch(
        f"/api/users/{uid}", headers=ADMIN, json={"is_active": True, "password": "new-password-1"}
    )
    assert client.get("/api/me", headers=coach).status_code == 401
    assert client.get("/api/me", headers=basic("coach", "new-password-1")).status_code == 200
    selfban = client.patch("/api/users/1", headers=ADMIN, json={"is_active": False})
    assert selfban.status_code == 422
    short = client.patch(f"/api/users/{uid}", headers=ADMIN, json={"password": "short"})
    assert short.status_code == 422
    # Tokens are listed without their secret.
    client.post("/api/tokens", headers=ADMIN, json={"name": "ci"})
    tokens = client.get("/api/tokens", headers=ADMIN).json()
    assert [t["name"] for t in tokens] == ["ci"] and tokens[0]["token"] is None


def test_run_filters_and_compare(app: tuple[TestClient, Settings]) -> None:
    client, settings = app
    a = _add_run(settings, "anna-march.mp4", "running", datetime(2026, 3, 1, 9, tzinfo=UTC))
    b = _add_run(settings, "anna-june.mp4", "running", datetime(2026, 6, 1, 9, tzinfo=UTC))
    _add_run(settings, "ben-squat.mp4", "squat", datetime(2026, 6, 2, 9, tzinfo=UTC))

    def ids(**query: str) -> list[int]:
        body = client.get("/api/runs", headers=ADMIN, params=query).json()
        return [r["id"] for r in body["items"]]

    assert ids() == [3, b, a]  # newest first
    assert ids(movement="running") == [b, a]
    assert ids(person="ANNA") == [b, a]
    assert ids(person="june") == []  # the person label is searched, not the file name
    assert ids(person="%") == []  # a wildcard is a literal character here
    assert ids(date_from="2026-05-01") == [3, b]
    assert ids(date_to="2026-06-01") == [b, a]
    assert ids(date_from="2026-06-01", date_to="2026-06-01", movement="running") == [b]

    not_ready = client.get(f"/api/runs/{a}/compare/{b}", headers=ADMIN)
    assert not_ready.status_code == 409 and not_ready.json()["error"]["code"] == "run_not_ready"
    storage = LocalStorage(settings.files_dir)
    with session_scope(settings.db_url) as session:
        for run_id, data in ((a, analysis(20, 40, 160)), (b, analysis(18, 30, 170))):
            row = session.get(Run, run_id)
            assert row is not None
            row.status = "completed"
            storage.put_bytes(run_file(row.run_key, ANALYSIS), json.dumps(data).encode())
    body = client.get(f"/api/runs/{a}/compare/{b}?lang=ja", headers=ADMIN).json()
    rows = {m["key"]: m for m in body["metrics"]}
    assert body["same_movement"] is True
    assert rows["trunk_lean_deg"]["within_noise"] is True
    assert rows["knee_flexion_peak_left_deg"]["within_noise"] is False
    assert rows["trunk_lean_deg"]["label"] == "ja-trunk lean"
    # Verdicts beside the noise tags; both are labelled "Anna", no stature was entered.
    assert rows["trunk_lean_deg"]["verdict"] == "no_change"
    assert rows["knee_flexion_peak_left_deg"]["verdict"] == "lower"  # no reference range
    assert body["subject"]["by_label"] == "same" and body["subject"]["by_height"] == "unknown"
    assert body["subject"]["different"] is False
    assert client.get(f"/api/runs/{a}/compare/999", headers=ADMIN).status_code == 404


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found
    return found.group(1)


def test_language_csrf_and_cookies(app: tuple[TestClient, Settings]) -> None:
    client, _ = app
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in page.text and "Sign in" in page.text
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    token = _csrf(page.text)
    # A forged form (no token) neither signs in nor changes the language.
    forged = client.post("/login", data={"username": "admin", "password": "root-test-pw9"})
    assert forged.status_code == 401
    client.post("/language", data={"lang": "ja"}, follow_redirects=False)
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "en"}).text
    signed = client.post(
        "/login",
        data={"username": "admin", "password": "root-test-pw9", "csrf": token, "next": "/history"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/history"
    token = _csrf(client.get("/history").text)
    moved = client.post(
        "/language", data={"lang": "en", "csrf": token, "next": "//evil"}, follow_redirects=False
    )
    assert moved.headers["location"] == "/"
    assert client.get("/api/me", headers=ADMIN).json()["language"] == "en"
    assert "History" in client.get("/history", headers={"Accept-Language": "ja"}).text
    # An API change from the page needs the token too.
    assert client.delete("/api/tokens/1").status_code == 401


def test_secure_cookie_behind_tls(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", secure_cookies=True)
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie


def test_pages_need_sign_in(app: tuple[TestClient, Settings]) -> None:
    client, _ = app
    for path in ("/", "/history", "/compare", "/tokens", "/admin/users", "/runs/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/static/app.css").status_code == 200


def _sign_in(client: TestClient) -> None:
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"username": "admin", "password": "root-test-pw9", "csrf": token})


def test_history_filters_from_the_form(app: tuple[TestClient, Settings]) -> None:
    client, settings = app
    _add_run(settings, "anna-june.mp4", "running", datetime(2026, 6, 1, 9, tzinfo=UTC))
    _add_run(settings, "ben-squat.mp4", "squat", datetime(2026, 6, 2, 9, tzinfo=UTC))
    _sign_in(client)
    # The filter form sends every field, empty ones included.
    page = client.get("/history?person=&movement=squat&date_from=&date_to=").text
    assert "ben-squat.mp4" in page and "anna-june.mp4" not in page
    page = client.get("/history?person=anna&movement=&date_from=2026-06-01&date_to=bad").text
    assert "anna-june.mp4" in page and "ben-squat.mp4" not in page
    assert '<td class="person">Anna</td>' in page
    # The upload form suggests the persons already used, most recent first.
    home = client.get("/").text
    assert '<datalist id="persons"><option value="Ben"></option><option value="Anna">' in home
    # A queued run shows its stages; its results fragment is not there yet.
    run_page = client.get("/runs/1").text
    assert 'id="progress-card"' in run_page and 'data-stage="drill_videos"' in run_page
    assert client.get("/runs/1/results").status_code == 409
    assert client.get("/runs/99").status_code == 404


def test_language_chosen_before_sign_in_is_remembered(app: tuple[TestClient, Settings]) -> None:
    client, _ = app
    token = _csrf(client.get("/login").text)
    client.post("/language", data={"lang": "en", "csrf": token, "next": "/login"})
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "ja"}).text
    _sign_in(client)
    assert client.get("/api/me", headers=ADMIN).json()["language"] == "en"
