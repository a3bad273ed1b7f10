"""The run pipeline through the API on the real fixture clips, and every upload error code."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from formcoach.analysis.schemas import Status
from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.pipeline import MOVEMENTS
from formcoach.kit.settings import Settings
from formcoach.kit.video_io import is_playable_h264
from tests.conftest import make_settings
from tests.support.apputil import ADMIN, basic, run_folder_key, upload, wait_for_run
from tests.support.media import gradient_clip, long_clip

SEVERITIES = {"info", "minor", "moderate", "major"}
# Every metric status the analysis schema allows ("borderline": within error of a limit).
STATUSES = set(get_args(Status))


def check_report_contract(report: dict[str, Any], run_id: int) -> None:
    assert report["schema"] == "formcoach.report/1"
    assert report["run_id"] == run_id
    assert report["language"] in ("ja", "en")
    assert report["movement"] in (*MOVEMENTS, "other") and report["movement"] != "auto"
    video = report["video"]
    assert video["fps"] > 0 and video["frames"] > 0 and video["duration_s"] > 0
    assert video["width"] > 0 and video["height"] > 0
    pose = report["pose"]
    assert pose["model"] == "mediapipe-pose-full"
    assert 0 < pose["frames_with_subject"] <= video["frames"]
    assert 0 < pose["detection_rate"] <= 1
    choice = pose["subject_choice"]
    assert isinstance(choice["chosen"], int) and isinstance(choice["close"], bool)
    assert choice["chosen"] not in {a["id"] for a in choice["alternatives"]}
    assert report["metrics"], "a report always has metrics"
    for key, metric in report["metrics"].items():
        assert key == key.lower() and " " not in key
        assert metric["status"] in STATUSES
        assert "unit" in metric and "value" in metric
        if metric["reference"] is not None:
            assert metric["reference"]["source"]
    for finding in report["findings"]:
        assert finding["code"] and finding["severity"] in SEVERITIES and finding["message"]
        for ev in finding["evidence"]:
            assert 0 <= ev["start_s"] <= ev["end_s"]
    assert report["advice"] and report["drills"]
    for item in report["advice"]:
        assert item["title"] and item["text"]
    for drill in report["drills"]:
        assert drill["name"] and drill["dose"] and drill["cues"]
        assert drill["video_url"].startswith("/api/video-generation/videos/")
    for key in ("annotated_video", "keypoints_csv", "angles_csv", "proxy_video"):
        assert report["files"][key].startswith(f"/api/runs/{run_id}/files/")


def test_fixture_clips_complete_with_contract(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> None:
    client, _ = live_app
    for name, run in completed_runs.items():
        assert run["status"] == "completed", (name, run["error"])
        assert run["progress"] == 100
        assert [s["status"] for s in run["stages"]] == ["done"] * 7
        assert all(s["duration_s"] is not None for s in run["stages"])
        report = client.get(run["report_url"], headers=ADMIN).json()
        check_report_contract(report, run["id"])
        assert report["language"] == "ja"
        # The same report can be read in English.
        english = client.get(run["report_url"] + "?lang=en", headers=ADMIN).json()
        assert english["language"] == "en"

        def numbers(r: dict[str, Any]) -> dict[str, Any]:
            return {k: (m["value"], m["status"], m["reference"]) for k, m in r["metrics"].items()}

        assert numbers(english) == numbers(report)
    portrait = client.get(completed_runs["single_person"]["report_url"], headers=ADMIN).json()
    assert (portrait["video"]["width"], portrait["video"]["height"]) == (1080, 1920)
    assert portrait["video"]["frames"] == 100 and portrait["video"]["fps"] == pytest.approx(60)
    assert portrait["pose"]["detection_rate"] > 0.9
    # Issue 18: the view comes from the footage (the lab's camera 1 is ~41° off side-on);
    # no view was chosen (the default is "auto"), so nothing is said to differ from a choice.
    assert portrait["view"] == "oblique" and portrait["view_requested"] == "auto"
    assert not any(f["code"] == "view_differs" for f in portrait["findings"])
    walker = client.get(completed_runs["two_people"]["report_url"], headers=ADMIN).json()
    assert walker["view"] == "side"


def test_artifacts_are_served_with_ranges_and_play(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    client, _ = live_app
    run = completed_runs["two_people"]
    report = client.get(run["report_url"], headers=ADMIN).json()
    url = report["files"]["annotated_video"]
    full = client.get(url, headers=ADMIN)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"
    part = client.get(url, headers={**ADMIN, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    video = tmp_path / "annotated.mp4"
    video.write_bytes(full.content)
    assert is_playable_h264(video)
    drill = client.get(report["drills"][0]["video_url"], headers=ADMIN)
    assert drill.status_code == 200
    (tmp_path / "drill.mp4").write_bytes(drill.content)
    assert is_playable_h264(tmp_path / "drill.mp4")
    csv = client.get(report["files"]["keypoints_csv"], headers=ADMIN)
    assert csv.status_code == 200 and csv.text.count("\n") == report["video"]["frames"] + 1
    # Only the run's own artifacts by their fixed names, never arbitrary paths.
    for name in ("upload.bin", "..%2F..%2Fformcoach.db", "secret_key"):
        assert client.get(f"/api/runs/{run['id']}/files/{name}", headers=ADMIN).status_code == 404


def test_other_users_runs_are_not_found(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> None:
    client, _ = live_app
    client.post(
        "/api/users", headers=ADMIN, json={"username": "other1", "password": "other-password-1"}
    )
    other = basic("other1", "other-password-1")
    run_id = completed_runs["two_people"]["id"]
    for method, url in (
        ("GET", f"/api/runs/{run_id}"),
        ("GET", f"/api/runs/{run_id}/report"),
        ("GET", f"/api/runs/{run_id}/files/annotated.mp4"),
        ("DELETE", f"/api/runs/{run_id}"),
        ("GET", f"/api/video-generation/status/{run_id}"),
    ):
        r = client.request(method, url, headers=other)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", url
    assert client.get("/api/runs", headers=other).json()["total"] == 0
    assert client.get(f"/api/runs/{run_id}", headers=ADMIN).status_code == 200


def test_list_is_newest_first_and_paginated(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]]
) -> None:
    client, _ = live_app
    page = client.get("/api/runs?per_page=1", headers=ADMIN).json()
    assert page["per_page"] == 1 and len(page["items"]) == 1 and page["total"] >= 2
    ids = [r["id"] for r in client.get("/api/runs", headers=ADMIN).json()["items"]]
    assert ids == sorted(ids, reverse=True)
    second = client.get("/api/runs?per_page=1&page=2", headers=ADMIN).json()["items"][0]["id"]
    assert second == ids[1]
    assert (
        client.get("/api/runs?per_page=1000", headers=ADMIN).json()["error"]["code"]
        == "validation_error"
    )


def test_seed_generate_and_status(
    live_app: tuple[TestClient, Settings], completed_runs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    client, _ = live_app
    run_id = completed_runs["single_person"]["id"]
    body = {
        "run_id": run_id,
        "drill_text": "プランク: 体幹を鍛える基本エクササイズ...",
        "size": "1280x720",
        "seconds": "4",
    }
    r = client.post("/api/video-generation/generate", headers=ADMIN, json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert set(job) >= {"run_id", "job_id", "status", "message", "video_url", "error"}
    import time

    for _ in range(240):
        status = client.get(f"/api/video-generation/status/{run_id}", headers=ADMIN).json()
        if status["status"] in ("success", "failed"):
            break
        time.sleep(0.25)
    assert status["status"] == "success", status
    assert status["job_id"] == job["job_id"] and status["error"] is None
    assert any(j["job_id"] == job["job_id"] for j in status["jobs"])
    video = client.get(status["video_url"], headers=ADMIN)
    assert video.status_code == 200
    (tmp_path / "plank.mp4").write_bytes(video.content)
    assert is_playable_h264(tmp_path / "plank.mp4")
    unknown = client.post(
        "/api/video-generation/generate",
        headers=ADMIN,
        json={**body, "drill_text": "juggling chainsaws"},
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_drill"
    bad_size = client.post(
        "/api/video-generation/generate", headers=ADMIN, json={**body, "size": "640x480"}
    )
    assert bad_size.status_code == 422 and bad_size.json()["error"]["code"] == "validation_error"
    missing = client.post(
        "/api/video-generation/generate", headers=ADMIN, json={**body, "run_id": 99999}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("make", "code", "status"),
    [
        ("text", "not_a_video", 415),
        ("truncated", "not_a_video", 415),
        ("empty", "empty_file", 422),
        ("short", "video_too_short", 422),
        ("four_hours", "video_too_long", 422),
    ],
)
def test_bad_uploads_are_rejected_and_leave_nothing(
    live_app: tuple[TestClient, Settings],
    fixture_videos: dict[str, Path],
    tmp_path: Path,
    make: str,
    code: str,
    status: int,
) -> None:
    client, settings = live_app
    path = tmp_path / "clip.mp4"
    if make == "text":
        path.write_text("this is not a video\n" * 100)
    elif make == "truncated":
        path.write_bytes(fixture_videos["two_people"].read_bytes()[:200_000])
    elif make == "empty":
        path.write_bytes(b"")
    elif make == "short":
        gradient_clip(path, seconds=0.5)
    else:
        long_clip(path, seconds=4 * 3600)
    before = client.get("/api/runs", headers=ADMIN).json()["total"]
    for lang, word in (("en", None), ("ja", None)):
        r = upload(client, path, {**ADMIN, "Accept-Language": lang})
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["message"] and word is None
    assert client.get("/api/runs", headers=ADMIN).json()["total"] == before
    assert not any((settings.data_dir / "tmp").iterdir())


def test_bad_fields_and_missing_file(live_app: tuple[TestClient, Settings], tmp_path: Path) -> None:
    client, _ = live_app
    clip = gradient_clip(tmp_path / "g.mp4", seconds=1.5)
    r = upload(client, clip, ADMIN, movement="swimming")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = upload(client, clip, ADMIN, height_cm="tall")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = client.post(
        "/api/runs", headers=ADMIN, data={"movement": "running"}, files={"other": ("a", b"x")}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = client.post("/api/runs", headers=ADMIN, json={"video": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_file_too_large_while_streaming(tmp_path: Path, fixture_videos: dict[str, Path]) -> None:
    settings = make_settings(tmp_path, max_upload_mb=1)
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as client:
        big = tmp_path / "big.mp4"
        shutil.copyfile(fixture_videos["two_people"], big)  # 3.9 MB
        r = upload(client, big, ADMIN)
        assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"

        # Without a Content-Length the limit still holds, counted while the bytes arrive.
        def chunks() -> Any:
            boundary = b"XyZ"
            yield b'--XyZ\r\nContent-Disposition: form-data; name="video"; filename="a.mp4"\r\n\r\n'
            for _ in range(40):
                yield b"\0" * 65536
            yield b"\r\n--" + boundary + b"--\r\n"

        r = client.post(
            "/api/runs",
            headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=XyZ"},
            content=chunks(),
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
        assert not any((settings.data_dir / "tmp").iterdir())


def test_no_person_fails_the_run_cleanly(
    live_app: tuple[TestClient, Settings], tmp_path: Path
) -> None:
    client, _ = live_app
    clip = gradient_clip(tmp_path / "empty-scene.mp4", seconds=2)
    r = upload(client, clip, {**ADMIN, "Accept-Language": "en"}, language="en")
    assert r.status_code == 202
    run = wait_for_run(client, r.json()["id"], ADMIN)
    assert run["status"] == "failed"
    assert run["error"]["code"] == "no_person_detected" and run["error"]["message"]
    assert [s["status"] for s in run["stages"]][:2] == ["done", "failed"]
    report = client.get(f"/api/runs/{run['id']}/report", headers=ADMIN)
    assert report.status_code == 409 and report.json()["error"]["code"] == "run_not_ready"


def test_delete_run_removes_files(
    live_app: tuple[TestClient, Settings], fixture_videos: dict[str, Path]
) -> None:
    client, settings = live_app
    r = upload(client, fixture_videos["single_person"], ADMIN, movement="squat", language="en")
    run = wait_for_run(client, r.json()["id"], ADMIN)
    assert run["status"] == "completed"
    report = client.get(run["report_url"], headers=ADMIN).json()
    assert report["language"] == "en" and report["movement"] == "squat"
    folder = settings.files_dir / "runs" / run_folder_key(settings.db_url, run["id"])
    assert folder.is_dir()
    video_jobs = [d["video_job_id"] for d in report["drills"]]
    assert client.delete(f"/api/runs/{run['id']}", headers=ADMIN).status_code == 204
    assert not folder.exists()
    assert all(not (settings.files_dir / "videos" / str(j)).exists() for j in video_jobs)
    assert client.get(f"/api/runs/{run['id']}", headers=ADMIN).status_code == 404
    assert client.delete(f"/api/runs/{run['id']}", headers=ADMIN).status_code == 404


def test_person_label_is_stored_validated_and_filtered(
    live_app: tuple[TestClient, Settings], tmp_path: Path
) -> None:
    client, _ = live_app
    clip = gradient_clip(tmp_path / "runner-clip.mp4", seconds=1.5)
    r = upload(client, clip, ADMIN, person="  Hanako   Yamada-Ōshima ")
    assert r.status_code == 202, r.text
    run = client.get(r.json()["url"], headers=ADMIN).json()
    # Whitespace collapsed, case and non-ASCII letters kept.
    assert run["person"] == "Hanako Yamada-Ōshima" and run["subject"] is None
    other = upload(client, clip, ADMIN, person="Taro 100%_x")
    assert other.status_code == 202
    unnamed = upload(client, clip, ADMIN, subject="2")
    stored = client.get(unnamed.json()["url"], headers=ADMIN).json()
    assert stored["person"] is None and stored["subject"] == 2

    def found(query: str) -> list[int]:
        page = client.get("/api/runs", params={"person": query}, headers=ADMIN).json()
        return [item["id"] for item in page["items"]]

    assert found("hanako") == [r.json()["id"]]
    assert found("YAMADA-ō") == [r.json()["id"]]
    # Full-width letters, as a Japanese keyboard may type them, match too.
    assert found("ＨＡＮＡＫＯ") == [r.json()["id"]]
    # LIKE wildcards in the query are plain characters, and the file name is not searched.
    assert found("100%_") == [other.json()["id"]]
    assert found("%") == [other.json()["id"]]
    assert found("runner-clip") == []

    for bad in ("x" * 101, "Anna\x07"):
        response = upload(client, clip, ADMIN, person=bad)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
    too_long = client.get("/api/runs", params={"person": "x" * 101}, headers=ADMIN)
    assert too_long.status_code == 422
