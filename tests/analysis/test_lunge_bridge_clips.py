"""Issue 4: the lunge's front shin and the glute bridge's reps on rendered clips.

The drill figure does the drill library's split squat, a split squat with the front knee driven
far past the toes (motions_strength.split_squat_knee_forward) and the glute bridge, on its
plain set, facing right and mirrored to face left. Each clip is H.264-encoded and goes through
the real stages (probe, MediaPipe pose, features, analysis, advice). The front shin's truth is
the figure's own knee→ankle segment at the bottom of the rep.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from formcoach.kit.pipeline import ADVICE, ANALYSIS, FEATURES, UPLOAD, RunOptions, StageContext
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.kit.video_io import H264Writer
from formcoach.video_generation.figure import Figure, build_figure
from formcoach.video_generation.keyframes import Motion
from formcoach.video_generation.motions import get_motion
from formcoach.video_generation.motions_strength import split_squat_knee_forward
from formcoach.video_generation.scene import Box, draw_figure, draw_shadow, fit_camera, make_set
from tests.support.apputil import run_stages

pytestmark = pytest.mark.slow

Facing = Literal["right", "left"]
FPS = 30.0
SIZE = (1280, 720)
NOT_FAULTS = {"movement_auto_detected", "detailed_checks_unavailable", "reps_not_found"}
# Two reps of each: the split squat's end at 2.8 and 6.0 s, the bridge's at 3.4 and 7.4 s.
MOTIONS: dict[str, tuple[Callable[[], Motion], str, float]] = {
    "split_squat": (lambda: get_motion("split_squat"), "lunge", 7.0),
    "knee_forward": (split_squat_knee_forward, "lunge", 7.0),
    "glute_bridge": (lambda: get_motion("glute_bridge"), "glute_bridge", 8.0),
}
# The front leg of both split squats is the figure's left (far) one.
FRONT_KNEE, FRONT_ANKLE = "knee_l", "ankle_l"


@dataclass
class Done:
    figures: list[Figure]
    rep_times_s: list[float]
    analysis: dict[str, Any]
    advice: dict[str, Any]
    features: dict[str, Any]


def render(out: Path, motion: Motion, seconds: float, facing: Facing) -> list[Figure]:
    """An H.264 clip of the figure doing ``motion``; a left-facing one is mirrored."""
    width, height = SIZE
    figures = [build_figure(motion.pose_at(i / FPS)) for i in range(round(seconds * FPS))]
    bounds = np.array([f.bounds() for f in figures])
    x0, y0 = bounds[:, 0].min(), min(bounds[:, 1].min(), 0.0)
    x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
    mx, my = 0.06 * width, 0.06 * height
    camera = fit_camera(
        (float(x0), float(y0), float(x1), float(y1)),
        Box(left=mx, top=my, right=width - mx, bottom=height - my),
    )
    background = make_set(width, height, camera)
    frame = np.empty_like(background)
    with H264Writer(out, width, height, FPS, crf=20) as writer:
        for fig in figures:
            np.copyto(frame, background)
            draw_shadow(frame, fig, camera)
            draw_figure(frame, fig, camera)
            writer.write(np.ascontiguousarray(frame[:, ::-1]) if facing == "left" else frame)
    return figures


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Facing], Done]:
    """Render and run each (motion, facing) clip once for the module, on first use."""
    root = tmp_path_factory.mktemp("lunge-bridge-clips")
    settings = Settings(data_dir=root / "data", pose_max_people=1)
    storage = LocalStorage(settings.files_dir)
    done: dict[tuple[str, Facing], Done] = {}

    def run(name: str, facing: Facing) -> Done:
        if (name, facing) not in done:
            make, movement, seconds = MOTIONS[name]
            motion = make()
            path = root / f"{name}-{facing}.mp4"
            figures = render(path, motion, seconds, facing)
            options = RunOptions(movement=movement, view="side", height_cm=175.0)
            ctx = StageContext(len(done) + 1, options, storage, settings)
            storage.put_file(ctx.key(UPLOAD), path)
            run_stages(ctx, "probe", "pose", "features", "analysis", "advice")
            reps = [
                loop * motion.loop + t
                for loop in range(math.ceil(seconds / motion.loop))
                for t in motion.rep_times
                if loop * motion.loop + t < seconds
            ]
            done[(name, facing)] = Done(
                figures,
                reps,
                ctx.read_json(ANALYSIS),
                ctx.read_json(ADVICE),
                ctx.read_json(FEATURES),
            )
        return done[(name, facing)]

    return run


def faults(analysis: dict[str, Any]) -> set[str]:
    return {f["code"] for f in analysis["findings"]} - NOT_FAULTS


def true_front_shin_deg(figures: list[Figure]) -> float:
    """The figure's front shin at the deepest frame: degrees the knee is ahead of the ankle."""
    deepest = min(figures, key=lambda f: float(f.joints["root"][1]))
    knee, ankle = deepest.joints[FRONT_KNEE], deepest.joints[FRONT_ANKLE]
    # World coordinates: the figure faces +x, y is up.
    return math.degrees(math.atan2(float(knee[0] - ankle[0]), float(knee[1] - ankle[1])))


