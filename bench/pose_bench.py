"""Pose + features benchmark: speed against the raw "decode + MediaPipe" loop, and peak memory.

Run by hand: `.venv/bin/python bench/pose_bench.py [--long]`. Prints a table and writes
bench/results/pose.json. Clips: the fixture clips and a generated 60 s 1080p running clip;
with --long also a 10-minute 1080p clip (the 60 s clip repeated, packets copied) for memory.

For each clip, in the same run: the baseline (decode every frame, one MediaPipe Pose graph on
each, nothing else), then the pose + features stages as the pipeline runs them (multi-person
detection, tracking, subject, left/right fix, cleaning, angles, exports not included). Peak
memory is the summed resident memory of the analysing process and its worker processes,
sampled every 50 ms from /proc.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import av

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "videos"
OUT = ROOT / "bench" / "results" / "pose.json"
PAGE = os.sysconf("SC_PAGE_SIZE")

_RAW = """
import sys, time
from pathlib import Path
from mediapipe.python.solutions import pose as mp_pose
from formcoach.kit.video_io import iter_frames
started = time.perf_counter(); n = 0
with mp_pose.Pose(static_image_mode=False, model_complexity=1) as graph:
    for frame in iter_frames(Path(sys.argv[1])):
        graph.process(frame.image); n += 1
print(time.perf_counter() - started, n)
"""

_FULL = """
import sys, time
from pathlib import Path
from formcoach.feature_extraction.service import compute_all
from formcoach.kit.settings import Settings
from formcoach.pose_estimation.service import estimate
if __name__ == "__main__":
    settings = Settings(data_dir=Path(sys.argv[2]))
    started = time.perf_counter()
    pose = estimate(Path(sys.argv[1]), settings)
    compute_all(pose, settings, pose.fps)
    print(time.perf_counter() - started, pose.frames, pose.frames_with_subject, len(pose.tracks))
"""


def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == pid and p not in tree]
        tree.update(kids)
        frontier += kids
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def _run(code: str, *args: str) -> tuple[list[str], int]:
    """Run a snippet in a fresh interpreter; its printed fields and its peak tree RSS."""
    script = Path(tempfile.mkdtemp()) / "snippet.py"
    script.write_text(code)
    proc = subprocess.Popen(
        [sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"snippet failed ({proc.returncode})")
    return out.decode().split(), peak[0]


def make_long_clips(folder: Path, long: bool) -> list[Path]:
    from formcoach.video_generation.groundtruth import render_clip

    minute = folder / "generated-running-60s-1080p.mp4"
    render_clip(minute, "running", fps=30.0, size=(1920, 1080), seconds=60.0)
    clips = [minute]
    if long:
        ten = folder / "generated-running-600s-1080p.mp4"
        _repeat(minute, ten, 10)
        clips.append(ten)
    return clips


def _repeat(src: Path, dst: Path, times: int) -> None:
    """dst = src played ``times`` times, packets copied (no re-encode)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        stream_in = inp.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        packets = [
            (bytes(p), p.pts, p.dts, p.is_keyframe, p.duration)
            for p in inp.demux(stream_in)
            if p.dts is not None
        ]
        step = packets[1][4] or 1
        span = max(pts for _, pts, _, _, _ in packets if pts is not None) + step
        for k in range(times):
            for data, pts, dts, key, duration in packets:
                packet = av.Packet(data)
                packet.stream = stream_out
                if stream_in.time_base is not None:
                    packet.time_base = stream_in.time_base
                packet.pts = None if pts is None else pts + k * span
                packet.dts = dts + k * span
                packet.duration = duration
                packet.is_keyframe = key
                out.mux(packet)


def main() -> None:
    long = "--long" in sys.argv
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = sorted(FIXTURES.glob("*.mp4")) + make_long_clips(work, long)
        for clip in clips:
            with av.open(str(clip)) as c:
                s = c.streams.video[0]
                size = f"{s.codec_context.width}x{s.codec_context.height}"
            raw, raw_peak = _run(_RAW, str(clip))
            full, full_peak = _run(_FULL, str(clip), str(work / "data"))
            raw_s, frames = float(raw[0]), int(raw[1])
            full_s = float(full[0])
            rows.append(
                {
                    "clip": clip.name,
                    "size": size,
                    "frames": frames,
                    "raw_pose_s": round(raw_s, 2),
                    "raw_fps": round(frames / raw_s, 1),
                    "analysis_s": round(full_s, 2),
                    "analysis_fps": round(frames / full_s, 1),
                    "ratio_analysis_to_raw": round(full_s / raw_s, 2),
                    "throughput_vs_raw": round(raw_s / full_s, 2),
                    "subject_frames": int(full[2]),
                    "tracks": int(full[3]),
                    "peak_rss_mib_raw": round(raw_peak / 2**20),
                    "peak_rss_mib_analysis": round(full_peak / 2**20),
                }
            )
            print(rows[-1], flush=True)
    header = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[h]).ljust(w) for h, w in zip(header, widths, strict=True)))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "targets": {
                    "ratio_analysis_to_raw_max": 1.15,
                    "throughput_vs_raw_min_for_30s_plus": 1.7,
                    "peak_rss_mib_10min_1080p_max": 1024,
                },
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
