"""The subject picker through the API on the real two-people clip: tracks, thumbnails cut from
the proxy video, and a second run of the same upload analysing the other person."""

from __future__ import annotations

import json
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient

from formcoach.kit.pipeline import POSE_META, run_file
from formcoach.kit.settings import Settings
from formcoach.kit.storage import get_storage
from tests.support.apputil import ADMIN, basic, run_folder_key, wait_for_run


def test_tracks_thumbnails_and_reanalysis(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> None:
    client, settings = live_app
    storage = get_storage(settings)
    run = completed_runs["two_people"]
    run_id = run["id"]
    body = client.get(f"/api/runs/{run_id}/tracks", headers=ADMIN).json()
    pose = json.loads(
        storage.get_bytes(run_file(run_folder_key(settings.db_url, run_id), POSE_META))
    )
    tracks = body["tracks"]
    assert len(tracks) >= 2, tracks
    assert body["subject"] == pose["subject"] is not None
    assert [t["id"] for t in tracks] == [t["id"] for t in pose["tracks"]]
    assert [t["id"] for t in tracks if t["analysed"]] == [pose["subject"]]
    for track, stored in zip(tracks, pose["tracks"], strict=True):
        x0, y0, x1, y1 = track["box"]
        assert 0 <= x0 < x1 and 0 <= y0 < y1 and track["frames"] > 0
        # Why each person scored what they did (issue 19 item 6): the parts of the score.
        assert track["parts"] == stored["parts"]
        assert {"size", "seen", "whole_body", "centrality", "motion", "travel"} <= set(
            track["parts"]
        )
    # Truth (SOURCES.md): the clip is about the woman who walks across (asked as auto here).
    walker = max(tracks, key=lambda t: t["parts"]["travel"])
    assert body["subject"] == walker["id"] and walker["parts"]["travel"] >= 3.0

    # Each thumbnail is a JPEG crop of the person at the configured height, cached as a run
    # artifact.
    images = []
    for track in tracks:
        response = client.get(track["thumbnail_url"], headers=ADMIN)
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[0] == settings.track_thumbnail_px and image.shape[1] > 10
        # A real crop of footage, not a flat placeholder.
        assert float(image.std()) > 10
        assert storage.exists(
            run_file(run_folder_key(settings.db_url, run_id), f"track_{track['id']}.jpg")
        )
        again = client.get(track["thumbnail_url"], headers=ADMIN)
        assert again.content == response.content
        images.append(image)
    assert not np.array_equal(images[0], images[1])
    missing = client.get(f"/api/runs/{run_id}/tracks/999/thumbnail.jpg", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    # Owner-only: another user sees none of it.
    made = client.post(
        "/api/users", headers=ADMIN, json={"username": "tracks2", "password": "tracks-password"}
    )
    assert made.status_code == 201, made.text
    other = basic("tracks2", "tracks-password")
    for method, url in (
        ("GET", f"/api/runs/{run_id}/tracks"),
        ("GET", tracks[0]["thumbnail_url"]),
        ("POST", f"/api/runs/{run_id}/reanalyse"),
    ):
        r = client.request(method, url, headers=other, json={"subject": tracks[0]["id"]})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", url

    unknown = client.post(f"/api/runs/{run_id}/reanalyse", headers=ADMIN, json={"subject": 99})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "subject_not_found"
    bad = client.post(f"/api/runs/{run_id}/reanalyse", headers=ADMIN, json={"subject": 0})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"

    # Analyse the other person: a new run from the same upload with that subject.
    # The other person seen the longest (one seen only briefly fails: too few frames).
    chosen = max((t for t in tracks if not t["analysed"]), key=lambda t: t["frames"])["id"]
    created = client.post(f"/api/runs/{run_id}/reanalyse", headers=ADMIN, json={"subject": chosen})
    assert created.status_code == 202, created.text
    new_id = created.json()["id"]
    assert new_id != run_id
    assert storage.get_bytes(
        run_file(run_folder_key(settings.db_url, new_id), "upload.bin")
    ) == storage.get_bytes(run_file(run_folder_key(settings.db_url, run_id), "upload.bin"))
    second = wait_for_run(client, new_id, ADMIN)
    assert second["subject"] == chosen
    # Pose ran with the chosen subject; whether that person's movement can then be judged
    # depends on the footage (e.g. movement_uncertain for someone barely moving).
    assert [s["status"] for s in second["stages"][:2]] == ["done", "done"], second["error"]
    assert (second["movement"], second["original_filename"]) == (
        run["movement"],
        run["original_filename"],
    )
    again = client.get(f"/api/runs/{new_id}/tracks", headers=ADMIN).json()
    assert again["subject"] == chosen
    assert [t["id"] for t in again["tracks"] if t["analysed"]] == [chosen]
    if second["status"] != "completed":
        assert second["error"]["code"] and second["error"]["message"]
        return
    # A different person gives a different measurement of the same clip.
    before = client.get(f"/api/runs/{run_id}/report", headers=ADMIN).json()
    after = client.get(f"/api/runs/{new_id}/report", headers=ADMIN).json()
    assert after["pose"]["frames_with_subject"] != before["pose"]["frames_with_subject"] or any(
        after["metrics"][k]["value"] != m["value"]
        for k, m in before["metrics"].items()
        if k in after["metrics"]
    )


def test_a_close_runner_up_puts_the_people_picker_before_the_report(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> None:
    # Issue 19 item 6: when two people score close, the report says so and the results page
    # shows the people first. On this clip the man (187.8) and the woman (172.3) were within
    # the 20 % margin by size x time seen; the performer score, with motion and travel, puts
    # the woman clearly first (0.24 against 0.17), so either branch may hold here.
    from tests.gateway.test_web_pages import _sign_in

    client, _ = live_app
    run = completed_runs["two_people"]
    report = client.get(run["report_url"], headers=ADMIN).json()
    choice = report["pose"]["subject_choice"]
    codes = [f["code"] for f in report["findings"]]
    people = client.get(f"/api/runs/{run['id']}/tracks", headers=ADMIN).json()["tracks"]
    _sign_in(client)
    page = client.get(f"/runs/{run['id']}").text
    # Each person's card says why the choice is who it is.
    assert page.count('class="small muted subject-parts"') == len(people)
    client.cookies.clear()  # the shared client goes on with Basic auth only
    if choice["close"] and choice["basis"] != "requested":
        assert codes[0] == "subject_candidates_close", codes
        assert 'id="people-close"' in page
        assert page.index('id="people"') < page.index('id="summary"')
    else:
        assert "subject_candidates_close" not in codes
        assert 'id="people-close"' not in page
        assert page.index('id="summary"') < page.index('id="people"')
    # The single-person clip has no one to confuse.
    single = client.get(completed_runs["single_person"]["report_url"], headers=ADMIN).json()
    assert "subject_candidates_close" not in [f["code"] for f in single["findings"]]
