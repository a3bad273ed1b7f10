"""Time-series charts of the main angles, rendered server-side as SVG (no chart library).

Each chart carries its time axis in data attributes so the page's script can draw the video's
playback position on it and turn a click into a seek.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from formcoach.kit.i18n import Language

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 28
# Series are told apart by dash pattern as well as colour, so colour never carries meaning alone.
STYLES = (("#0b5cad", ""), ("#b4451d", "6 4"))


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: dict[str, str]
    series: tuple[tuple[str, dict[str, str]], ...]


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "knee",
        {"ja": "膝の屈曲角度", "en": "Knee flexion"},
        (
            ("left_knee_flexion_deg", {"ja": "左膝", "en": "left knee"}),
            ("right_knee_flexion_deg", {"ja": "右膝", "en": "right knee"}),
        ),
    ),
    ChartSpec(
        "hip",
        {"ja": "股関節の屈曲角度", "en": "Hip flexion"},
        (
            ("left_hip_flexion_deg", {"ja": "左股関節", "en": "left hip"}),
            ("right_hip_flexion_deg", {"ja": "右股関節", "en": "right hip"}),
        ),
    ),
    ChartSpec(
        "trunk",
        {"ja": "上体の傾き（前傾がプラス）", "en": "Trunk lean (forward positive)"},
        (("trunk_lean_deg", {"ja": "上体", "en": "trunk"}),),
    ),
)


def _finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    raw = (high - low) / count or 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _path(times: list[float], values: list[Any], sx: Any, sy: Any) -> str:
    """An SVG path that breaks where a frame has no value instead of bridging the gap."""
    parts: list[str] = []
    pen_down = False
    for t, v in zip(times, values, strict=False):
        if v is None or not math.isfinite(float(v)):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{sx(t):.1f},{sy(float(v)):.1f}")
        pen_down = True
    return " ".join(parts)


def render_chart(spec: ChartSpec, features: dict[str, Any], lang: Language) -> Markup | None:
    times = [float(t) for t in features.get("times", [])]
    series = features.get("series", {})
    present = [(name, label) for name, label in spec.series if _finite(series.get(name, []))]
    if len(times) < 2 or not present:
        return None
    values = [v for name, _ in present for v in _finite(series[name])]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.1, 2.0)
    low, high = low - pad, high + pad
    t0, t1 = times[0], times[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(t: float) -> float:
        return LEFT + (t - t0) / (t1 - t0) * plot_w

    def sy(v: float) -> float:
        return TOP + (high - v) / (high - low) * plot_h

    title = escape(spec.title[lang])
    legend = (
        "、".join(lbl[lang] for _, lbl in present)
        if lang == "ja"
        else ", ".join(lbl[lang] for _, lbl in present)
    )
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" tabindex="0" '
        f'aria-label="{title}: {escape(legend)}" data-t0="{t0:.4f}" data-t1="{t1:.4f}" '
        f'data-x0="{LEFT}" data-x1="{LEFT + plot_w}">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafbfc" '
        'stroke="#c9d1db"/>',
    ]
    for tick in _ticks(low, high):
        y = sy(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ec"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick:g}°</text>'
        )
    for tick in _ticks(t0, t1, 5):
        x = sx(tick)
        out.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="tick">'
            f"{tick:g} s</text>"
        )
    for (name, _), (colour, dash) in zip(present, STYLES, strict=False):
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<path d="{_path(times, series[name], sx, sy)}" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/>'
        )
    out.append(
        f'<line class="playhead" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" '
        'stroke="#10243e" stroke-width="2"/>'
    )
    out.append("</svg>")
    return Markup("".join(out))


def chart_panels(features: dict[str, Any] | None, lang: Language) -> list[dict[str, Any]]:
    """Title, legend entries (label, colour, dash) and SVG of every chart that has data."""
    if not features:
        return []
    panels = []
    for spec in CHARTS:
        svg = render_chart(spec, features, lang)
        if svg is None:
            continue
        legend = [
            {"label": label[lang], "colour": colour, "dashed": bool(dash)}
            for (_, label), (colour, dash) in zip(spec.series, STYLES, strict=False)
        ]
        panels.append({"key": spec.key, "title": spec.title[lang], "legend": legend, "svg": svg})
    return panels
