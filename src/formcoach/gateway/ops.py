"""Operations endpoints: ``/metrics`` (Prometheus text format) and ``/api/ready`` (readiness).

``/api/health`` (api.py) says the process answers; ``/api/ready`` says it can do work: the
database answers, storage takes a write and has at least ``min_free_disk_mb`` free (else
"low_space"), the broker (when configured) answers a ping. A load
balancer or orchestrator should route to a process only while it is ready.

``/metrics`` is read from the database at scrape time (runs by state, stage durations, drill
video jobs and their cost), so every gateway process reports the same figures whichever
process or Celery worker ran the work, and nothing is lost at a restart. Access: an
administrator's credentials, or ``Authorization: Bearer <FORMCOACH_METRICS_TOKEN>`` for a
scraper (the token is compared in constant time and grants nothing else).
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from formcoach.accounts.deps import current_user
from formcoach.kit.api import SettingsDep
from formcoach.kit.db import get_engine, session_scope
from formcoach.kit.diskspace import lowest_free_mb
from formcoach.kit.errors import AppError
from formcoach.kit.schemas import ErrorResponse
from formcoach.kit.settings import Settings
from formcoach.kit.storage import check_storage, get_storage
from formcoach.pipeline.stages import STAGES
from formcoach.runs.models import Run, RunStage

log = logging.getLogger(__name__)

RUN_STATES: tuple[str, ...] = ("queued", "running", "completed", "failed")
# Stage durations span 0.1 s (advice) to many minutes (pose on a long clip).
DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
# Short timeouts: a readiness probe must answer before the prober gives up (typically 1-5 s).
BROKER_TIMEOUT_S = 2.0

router = APIRouter()  # the gateway's: /metrics
ready_router = APIRouter()  # every app's, the gateway's and each service's: /api/ready


class FormcoachCollector(Collector):
    """Reads the figures at scrape time; ``jobs`` is the app's job backend (queue depth)."""

    def __init__(self, settings: Settings, jobs: Any) -> None:
        self.settings = settings
        self.jobs = jobs

    def collect(self) -> Iterator[Metric]:
        with session_scope(self.settings.db_url) as session:
            counted = session.execute(select(Run.status, func.count()).group_by(Run.status))
            by_state = {str(state): int(n) for state, n in counted.tuples().all()}
            durations = (
                session.execute(
                    select(RunStage.name, RunStage.started_at, RunStage.finished_at).where(
                        RunStage.status == "done",
                        RunStage.started_at.is_not(None),
                        RunStage.finished_at.is_not(None),
                    )
                )
                .tuples()
                .all()
            )
            # Bucketed here rather than in SQL: date arithmetic differs between SQLite and
            # PostgreSQL. Seven small rows per run; a scrape of 10,000 runs reads 70,000.
            stage_times: dict[str, list[float]] = {stage: [] for stage in STAGES}
            for name, start, end in durations:
                if start is not None and end is not None:
                    stage_times.setdefault(name, []).append((end - start).total_seconds())
            video = list(self._video_jobs(session))
            spend = list(self._spend(session))
        runs = GaugeMetricFamily("formcoach_runs", "Runs by state.", labels=["state"])
        for state in RUN_STATES:
            runs.add_metric([state], float(by_state.get(state, 0)))
        yield runs
        yield _histogram(stage_times)
        depth = GaugeMetricFamily(
            "formcoach_queue_depth", "Jobs waiting or running, per queue.", labels=["queue"]
        )
        for queue, count in self._depth().items():
            depth.add_metric([queue], float(count))
        yield depth
        yield from _video_metrics(video, spend)

    @staticmethod
    def _video_jobs(session: Any) -> Iterator[tuple[str, str, int]]:
        from formcoach.video_generation.models import VideoJob

        rows = session.execute(
            select(VideoJob.generator, VideoJob.status, func.count()).group_by(
                VideoJob.generator, VideoJob.status
            )
        ).tuples()
        for generator, status, count in rows:
            yield str(generator), str(status), int(count)

    @staticmethod
    def _spend(session: Any) -> Iterator[tuple[str, int, float]]:
        """Billed seconds and USD per generator from the ledger, which keeps the spend of
        jobs whose runs were deleted (video_jobs forgets it)."""
        from formcoach.video_generation.models import GenerationSpend

        rows = session.execute(
            select(
                GenerationSpend.generator,
                func.coalesce(func.sum(GenerationSpend.billed_seconds), 0),
                func.coalesce(func.sum(GenerationSpend.usd), 0),
            ).group_by(GenerationSpend.generator)
        ).tuples()
        for generator, seconds, usd in rows:
            yield str(generator), int(seconds), float(usd)

    def _depth(self) -> dict[str, int]:
        from formcoach.pipeline.orchestrator import QUEUES

        depth = getattr(self.jobs, "depth", None)
        if depth is None:
            return {}
        try:
            # The thread runner counts per job kind; Celery per queue (Redis list lengths).
            result: dict[str, int] = depth() if not self.settings.broker_url else depth(QUEUES)
        except Exception:
            log.warning("queue depth unavailable", exc_info=True)
            return {}
        return result


