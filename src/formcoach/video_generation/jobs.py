"""The drill_videos pipeline stage: a demonstration video for every prescribed drill."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from formcoach.kit.db import session_scope
from formcoach.kit.pipeline import ADVICE, DRILL_VIDEOS, StageContext
from formcoach.video_generation.models import VideoJob
from formcoach.video_generation.service import ensure_pipeline_job, job_view, process_job

log = logging.getLogger(__name__)


def run(ctx: StageContext) -> None:
    """Reads advice.json, renders (or reuses) one video per drill, writes drill_videos.json.

    Each entry is {"drill_id", "job_id", "video_url"}; video_url is null when that drill's
    video failed (the job row keeps the error), so one bad drill does not sink the report.
    """
    advice: dict[str, Any] = ctx.read_json(ADVICE)
    drill_ids = [str(item["drill_id"]) for item in advice.get("drills", [])]
    settings = ctx.settings
    size, seconds = settings.drill_video_size, settings.drill_video_seconds
    language = ctx.options.language
    entries: list[dict[str, Any]] = []
    total = max(len(drill_ids), 1)
    for index, drill_id in enumerate(drill_ids):
        job_id = ensure_pipeline_job(settings, ctx.run_id, drill_id, size, seconds, language)

        def within(fraction: float, index: int = index) -> None:
            ctx.progress((index + fraction) / total)

        process_job(job_id, settings, progress=within)
        with session_scope(settings.db_url) as session:
            job = session.scalars(select(VideoJob).where(VideoJob.id == job_id)).one()
            view = job_view(job)
        if view["video_url"] is None:
            log.warning("run %s: no video for drill %s (%s)", ctx.run_id, drill_id, view["error"])
        entries.append({"drill_id": drill_id, "job_id": job_id, "video_url": view["video_url"]})
        ctx.progress((index + 1) / total)
    ctx.write_json(DRILL_VIDEOS, entries)
    ctx.progress(1.0)
