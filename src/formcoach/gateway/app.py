"""Builds the one-process application: every service's router, the web pages, the job runner."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from formcoach import __version__
from formcoach.gateway import api, web
from formcoach.gateway.jobs import pending_run_ids, process_run
from formcoach.kit.api import install_error_handlers
from formcoach.kit.jobs import JobRunner
from formcoach.kit.settings import Settings, get_settings

log = logging.getLogger(__name__)

SERVICES: tuple[str, ...] = (
    "video_processing",
    "pose_estimation",
    "feature_extraction",
    "analysis",
    "advice_generation",
    "video_generation",
)


def build_job_runner(settings: Settings) -> JobRunner:
    from formcoach.video_generation.service import pending_job_ids, process_job

    runner = JobRunner(settings.job_workers)
    runner.register(
        "run", partial(process_run, settings=settings), partial(pending_run_ids, settings)
    )
    runner.register(
        "drill_video", partial(process_job, settings=settings), partial(pending_job_ids, settings)
    )
    return runner


def create_app(settings: Settings | None = None, start_jobs: bool = True) -> FastAPI:
    settings = settings or get_settings()
    runner = build_job_runner(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_jobs:
            runner.start()
        yield
        runner.stop()

    app = FastAPI(
        title="formcoach",
        version=__version__,
        description="Running and exercise form analysis: upload a video, get a coaching report.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.jobs = runner
    install_error_handlers(app)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret(),
        session_cookie="formcoach_session",
        same_site="lax",
        https_only=settings.secure_cookies,
        max_age=14 * 24 * 3600,
    )
    app.include_router(api.public, prefix="/api")
    app.include_router(api.router, prefix="/api")
    for name in SERVICES:
        module = importlib.import_module(f"formcoach.{name}.api")
        app.include_router(module.router, prefix=f"/api/{name.replace('_', '-')}", tags=[name])
    app.include_router(web.router)
    return app