def _histogram(stage_times: dict[str, list[float]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "formcoach_stage_duration_seconds",
        "Duration of finished pipeline stages.",
        labels=["stage"],
    )
    for stage, values in stage_times.items():
        buckets = [(str(b), float(sum(1 for v in values if v <= b))) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        family.add_metric([stage], buckets, sum_value=float(sum(values)))
    return family


def _video_metrics(
    rows: list[tuple[str, str, int]], spend: list[tuple[str, int, float]]
) -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        "formcoach_generator_jobs",
        "Drill-video generator jobs by generator and status (rows of video_jobs).",
        labels=["generator", "status"],
    )
    billed = GaugeMetricFamily(
        "formcoach_generator_billed_seconds",
        "Generated seconds billed by cloud generators (the generation_spend ledger).",
        labels=["generator"],
    )
    cost = GaugeMetricFamily(
        "formcoach_generator_cost_usd",
        "Cost of the billed seconds, each at the FORMCOACH_CLOUD_VIDEO_USD_PER_SECOND of "
        "when it was billed.",
        labels=["generator"],
    )
    generators: set[str] = set()
    for generator, status, count in rows:
        jobs.add_metric([generator, status], float(count))
        generators.add(generator)
    spent = {generator: (seconds, usd) for generator, seconds, usd in spend}
    # Every generator that has jobs or spend gets a figure (0 for the local one).
    for generator in sorted(generators | spent.keys()):
        seconds, usd = spent.get(generator, (0, 0.0))
        billed.add_metric([generator], float(seconds))
        cost.add_metric([generator], round(usd, 4))
    yield jobs
    yield billed
    yield cost


def metrics_registry(settings: Settings, jobs: Any) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FormcoachCollector(settings, jobs))
    return registry


def _authorize_metrics(request: Request, settings: Settings) -> None:
    token = settings.metrics_token
    sent = request.headers.get("authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return
    with session_scope(settings.db_url) as session:
        if not current_user(request, session).is_admin:
            raise AppError("forbidden")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, settings: SettingsDep) -> Response:
    _authorize_metrics(request, settings)
    registry = getattr(request.app.state, "metrics_registry", None)
    if not isinstance(registry, CollectorRegistry):
        registry = metrics_registry(settings, getattr(request.app.state, "jobs", None))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


# --- readiness --------------------------------------------------------------------------------


def _check_database(settings: Settings) -> None:
    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite" and url.database:
        # A fresh connection that may not create the file: a pooled one would keep answering
        # from a database file that was removed or replaced underneath it.
        raw = sqlite3.connect(f"file:{url.database}?mode=rw", uri=True, timeout=2)
        try:
            raw.execute("SELECT 1 FROM alembic_version").fetchall()
        finally:
            raw.close()
        return
    with get_engine(settings.db_url).connect() as conn:
        conn.execute(text("SELECT 1"))


def _check_broker(settings: Settings) -> None:
    import redis

    client = redis.Redis.from_url(
        settings.broker_url or "",
        socket_timeout=BROKER_TIMEOUT_S,
        socket_connect_timeout=BROKER_TIMEOUT_S,
    )
    try:
        client.ping()
    finally:
        client.close()


def readiness(settings: Settings) -> dict[str, str]:
    """Each component's state: "ok", "unavailable" or "not_configured"."""
    checks: dict[str, str] = {}
    probes = {
        "database": lambda: _check_database(settings),
        "storage": lambda: check_storage(get_storage(settings)),
        "broker": (lambda: _check_broker(settings)) if settings.broker_url else None,
    }
    for name, probe in probes.items():
        if probe is None:
            checks[name] = "not_configured"
            continue
        try:
            probe()
        except Exception as exc:
            log.warning("readiness: %s unavailable: %s", name, exc)
            checks[name] = "unavailable"
        else:
            checks[name] = "ok"
    if checks["storage"] == "ok" and lowest_free_mb(settings) < settings.min_free_disk_mb:
        # Writable but (nearly) full: a write would still succeed, the next upload would not.
        checks["storage"] = "low_space"
    return checks


@ready_router.get(
    "/api/ready",
    tags=["gateway"],
    responses={503: {"model": ErrorResponse, "description": "a component is unavailable"}},
)
def ready(settings: SettingsDep) -> dict[str, Any]:
    checks = readiness(settings)
    failing = [name for name, state in checks.items() if state == "unavailable"]
    if checks["storage"] == "low_space":
        free = lowest_free_mb(settings)
        failing.append(
            f"storage (low space: {free:.0f} MB free, minimum {settings.min_free_disk_mb:.0f} MB)"
        )
    if failing:
        raise AppError("not_ready", components=", ".join(failing))
    return {"status": "ready", "checks": checks}
