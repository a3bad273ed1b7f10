"""Analysis speed against the raw "decode + MediaPipe" loop, and peak memory.

Run by hand, one command: `.venv/bin/python bench/pose_bench.py` (about 10 minutes on an idle
2-core machine; `--quick` leaves out the 10-minute clip). Prints a table and writes
bench/results/pose.json.

Clips: the fixture clips, a generated 60 s 1080p running clip and a generated 10-minute
1080p clip (a 10 s render of the ground-truth figure, repeated with its packets copied: cheap
to make, and the analysis cannot tell).

For each clip, in the same run and each in a fresh interpreter:
- raw: decode the source and run one MediaPipe Pose graph on every frame, nothing else, in one
  process with plain PyAV (timed from the first frame, imports and model loading excluded);
- analysis: what a user waits for from upload to report: the pipeline's own stage functions
  probe (validate + browser proxy), pose, features, analysis, advice and annotate, one after
  the other as the job runner runs them (the report is readable once advice is written), on local storage. Imports are excluded, model loading
  is included. The drill-video stage is excluded: it renders drill demonstrations that do not
  depend on the clip's length and are cached per drill;
- pose: the pose stage alone (part of the analysis above), whose two halves run on both cores.

Each row also has CPU seconds (time.process_time of the process, all its threads): of the raw
loop (``raw_cpu_s``), of the analysis and of each stage (``stages_cpu_s``), which a busy shared
machine inflates far less than wall time. A --quick run keeps the previous file's rows for clips
it does not measure (the 10-minute one), marked with a ``note``.

``ratio_analysis_to_raw`` = analysis time / raw time (target <= 1.15);
``ratio_report_to_raw`` = time until the report can be read (advice written; the annotated
video comes after it) / raw time (targets <= 1.0 on the short clips, <= 0.8 on the 60 s clip);
``pose_throughput_vs_raw`` = raw time / pose stage time (target >= 1.7 for clips of 30 s or
more: the pose stage runs two graph chains on overlapping halves); peak memory is the largest of
the sampled resident memory of the process tree (every 50 ms from /proc) and the analysing
process's own peak (getrusage), target < 1 GiB for the 10-minute 1080p clip.
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
TARGETS = {
    "ratio_analysis_to_raw_max": 1.15,
    # Issue 22 item 6: the report (metrics, findings, advice) before the annotated video.
    "ratio_report_to_raw_max_short_clips": 1.0,
    "ratio_report_to_raw_max_60s": 0.8,
    "pose_throughput_vs_raw_min_for_30s_plus": 1.7,
    "peak_rss_mib_10min_1080p_max": 1024,
}

# Plain PyAV and MediaPipe, nothing of formcoach imported (its allocator settings included):
# FFmpeg's frame threading, every frame converted to RGB at full size, one graph.
_RAW = """
import sys, time
import av
from mediapipe.python.solutions import pose as mp_pose
with mp_pose.Pose(static_image_mode=False, model_complexity=1) as graph, av.open(sys.argv[1]) as c:
    stream = c.streams.video[0]
    stream.thread_type = "AUTO"
    n = 0
    for frame in c.decode(stream):
        if n == 0:
            started, cpu = time.perf_counter(), time.process_time()
        graph.process(frame.to_ndarray(format="rgb24")); n += 1
print(time.perf_counter() - started, n, time.process_time() - cpu)
"""

_FULL = """
import json, resource, sys, time
from pathlib import Path
from formcoach.pipeline.orchestrator import stage_function
from formcoach.kit.pipeline import POSE_META, UPLOAD, RunOptions, StageContext
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from formcoach.pipeline.stages import STAGES as ALL
# The pipeline's own order, without the drill videos (see the module doc).
STAGES = tuple(s for s in ALL if s != "drill_videos")
if __name__ == "__main__":
    settings = Settings(data_dir=Path(sys.argv[2]))
    storage = LocalStorage(settings.files_dir)
    ctx = StageContext(1, RunOptions(movement="auto"), storage, settings)
    storage.put_file(ctx.key(UPLOAD), Path(sys.argv[1]))
    functions = [stage_function(s) for s in STAGES]  # imports, not timed
    import mediapipe, formcoach.pose_estimation.service  # noqa: the raw loop has these imported
    times, cpu = {}, {}
    started, cpu_started = time.perf_counter(), time.process_time()
    for stage, function in zip(STAGES, functions):
        t, c = time.perf_counter(), time.process_time()
        function(ctx)
        times[stage] = round(time.perf_counter() - t, 2)
        cpu[stage] = round(time.process_time() - c, 2)
        if stage == "advice":  # the report can be read from here on
            report = time.perf_counter() - started
    total = time.perf_counter() - started
    cpu_total = time.process_time() - cpu_started
    meta = ctx.read_json(POSE_META)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"total": total, "report": report, "stages": times, "cpu_total": cpu_total,
                      "stages_cpu": cpu, "frames": meta["frames"],
                      "subject_frames": meta["frames_with_subject"],
                      "tracks": len(meta.get("tracks", [])), "peak_self": peak}))
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


