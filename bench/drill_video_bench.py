"""Drill-video benchmark: render and encode every library drill, 12 s, in both 720p sizes.

Run by hand: `.venv/bin/python bench/drill_video_bench.py [--seconds 12] [--sizes 1280x720]`.
Prints a table and writes bench/results/drill_videos.json. The target is 4x real time
(a 12 s video in at most 3 s) on the development machine. The machine's load is reported
beside the figures, since other processes share its two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from formcoach.advice_generation.service import list_drills
from formcoach.video_generation.render import render_drill_video

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "drill_videos.json"
TARGET_X = 4.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", default="12", choices=["4", "8", "12"])
    parser.add_argument("--sizes", nargs="+", default=["1280x720", "720x1280"])
    parser.add_argument("--language", default="ja", choices=["ja", "en"])
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        for drill in list_drills():
            for size in args.sizes:
                out = Path(work) / f"{drill.id}_{size}.mp4"
                started, cpu_started = time.perf_counter(), time.process_time()
                result = render_drill_video(drill, args.language, size, args.seconds, out)
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                rows.append(
                    {
                        "drill": drill.id,
                        "motion": result.motion,
                        "size": size,
                        "video_s": result.duration_s,
                        "elapsed_s": round(elapsed, 3),
                        "x_real_time": round(result.duration_s / elapsed, 2),
                        # CPU seconds of this process (all its threads): what the video costs
                        # regardless of how busy the machine is.
                        "cpu_s": round(cpu, 3),
                        "bytes": out.stat().st_size,
                    }
                )
                row = rows[-1]
                print(
                    f"{row['drill']:34s} {size:>9s} {row['elapsed_s']:6.2f} s "
                    f"{row['x_real_time']:5.2f}x cpu {row['cpu_s']:6.2f} s "
                    f"{row['bytes'] / 1e6:5.2f} MB",
                    flush=True,
                )
    summary: dict[str, Any] = {}
    for size in args.sizes:
        factors = [r["x_real_time"] for r in rows if r["size"] == size]
        times = [r["elapsed_s"] for r in rows if r["size"] == size]
        cpus = [r["cpu_s"] for r in rows if r["size"] == size]
        summary[size] = {
            "videos": len(factors),
            "median_x": round(statistics.median(factors), 2),
            "min_x": round(min(factors), 2),
            "max_elapsed_s": round(max(times), 2),
            "meeting_target": sum(f >= TARGET_X for f in factors),
            "median_cpu_s": round(statistics.median(cpus), 2),
            "max_cpu_s": round(max(cpus), 2),
        }
    print()
    print(
        f"{'size':>9s} {'videos':>6s} {'median':>7s} {'worst':>6s} {'max s':>6s} {'>=4x':>5s} "
        f"{'cpu med':>8s} {'cpu max':>8s}"
    )
    for size, s in summary.items():
        print(
            f"{size:>9s} {s['videos']:6d} {s['median_x']:6.2f}x {s['min_x']:5.2f}x "
            f"{s['max_elapsed_s']:6.2f} {s['meeting_target']:5d} "
            f"{s['median_cpu_s']:7.2f}s {s['max_cpu_s']:7.2f}s"
        )
    print(f"load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    record = {
        "seconds": args.seconds,
        "language": args.language,
        "target_x_real_time": TARGET_X,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_1min_before": round(load_before, 2),
            "load_1min_after": round(os.getloadavg()[0], 2),
        },
        "summary": summary,
        "videos": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwritten {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
