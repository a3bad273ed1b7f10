"""The judgement table: every fixture clip through the real pipeline, beside its truth.

Run by hand: `.venv/bin/python bench/judgement.py [--label after]` (a few minutes on an idle
2-core machine). Each clip in ../shared/fixtures/videos/ goes through the CLI's analyse
function (gateway.offline.analyze_file) with --movement auto; when auto declines, the clip is
analysed again with the true movement, and both outcomes are kept. Prints, per clip: detected
view (features.json `view` where the pipeline writes one, else "n/a"), movement, subject
(detected people), reps, each metric shown or withheld with its reason, the findings, and the
truth from bench/judgement_truth.yaml (SOURCES.md). Writes bench/results/judgement[-label].json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from formcoach.gateway.offline import analyze_file
from formcoach.kit.errors import AppError

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent.parent / "shared" / "fixtures" / "videos"
TRUTH = HERE / "judgement_truth.yaml"
MOVEMENTS = ("walking", "running", "squat", "plank", "push_up", "lunge")


def _json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return data if isinstance(data, dict) else {}


def _run(clip: Path, movement: str, out: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="formcoach-judge-") as tmp:
        try:
            report = analyze_file(
                clip, out, Path(tmp), movement=movement, language="en", show_progress=False
            )
        except AppError as exc:
            return {"movement_requested": movement, "error": f"{exc.code}: {exc.message('en')}"}
    features = _json(out / "features.json")
    analysis = _json(out / "analysis.json")
    pose = _json(out / "pose.json")
    view = features.get("view")
    metrics = {}
    for key, metric in report["metrics"].items():
        value, status = metric.get("value"), metric.get("status")
        note = metric.get("note")  # the report carries the text in its language
        metrics[key] = {
            "value": value,
            "unit": metric.get("unit"),
            "status": status,
            "uncertainty": metric.get("uncertainty"),
            "reason": note if status == "not_measurable" else None,
        }
    # The count itself (e.g. squat_reps), not a count of faulty reps (squat_partial_reps).
    reps = [
        m["value"]
        for key, m in report["metrics"].items()
        if m.get("unit") == "reps" and "partial" not in key
    ]
    return {
        "movement_requested": movement,
        "movement": report["movement"],
        "view_detected": view if isinstance(view, str) else (view or {}).get("view", "n/a"),
        "view_reported": report.get("view"),
        "subject": {
            "subject_track": pose.get("subject"),
            "tracks": len(pose.get("tracks") or []),
            "detection_rate_any_person": pose.get("detection_rate"),
            "detection_rate_needed_parts": analysis.get("detection_rate_needed"),
            "left_right_swaps_fixed": pose.get("left_right_swaps_fixed"),
        },
        "reps": reps[0] if reps else None,
        "metrics": metrics,
        "findings": [
            {"code": f["code"], "severity": f["severity"], "message": f["message"]}
            for f in report["findings"]
        ],
        "scores": {k: v.get("value") for k, v in report.get("scores", {}).items()},
    }


def _print(name: str, truth: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    print(f"\n=== {name}")
    print(
        f"  truth: view {truth['view']}; movement {truth['movement']}; reps {truth['reps']}; "
        f"subject {truth['subject']}; {truth['notes']}"
    )
    for run in runs:
        if "error" in run:
            print(f"  [{run['movement_requested']}] declined: {run['error']}")
            continue
        print(
            f"  [{run['movement_requested']}] view {run['view_detected']} "
            f"(report: {run['view_reported']}); movement {run['movement']}; reps {run['reps']}; "
            f"subject {run['subject']}"
        )
        for key, m in run["metrics"].items():
            if m["status"] == "not_measurable":
                print(f"    - {key}: withheld ({m['reason']})")
            else:
                err = f" ±{m['uncertainty']:g}" if m["uncertainty"] is not None else ""
                print(f"    - {key}: {m['value']}{err} {m['unit']} [{m['status']}]")
        for f in run["findings"]:
            print(f"    ! {f['code']} ({f['severity']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="", help="suffix of the result file (e.g. before)")
    args = parser.parse_args()
    truth: dict[str, dict[str, Any]] = yaml.safe_load(TRUTH.read_text())
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="formcoach-judge-out-") as outs:
        for clip in sorted(FIXTURES.glob("*.mp4")):
            t = truth.get(clip.name, {})
            runs = [_run(clip, "auto", Path(outs) / clip.stem / "auto")]
            true_movement = str(t.get("movement", "")).split(" ")[0]
            if "error" in runs[0] and true_movement in MOVEMENTS:
                runs.append(_run(clip, true_movement, Path(outs) / clip.stem / true_movement))
            results[clip.name] = {"truth": t, "runs": runs}
            _print(clip.name, t, runs)
    suffix = f"-{args.label}" if args.label else ""
    out = HERE / "results" / f"judgement{suffix}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
