"""Pipeline benchmark: full analysis time against the raw "decode + MediaPipe" loop, same run.

Run by hand (`make bench`); prints a table and writes bench/results/pipeline.json.
Ratios compare against a baseline measured in the same run, so machine speed cancels out.
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mediapipe as mp

from formcoach.gateway.offline import analyze_file
from formcoach.kit.video_io import iter_frames

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "videos"
OUT = ROOT / "bench" / "results" / "pipeline.json"


def raw_pose_loop(video: Path) -> tuple[float, int]:
    """The baseline: decode every frame and run MediaPipe Pose on it, nothing else."""
    started = time.perf_counter()
    frames = 0
    with mp.solutions.pose.Pose(model_complexity=1) as pose:
        for frame in iter_frames(video):
            pose.process(frame.image)
            frames += 1
    return time.perf_counter() - started, frames


def full_analysis(video: Path) -> float:
    with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        analyze_file(video, Path(out), Path(work), show_progress=False)
        return time.perf_counter() - started


def main() -> None:
    clips = sorted(FIXTURES.glob("*.mp4")) if len(sys.argv) < 2 else [Path(p) for p in sys.argv[1:]]
    rows: list[dict[str, Any]] = []
    for clip in clips:
        raw_s, frames = raw_pose_loop(clip)
        full_s = full_analysis(clip)
        rows.append(
            {
                "clip": clip.name,
                "frames": frames,
                "raw_pose_s": round(raw_s, 2),
                "raw_fps": round(frames / raw_s, 1),
                "full_analysis_s": round(full_s, 2),
                "ratio_full_to_raw": round(full_s / raw_s, 2),
            }
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    header = f"{'clip':40} {'frames':>6} {'raw s':>7} {'raw fps':>8} {'full s':>7} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['clip']:40} {r['frames']:>6} {r['raw_pose_s']:>7} {r['raw_fps']:>8}"
            f" {r['full_analysis_s']:>7} {r['ratio_full_to_raw']:>6}"
        )
    print(f"peak RSS of the benchmark process: {peak_mb:.0f} MiB")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "peak_rss_mib": round(peak_mb),
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
