"""Time remaining of a run, per stage and in all (issue 20 item 7).

The estimate, in seconds of work (time spent waiting in the queue is not counted):

- Each stage's share of the work is its weight in the stage table (`pipeline/stages.py`),
  normalised to 1. Work done `p` = the shares of the stages done, plus the running stage's
  share times its own progress (0..1).
- Before anything is measured the run is expected to take `T0 = eta_prior_s_per_clip_s ×
  clip duration + eta_prior_fixed_s` (the clip duration from `video_info.json`, known once the
  probe has run). The seconds per unit of work are then `R = (e + c·T0) / (p + c)`, `e` the
  seconds the stages have taken so far and `c = eta_prior_weight`: the prior counts as a
  small share of measured work, so the estimate starts from the clip's length and follows
  this run's own speed as it goes. Without a clip duration, `R = e / p` once `p` is at least
  `c`, else there is no estimate yet (null).
- A pending stage needs `share × R`. The running stage, once it has reported at least
  `eta_min_stage_progress`, needs what its own pace says: `elapsed × (1 − f) / f`; before
  that, `share × (1 − f) × R`. A done stage needs 0.
- The run's `eta_s` is the sum over its stages; `report_eta_s` the sum up to the last of the
  stages that write the report (analysis, advice), whatever the stage order.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime
from threading import Lock

from formcoach.kit.pipeline import VIDEO_INFO, run_file
from formcoach.kit.settings import Settings
from formcoach.kit.storage import Storage
from formcoach.pipeline.stages import STAGE_WEIGHTS
from formcoach.runs.models import TERMINAL
from formcoach.runs.schemas import RunOut, StageOut

# The stages whose artifacts make the report: results can be shown once they are done.
REPORT_STAGES = ("analysis", "advice")

_DURATIONS: OrderedDict[str, float] = OrderedDict()
_LOCK = Lock()
_CACHE_SIZE = 1024


def clip_duration(storage: Storage, run_key: str) -> float | None:
    """The clip's duration (s) from the probe's video_info.json, None before the probe ran.
    Cached per run: the progress page asks every second, and the file never changes."""
    with _LOCK:
        if run_key in _DURATIONS:
            return _DURATIONS[run_key]
    key = run_file(run_key, VIDEO_INFO)
    try:
        if not storage.exists(key):
            return None
        value = float(json.loads(storage.get_bytes(key))["source"]["duration_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    with _LOCK:
        _DURATIONS[run_key] = value
        while len(_DURATIONS) > _CACHE_SIZE:
            _DURATIONS.popitem(last=False)
    return value


def _elapsed(stage: StageOut, now: datetime) -> float | None:
    if stage.duration_s is not None:
        return stage.duration_s
    if stage.status == "running" and stage.started_at is not None:
        started = stage.started_at
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        return max(0.0, (now - started).total_seconds())
    return None


def with_eta(
    run: RunOut, clip_s: float | None, settings: Settings, now: datetime | None = None
) -> RunOut:
    """The run with `elapsed_s` and `eta_s` on every stage and `eta_s`/`report_eta_s` on the
    run (see the module doc); a failed run has no estimate, a completed one 0."""
    now = now or datetime.now(UTC)
    total = sum(STAGE_WEIGHTS.get(s.name, 0.0) for s in run.stages) or 1.0
    share = {s.name: STAGE_WEIGHTS.get(s.name, 0.0) / total for s in run.stages}
    elapsed = {s.name: _elapsed(s, now) for s in run.stages}
    done = sum(
        share[s.name] * (1.0 if s.status == "done" else s.progress if s.status == "running" else 0)
        for s in run.stages
    )
    spent = sum(e for e in elapsed.values() if e is not None)
    c = settings.eta_prior_weight
    rate: float | None = None
    if clip_s is not None:
        prior = settings.eta_prior_s_per_clip_s * clip_s + settings.eta_prior_fixed_s
        rate = (spent + c * prior) / (done + c)
    elif done >= c and spent > 0:
        # Nothing timed (stages written without start times) is no estimate, not "0 s left".
        rate = spent / done
    stages: list[StageOut] = []
    for s in run.stages:
        eta: float | None
        if s.status == "done":
            eta = 0.0
        elif run.status == "failed" or s.status == "failed":
            eta = None
        elif (
            s.status == "running"
            and s.progress >= settings.eta_min_stage_progress
            and elapsed[s.name] is not None
        ):
            eta = (elapsed[s.name] or 0.0) * (1.0 - s.progress) / s.progress
        elif rate is None:
            eta = None
        else:
            left = 1.0 - s.progress if s.status == "running" else 1.0
            eta = share[s.name] * left * rate
        spent_s = elapsed[s.name]
        stages.append(
            s.model_copy(
                update={
                    "elapsed_s": None if spent_s is None else round(spent_s, 1),
                    "eta_s": None if eta is None else round(eta, 1),
                }
            )
        )
    run_eta = _sum([s.eta_s for s in stages])
    names = [s.name for s in stages]
    last = max((names.index(n) for n in REPORT_STAGES if n in names), default=len(names) - 1)
    report_eta = _sum([s.eta_s for s in stages[: last + 1]])
    if run.status == "completed":
        run_eta = report_eta = 0.0
    elif run.status == "failed":
        run_eta = report_eta = None
    return run.model_copy(update={"stages": stages, "eta_s": run_eta, "report_eta_s": report_eta})


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else round(sum(v or 0.0 for v in values), 1)


def estimated(run: RunOut, storage: Storage, run_key: str, settings: Settings) -> RunOut:
    """with_eta for a run whose clip duration is read from its artifacts."""
    clip = None if run.status in TERMINAL else clip_duration(storage, run_key)
    return with_eta(run, clip, settings)