def _run(code: str, *args: str) -> tuple[str, int]:
    """Run a snippet in a fresh interpreter; its output and its peak tree RSS (sampled)."""
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
    return out.decode().strip().splitlines()[-1], peak[0]


def make_long_clips(folder: Path, long: bool) -> list[Path]:
    from formcoach.testbed.groundtruth import render_clip

    ten_s = folder / "generated-running-10s-1080p.mp4"
    render_clip(ten_s, "running", fps=30.0, size=(1920, 1080), seconds=10.0)
    minute = folder / "generated-running-60s-1080p.mp4"
    _repeat(ten_s, minute, 6)
    clips = [minute]
    if long:
        ten = folder / "generated-running-600s-1080p.mp4"
        _repeat(ten_s, ten, 60)
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


def _size(clip: Path) -> str:
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        return f"{s.codec_context.width}x{s.codec_context.height}"


def _row(clip: Path, work: Path, with_raw: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"clip": clip.name, "size": _size(clip)}
    raw_s = None
    if with_raw:
        raw, raw_peak = _run(_RAW, str(clip))
        raw_s, frames = float(raw.split()[0]), int(raw.split()[1])
        row.update(
            frames=frames,
            raw_s=round(raw_s, 2),
            raw_cpu_s=round(float(raw.split()[2]), 2),
            raw_fps=round(frames / raw_s, 1),
            peak_rss_mib_raw=round(raw_peak / 2**20),
        )
    out, sampled = _run(_FULL, str(clip), str(work / f"data-{clip.stem}"))
    full = json.loads(out)
    frames = int(full["frames"])
    stages = full["stages"]
    row.update(
        frames=frames,
        analysis_s=round(full["total"], 2),
        report_s=round(full["report"], 2),
        analysis_fps=round(frames / full["total"], 1),
        stages_s=stages,
        analysis_cpu_s=round(full["cpu_total"], 2),
        stages_cpu_s=full["stages_cpu"],
    )
    if raw_s is not None:
        row.update(
            ratio_analysis_to_raw=round(full["total"] / raw_s, 2),
            ratio_report_to_raw=round(full["report"] / raw_s, 2),
            pose_throughput_vs_raw=round(raw_s / stages["pose"], 2),
        )
    row.update(
        subject_frames=int(full["subject_frames"]),
        tracks=int(full["tracks"]),
        peak_rss_mib_analysis=round(max(sampled, int(full["peak_self"])) / 2**20),
    )
    return row


def _table(rows: list[dict[str, Any]]) -> str:
    header = [
        "clip",
        "size",
        "frames",
        "raw_s",
        "analysis_s",
        "report_s",
        "ratio_analysis_to_raw",
        "ratio_report_to_raw",
        "pose_throughput_vs_raw",
        "subject_frames",
        "tracks",
        "peak_rss_mib_analysis",
    ]
    cells = [[str(r.get(h, "-")) for h in header] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines += [f"{r['clip']}: stages {r['stages_s']}" for r in rows]
    lines += [
        f"{r['clip']}: CPU s raw {r.get('raw_cpu_s', '-')}, stages {r['stages_cpu_s']}"
        for r in rows
        if "stages_cpu_s" in r
    ]
    return "\n".join(lines)


def _save(rows: list[dict[str, Any]], load_before: tuple[float, ...], complete: bool) -> str:
    """Write the JSON (after every clip, so a long run interrupted keeps what it measured)."""
    table = _table(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_avg_1_5_15_before": [round(x, 2) for x in load_before],
                    "load_avg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
                },
                "complete": complete,
                "targets": TARGETS,
                "rows": rows,
                "table": table.splitlines(),
            },
            indent=1,
        )
    )
    return table


def _earlier_rows(measuring: list[str]) -> list[dict[str, Any]]:
    """Rows of the previous results for clips this run does not measure (a --quick run keeps
    the 10-minute row), each marked as carried over."""
    try:
        earlier = json.loads(OUT.read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return []
    kept = [dict(r) for r in earlier if r.get("clip") not in measuring]
    for row in kept:
        row.setdefault("note", "carried over from an earlier full run, not re-measured")
    return kept


def main() -> None:
    long = "--quick" not in sys.argv
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = sorted(FIXTURES.glob("*.mp4")) + make_long_clips(work, long)
        carried = _earlier_rows([c.name for c in clips])
        for clip in clips:
            # Ten minutes of the raw loop would double the bench's time for a ratio the 60 s
            # clip already shows; the 10-minute clip is there for memory.
            rows.append(_row(clip, work, with_raw="600s" not in clip.name))
            print(json.dumps(rows[-1]), flush=True)
            _save(rows + carried, load_before, complete=False)
    print(_save(rows + carried, load_before, complete=True))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
