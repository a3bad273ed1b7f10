"""Running one drill-video job on a cloud provider without ever paying for it twice.

The rules, in the order a job meets them:

1. The job row, with a random marker that goes into the prompt, is committed before any call.
2. Just before each create, ``submitted_at`` and the billed seconds are committed; the
   provider's job id is committed the moment it is known.
3. Whenever a create may have reached the provider (a previous attempt timed out or got a
   5xx, or the process died mid-call), the provider's job list is searched for the marker
   first; only if it is not there is another create sent.
4. A job that has a provider id is only ever polled and downloaded again, never re-created;
   a failed download is retried on the same id.

Errors become job states with catalogue codes (provider_forbidden, provider_rejected,
provider_rate_limited, provider_unavailable, ...); they are recorded, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from PIL import Image as PILImage
from sqlalchemy import func, select

from formcoach.accounts.users import utcnow
from formcoach.advice_generation.service import get_drill
from formcoach.kit.db import session_scope
from formcoach.kit.errors import AppError, render_message
from formcoach.kit.i18n import Language
from formcoach.kit.settings import Settings
from formcoach.kit.storage import get_storage
from formcoach.kit.video_io import is_playable_h264, iter_frames
from formcoach.video_generation.cloud import (
    CloudRequest,
    ProviderError,
    VideoProvider,
    make_provider,
)
from formcoach.video_generation.models import GenerationSpend, VideoJob
from formcoach.video_generation.prompts import build_prompt
from formcoach.video_generation.records import (
    day_start,
    record_failure,
    record_spend,
    record_success,
    thumbnail_key,
    video_key,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _State:
    drill_id: str
    size: str
    seconds: str
    language: Language
    marker: str
    provider_job_id: str | None
    submitted_at: datetime | None


def budget_used(settings: Settings, exclude_job: int | None = None) -> int:
    """Cloud seconds spent today, plus those reserved by cloud jobs still waiting to submit.

    The spent seconds come from the ledger (generation_spend), which keeps them after the
    job's run is deleted: deleting runs does not give the budget back.
    """
    since = day_start()
    with session_scope(settings.db_url) as session:
        marker = (
            session.scalar(select(VideoJob.request_marker).where(VideoJob.id == exclude_job))
            if exclude_job is not None
            else None
        )
        billed = session.scalar(
            select(func.coalesce(func.sum(GenerationSpend.billed_seconds), 0)).where(
                GenerationSpend.submitted_at >= since,
                GenerationSpend.request_marker != (marker or ""),
            )
        )
        waiting = session.scalars(
            select(VideoJob.seconds).where(
                VideoJob.generator != "local",
                VideoJob.submitted_at.is_(None),
                VideoJob.status.in_(("queued", "running")),
                VideoJob.created_at >= since,
                VideoJob.id != (exclude_job or -1),
            )
        )
        return int(billed or 0) + sum(int(s) for s in waiting)


def check_budget(settings: Settings, seconds: str, exclude_job: int | None = None) -> None:
    limit = settings.video_budget_seconds_per_day
    if budget_used(settings, exclude_job) + int(seconds) > limit:
        raise AppError("generation_budget_exceeded", limit=limit)


def _update(settings: Settings, job_id: int, **values: object) -> None:
    with session_scope(settings.db_url) as session:
        job = session.get(VideoJob, job_id)
        if job is not None:
            for name, value in values.items():
                setattr(job, name, value)
            if {"billed_seconds", "submitted_at"} & values.keys():
                record_spend(session, job, settings.cloud_video_usd_per_second)


def _delay(error: ProviderError, attempt: int, settings: Settings) -> float:
    wait = settings.cloud_backoff_s * float(2**attempt)
    if error.retry_after is not None:
        if error.retry_after > settings.cloud_max_retry_after_s:
            raise error
        wait = max(wait, error.retry_after)
    return wait


async def _retrying(call: Callable[[], Awaitable[T]], settings: Settings) -> T:
    """An idempotent call (look-up, poll, download) retried with backoff while retryable."""
    for attempt in range(settings.cloud_attempts):
        try:
            return await call()
        except ProviderError as error:
            if not error.retryable or attempt == settings.cloud_attempts - 1:
                raise
            await asyncio.sleep(_delay(error, attempt, settings))
    raise AssertionError("unreachable")


async def _find(job_id: int, st: _State, settings: Settings, provider: VideoProvider) -> str | None:
    since = st.submitted_at or utcnow()
    found = await _retrying(lambda: provider.find(st.marker, since), settings)
    if found is None:
        return None
    log.info("video job %s: found provider job %s by its marker", job_id, found.id)
    _update(settings, job_id, provider_job_id=found.id, provider_status=found.status)
    return found.id


async def _submit(job_id: int, st: _State, settings: Settings, provider: VideoProvider) -> str:
    """The provider's job id for this job: found again if it may exist, else created once."""
    seconds = int(st.seconds)
    request = CloudRequest(
        build_prompt(get_drill(st.drill_id), st.seconds, st.marker), st.size, st.seconds, st.marker
    )
    if st.submitted_at is None:
        check_budget(settings, st.seconds, exclude_job=job_id)
    # A submitted_at from an earlier run means a create may have reached the provider.
    maybe_created = st.submitted_at is not None
    for attempt in range(settings.cloud_attempts):
        if maybe_created:
            found = await _find(job_id, st, settings, provider)
            if found is not None:
                return found
        st.submitted_at = utcnow()
        _update(settings, job_id, submitted_at=st.submitted_at, billed_seconds=seconds)
        try:
            created = await provider.submit(request)
        except ProviderError as error:
            maybe_created = error.ambiguous
            if not error.ambiguous:
                # Refused outright (400, 403, 429): nothing was created, nothing is billed.
                _update(settings, job_id, billed_seconds=0)
            if not error.retryable or attempt == settings.cloud_attempts - 1:
                found = await _find(job_id, st, settings, provider) if maybe_created else None
                if found is not None:
                    return found
                _update(settings, job_id, billed_seconds=0)
                raise
            log.warning("video job %s: create attempt %s failed: %s", job_id, attempt + 1, error)
            await asyncio.sleep(_delay(error, attempt, settings))
            continue
        _update(settings, job_id, provider_job_id=created.id, provider_status=created.status)
        return created.id
    raise AssertionError("unreachable")


