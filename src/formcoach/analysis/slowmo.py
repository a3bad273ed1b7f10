"""Slow motion (issue 19): a phone's 240 fps clip played at 30 fps shows a runner at an eighth
of their cadence. Its timing says nothing about the person, so when the metadata gives a
capture rate well above the playback rate, the report says `slow_motion_suspected` and the
timing metrics (cadence, step and contact times) are not judged. Angles are unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formcoach.analysis.schemas import Finding, LocalizedText, Metric

# Metrics read from the clock: wrong by the slow-motion factor.
TIMING = frozenset(
    {"cadence_spm", "contact_time_ms", "duty_factor", "flight_time_ms", "step_time_s"}
)
# A capture rate this many times the playback rate is slow motion (a 60 fps clip stored at
# 59.94 is not).
MIN_FACTOR = 1.5


def factor(video_info: Mapping[str, Any]) -> float | None:
    """Capture ÷ playback rate when the metadata says the clip is slowed down, else None."""
    source = video_info.get("source") or {}
    capture, fps = source.get("capture_fps"), source.get("fps")
    if not isinstance(capture, int | float) or not isinstance(fps, int | float) or fps <= 0:
        return None
    ratio = float(capture) / float(fps)
    return ratio if ratio >= MIN_FACTOR else None


def finding(ratio: float) -> Finding:
    return Finding(
        code="slow_motion_suspected",
        severity="info",
        message=LocalizedText(
            ja=f"この動画はスローモーションのようです（撮影時のフレームレートが再生の約 {ratio:.0f} 倍）。"
            "ピッチや接地時間などの時間に関わる値は判定していません。通常の速度で撮影してください。",
            en=f"This clip looks like slow motion (captured at about {ratio:.0f}× its playback "
            "rate). Cadence, step and contact times are not judged; film at normal speed.",
        ),
    )


NOT_TIMED = LocalizedText(
    ja="スローモーションの動画では、時間に関わる値は測れません。",
    en="Timing cannot be measured in a slow-motion clip.",
)


def untimed(metrics: dict[str, Metric]) -> dict[str, Metric]:
    """The metrics with every timing metric made not measurable."""
    return {
        key: (
            metric.model_copy(update={"value": None, "status": "not_measurable", "note": NOT_TIMED})
            if key in TIMING
            else metric
        )
        for key, metric in metrics.items()
    }
