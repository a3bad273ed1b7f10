"""Throughput of the scaled-out topology with 1 and 2 pose workers, on this machine.

Starts the real processes (gateway, six services, Celery workers, a private Redis, a fresh
PostgreSQL database, a moto S3 server), uploads the same clip RUNS times at once and measures
the wall time until every run is completed. Prints a table and writes
bench/results/workers.json. Needs the PostgreSQL server of the test setup (127.0.0.1:5432).

    .venv/bin/python bench/workers_bench.py [RUNS]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.scaled import Topology  # noqa: E402

CLIP = ROOT.parent / "shared" / "fixtures" / "videos" / "pose2sim-single-person-cam01.mp4"
OUT = ROOT / "bench" / "results" / "workers.json"
OTHER_QUEUES = "video_processing,feature_extraction,analysis,advice_generation,video_generation"


def measure(pose_workers: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="formcoach-bench-") as tmp:
        topo = Topology(Path(tmp))
        workers: list[tuple[str, str | None, int]] = [
            (f"pose{i}", "pose_estimation", 1) for i in range(pose_workers)
        ]
        workers.append(("rest", OTHER_QUEUES, 2))
        try:
            topo.start(workers)
            time.sleep(5)  # let the workers connect before the clock starts
            with topo.client() as client:
                started = time.perf_counter()
                ids = [topo.upload(client, CLIP, movement="auto") for _ in range(runs)]
                results = [topo.wait_run(client, run_id, timeout=900) for run_id in ids]
                elapsed = time.perf_counter() - started
            failed = [r["id"] for r in results if r["status"] != "completed"]
            pose_s = [s["duration_s"] for r in results for s in r["stages"] if s["name"] == "pose"]
        finally:
            topo.stop()
    return {
        "pose_workers": pose_workers,
        "runs": runs,
        "failed": failed,
        "wall_s": round(elapsed, 1),
        "runs_per_min": round(60 * runs / elapsed, 2),
        "mean_pose_stage_s": round(sum(pose_s) / len(pose_s), 1),
    }


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    rows = [measure(n, runs) for n in (1, 2)]
    print(f"{'pose workers':>12} {'runs':>5} {'wall s':>8} {'runs/min':>9} {'pose stage s':>13}")
    for row in rows:
        print(
            f"{row['pose_workers']:>12} {row['runs']:>5} {row['wall_s']:>8} "
            f"{row['runs_per_min']:>9} {row['mean_pose_stage_s']:>13}"
        )
    speedup = rows[1]["runs_per_min"] / rows[0]["runs_per_min"]
    print(f"speed-up with 2 pose workers: {speedup:.2f}x on {os.cpu_count()} cores")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "clip": CLIP.name,
                "results": rows,
                "speedup_2_vs_1": round(speedup, 2),
            },
            indent=2,
        )
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
