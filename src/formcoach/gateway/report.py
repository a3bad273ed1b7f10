"""Assembles the report (schema formcoach.report/1) from the stages' artifacts."""

from __future__ import annotations

import json
from typing import Any

from formcoach.analysis.schemas import CAMERA_AXES
from formcoach.gateway.public_text import public
from formcoach.gateway.summary import build_summary
from formcoach.kit import pipeline as art
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language, pick
from formcoach.kit.storage import Storage
from formcoach.runs.models import Run
from formcoach.runs.service import report_ready

SCHEMA = "formcoach.report/1"

# Artifacts a client may download: report key -> file name in the run's folder (run_folder).
DOWNLOADS: dict[str, str] = {
    "annotated_video": art.ANNOTATED,
    "proxy_video": art.PROXY,
    "keypoints_csv": art.KEYPOINTS_CSV,
    "angles_csv": art.ANGLES_CSV,
    "features_json": art.FEATURES,
    "analysis_json": art.ANALYSIS,
    "advice_json": art.ADVICE,
    "pose_json": art.POSE_META,
    "video_info_json": art.VIDEO_INFO,
    "keypoints_json": art.KEYPOINTS_JSON,
    "keypoints_metric_csv": art.KEYPOINTS_M_CSV,
    "markers_px_trc": art.MARKERS_TRC_PX,
    "markers_m_trc": art.MARKERS_TRC_M,
    "angles_mot": art.ANGLES_MOT,
    "tracks_jpg": art.TRACKS_JPG,
}
SERVABLE = frozenset(DOWNLOADS.values())


def _load(storage: Storage, run_key: str, name: str) -> Any:
    return json.loads(storage.get_bytes(art.run_file(run_key, name)))


def _text(value: Any, lang: Language) -> Any:
    """Pick the language from a {"ja","en"} text; leave everything else as it is."""
    if isinstance(value, dict) and set(value) == {"ja", "en"}:
        return public(pick(value, lang))
    return public(value)


def build_report(run: Run, storage: Storage, lang: Language | None = None) -> dict[str, Any]:
    if not report_ready(run):
        raise AppError("run_not_ready", status=run.status)
    lang = lang or run.language
    info = _load(storage, run.run_key, art.VIDEO_INFO)
    pose = _load(storage, run.run_key, art.POSE_META)
    analysis = _load(storage, run.run_key, art.ANALYSIS)
    advice = _load(storage, run.run_key, art.ADVICE)
    # Served before the drill videos are made: until then every drill's video_url is null.
    drill_videos = art.run_file(run.run_key, art.DRILL_VIDEOS)
    made = json.loads(storage.get_bytes(drill_videos)) if storage.exists(drill_videos) else []
    videos = {v["drill_id"]: v for v in made}
    source = info["source"]
    base = f"/api/runs/{run.id}/files"
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": run.id,
        "movement": analysis["movement"],
        "movement_requested": analysis.get("movement_requested", run.movement),
        # The view read from the footage; the user's choice stays as view_requested.
        "view": analysis.get("view", run.view),
        "view_requested": analysis.get("view_requested", run.view),
        "view_segments": analysis.get("view_segments", []),
        "vertical": analysis.get("vertical") or CAMERA_AXES,
        "language": lang,
        "video": {
            "fps": source["fps"],
            "frames": source["frames"],
            "duration_s": source["duration_s"],
            "width": source["width"],
            "height": source["height"],
        },
        "pose": {
            "model": pose["model"],
            "frames_with_subject": pose["frames_with_subject"],
            "detection_rate": pose["detection_rate"],
            # Who was analysed and whether another person scored close (then the user confirms).
            "subject_choice": pose.get("subject_choice"),
        },
        "metrics": {
            key: {field: _text(value, lang) for field, value in metric.items()}
            for key, metric in analysis["metrics"].items()
        },
        "findings": [
            {
                "code": f["code"],
                "severity": f["severity"],
                "message": _text(f["message"], lang),
                "evidence": f.get("evidence", []),
                "metric": f.get("metric"),
                "reasons": f.get("reasons", []),
            }
            for f in analysis["findings"]
        ],
        "scores": {
            area: {field: _text(value, lang) for field, value in score.items()}
            for area, score in analysis.get("scores", {}).items()
        },
        "advice_rewritten_by": advice.get("rewritten_by"),
        "advice_llm_error": advice.get("llm_error"),
        "advice": [
            {
                "title": _text(a["title"], lang),
                "text": _text(a["text"], lang),
                "finding_codes": a["finding_codes"],
                "drills": a["drills"],
            }
            for a in advice["advice"]
        ],
        "drills": [
            {
                "drill_id": d["drill_id"],
                "name": _text(d["name"], lang),
                "dose": _text(d["dose"], lang),
                "cues": d["cues"].get(lang, d["cues"]["en"]),
                "video_url": videos.get(d["drill_id"], {}).get("video_url"),
                "video_job_id": videos.get(d["drill_id"], {}).get("job_id"),
            }
            for d in advice["drills"]
        ],
        "files": {
            key: f"{base}/{name}"
            for key, name in DOWNLOADS.items()
            if storage.exists(art.run_file(run.run_key, name))
        },
    }
    report["summary"] = build_summary(report, run.person)
    return report