async def _wait(job_id: int, provider_id: str, settings: Settings, provider: VideoProvider) -> None:
    deadline = time.monotonic() + settings.cloud_max_wait_s
    while True:
        state = await _retrying(lambda: provider.poll(provider_id), settings)
        _update(settings, job_id, provider_status=state.status)
        if state.status == "completed":
            return
        if state.status == "failed":
            # Failed generations are not billed; a later retry may create a new one.
            _update(settings, job_id, billed_seconds=0, provider_job_id=None, submitted_at=None)
            raise ProviderError("provider_failed", state.error or "failed")
        if time.monotonic() > deadline:
            raise ProviderError("provider_unavailable", "the provider did not finish in time")
        await asyncio.sleep(settings.cloud_poll_interval_s)


def _thumbnail(video: Path, out: Path) -> None:
    middle = None
    for frame in iter_frames(video):
        middle = frame.image
        if frame.time_s >= 1.0:
            break
    if middle is None:
        raise ProviderError("provider_bad_content", "no frames")
    PILImage.fromarray(middle).save(out, format="JPEG", quality=88)


async def _fetch(
    job_id: int, provider_id: str, settings: Settings, provider: VideoProvider
) -> None:
    storage = get_storage(settings)

    async def once() -> None:
        with (
            storage.writer(video_key(job_id), suffix=".mp4") as video_tmp,
            storage.writer(thumbnail_key(job_id), suffix=".jpg") as thumb_tmp,
        ):
            await provider.download(provider_id, video_tmp)
            if not is_playable_h264(video_tmp):
                # Retryable: a truncated transfer looks the same as a wrong body.
                raise ProviderError("provider_bad_content", "not an H.264 MP4", retryable=True)
            _thumbnail(video_tmp, thumb_tmp)

    await _retrying(once, settings)


async def _run(job_id: int, settings: Settings, st: _State) -> None:
    provider = make_provider(settings)
    try:
        provider_id = st.provider_job_id or await _submit(job_id, st, settings, provider)
        await _wait(job_id, provider_id, settings, provider)
        await _fetch(job_id, provider_id, settings, provider)
    finally:
        await provider.aclose()


def process_cloud_job(job_id: int, settings: Settings) -> None:
    """Take one cloud job as far as it goes (the worker thread's handler; blocks until done)."""
    with session_scope(settings.db_url) as session:
        job = session.get(VideoJob, job_id)
        if job is None or job.request_marker is None:
            return
        st = _State(
            job.drill_id,
            job.size,
            job.seconds,
            job.language,
            job.request_marker,
            job.provider_job_id,
            job.submitted_at,
        )
    try:
        asyncio.run(_run(job_id, settings, st))
    except (ProviderError, AppError) as error:
        code = error.code
        detail = error.detail if isinstance(error, ProviderError) else ""
        message = (
            error.message(st.language)
            if isinstance(error, AppError)
            else render_message(code, st.language, detail=detail)
        )
        log.warning("video job %s failed: %s %s", job_id, code, detail)
        record_failure(settings, job_id, code, message)
        return
    except Exception:
        log.exception("video job %s crashed", job_id)
        record_failure(
            settings,
            job_id,
            "video_generation_failed",
            render_message("video_generation_failed", st.language),
        )
        return
    record_success(settings, job_id)


def cancel_cloud_job(settings: Settings, provider_job_id: str) -> None:
    """Ask the provider to drop a job (best effort: its rows are already gone or failed)."""

    async def go() -> None:
        provider = make_provider(settings)
        try:
            await _retrying(lambda: provider.cancel(provider_job_id), settings)
        finally:
            await provider.aclose()

    try:
        asyncio.run(go())
    except ProviderError as error:
        log.warning("could not cancel provider job %s: %s", provider_job_id, error)