FACINGS: tuple[Facing, ...] = ("right", "left")


@pytest.mark.parametrize("facing", FACINGS)
def test_a_good_split_squat_has_no_front_shin_finding(
    clip_run: Callable[[str, Facing], Done], facing: Facing
) -> None:
    result = clip_run("split_squat", facing)
    metrics = result.analysis["metrics"]
    assert result.features["facing"] == facing
    assert faults(result.analysis) == set(), {k: m["value"] for k, m in metrics.items()}
    assert metrics["lunge_reps"]["value"] == len(result.rep_times_s) == 2
    truth = true_front_shin_deg(result.figures)
    assert truth == pytest.approx(4.0, abs=0.5)  # motions_strength: front shank at 266°
    shin = metrics["lunge_front_shin_deg"]
    assert shin["status"] == "ok" and shin["samples"] == 2
    assert shin["value"] == pytest.approx(truth, abs=5.0)


@pytest.mark.parametrize("facing", FACINGS)
def test_a_knee_far_past_the_toes_is_found_with_its_shin_angle(
    clip_run: Callable[[str, Facing], Done], facing: Facing
) -> None:
    result = clip_run("knee_forward", facing)
    metrics = result.analysis["metrics"]
    assert result.features["facing"] == facing
    assert faults(result.analysis) == {"lunge_front_shin"}, {
        k: m["value"] for k, m in metrics.items()
    }
    truth = true_front_shin_deg(result.figures)
    assert truth == pytest.approx(30.0, abs=0.5)  # split_squat_knee_forward()
    shin = metrics["lunge_front_shin_deg"]
    assert shin["status"] == "high" and shin["reference"]["high"] == 20
    assert shin["value"] == pytest.approx(truth, abs=5.0)
    finding = next(f for f in result.analysis["findings"] if f["code"] == "lunge_front_shin")
    assert finding["metric"] == "lunge_front_shin_deg"
    assert all(finding["message"][k] for k in ("ja", "en"))
    # Evidence: each rep, from its start to its end, covering the rep's bottom.
    assert len(finding["evidence"]) == 2
    for span, rep_end in zip(finding["evidence"], result.rep_times_s, strict=True):
        assert span["start_s"] < rep_end - 1.4 < span["end_s"]
    advised = [i for i in result.advice["advice"] if "lunge_front_shin" in i["finding_codes"]]
    assert advised and all(i["text"]["ja"] and i["text"]["en"] for i in advised)


@pytest.mark.parametrize("facing", FACINGS)
def test_glute_bridge_reps_are_counted_exactly(
    clip_run: Callable[[str, Facing], Done], facing: Facing
) -> None:
    result = clip_run("glute_bridge", facing)
    metrics = result.analysis["metrics"]
    assert faults(result.analysis) == set(), {k: m["value"] for k, m in metrics.items()}
    assert metrics["bridge_reps"]["value"] == len(result.rep_times_s) == 2
    assert metrics["bridge_reps"]["samples"] == 2
    assert metrics["bridge_partial_reps"]["value"] == 0
    # The figure's hips rest at 45° flexion, its top is 4° (shoulder-hip-knee 176°).
    assert metrics["bridge_top_hip_angle_deg"]["value"] == pytest.approx(176.0, abs=8.0)
