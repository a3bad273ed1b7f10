"""Recognising the movement when the user chose "auto".

The rule is deliberately simple and its thresholds live in reference.yaml (classification):

1. plank   - the trunk is near horizontal (|trunk lean| median >= plank_min_trunk_from_vertical_deg)
             and shoulder-hip-ankle is nearly straight (body line median >= plank_min_body_line_deg);
2. gait    - feature extraction found a cadence from alternating ankles with enough steps:
             running when the cadence >= running_min_cadence_spm, else walking;
3. squat   - the hip height swings (p10-p90 of hip_height_norm >= squat_min_hip_range) while the
             knees bend deeply (p90 of the more bent knee >= squat_min_knee_flexion_deg);
4. other   - none of these: only the angle summaries are reported.

Flight phases are not detected yet, so a slow jog under the cadence boundary reads as walking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from formcoach.analysis import series as s
from formcoach.analysis.schemas import LocalizedText, Reference


@dataclass(frozen=True)
class Detection:
    movement: str
    reason: LocalizedText


def step_count(features: Mapping[str, Any]) -> int | None:
    value = features.get("summary", {}).get("step_count")
    return int(value) if isinstance(value, int | float) else None


def measured_cadence(features: Mapping[str, Any], reference: Reference) -> float | None:
    """The cadence if there is one and enough steps stand behind it."""
    value = features.get("summary", {}).get("cadence_spm")
    if not isinstance(value, int | float):
        return None
    steps = step_count(features)
    if steps is not None and steps < reference.gait.min_steps:
        return None
    return float(value)


def classify(features: Mapping[str, Any], reference: Reference) -> Detection:
    rule = reference.classification
    trunk = s.median(np.abs(s.series(features, "trunk_lean_deg")))
    body_line = s.median(s.series(features, "body_line_deg"))
    if (
        trunk is not None
        and body_line is not None
        and trunk >= rule.plank_min_trunk_from_vertical_deg
        and body_line >= rule.plank_min_body_line_deg
    ):
        return Detection(
            "plank",
            LocalizedText(
                ja=f"体幹がほぼ水平（鉛直から {trunk:.0f}°）で、肩・腰・足首がほぼ一直線"
                f"（{body_line:.0f}°）のまま保たれていたため",
                en=f"the trunk stayed near horizontal ({trunk:.0f}° from vertical) with "
                f"shoulder, hip and ankle nearly in line ({body_line:.0f}°)",
            ),
        )

    cadence = measured_cadence(features, reference)
    if cadence is not None:
        running = cadence >= rule.running_min_cadence_spm
        limit = rule.running_min_cadence_spm
        return Detection(
            "running" if running else "walking",
            LocalizedText(
                ja=f"左右の足が交互に周期的に動き、1分あたり {cadence:.0f} 歩"
                f"（{limit:.0f} 歩{'以上' if running else '未満'}）だったため",
                en=f"the feet alternated periodically at {cadence:.0f} steps/min "
                f"({'at or above' if running else 'below'} {limit:.0f})",
            ),
        )

    hip_range = s.spread(s.series(features, "hip_height_norm"))
    knees = s.pairwise_max(
        s.series(features, "left_knee_flexion_deg"), s.series(features, "right_knee_flexion_deg")
    )
    knee_peak = s.percentile(knees, 90)
    if (
        hip_range is not None
        and knee_peak is not None
        and hip_range >= rule.squat_min_hip_range
        and knee_peak >= rule.squat_min_knee_flexion_deg
    ):
        return Detection(
            "squat",
            LocalizedText(
                ja=f"腰の高さが大きく上下し（変化 {hip_range:.2f}）、膝が {knee_peak:.0f}° まで"
                "曲がっていたため",
                en=f"the hips moved up and down markedly (range {hip_range:.2f}) with the knees "
                f"bending to {knee_peak:.0f}°",
            ),
        )

    return Detection(
        "other",
        LocalizedText(
            ja="ランニング・ウォーキング・スクワット・プランクのどの特徴にも当てはまらなかったため",
            en="the clip matched none of running, walking, squat or plank",
        ),
    )
