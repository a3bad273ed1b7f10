"""Builds the applications: the gateway (web pages, accounts, runs, every service's routes) and,
for the scaled-out shape, one app per service (``formcoach serve --service <name>``).

A service whose ``FORMCOACH_<SERVICE>_URL`` is set is not mounted in the gateway: its
``/api/<service>/`` requests are streamed to that URL instead. Services check credentials
themselves against the shared user store, so the proxy adds no trust of its own.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from formcoach import __version__
from formcoach.accounts import api as accounts_api
from formcoach.accounts.sessions import ServerSessionMiddleware, SessionStore
from formcoach.accounts.users import configure_token_cache
from formcoach.gateway import api, ops, pdf, record, shares, uploads, web
from formcoach.gateway.retention import RetentionSweeper
from formcoach.kit.api import install_error_handlers
from formcoach.kit.errors import AppError
from formcoach.kit.pipeline import SERVICES
from formcoach.kit.security import install_security
from formcoach.kit.settings import Settings, get_settings
from formcoach.kit.webdocs import install_docs, install_no_store
from formcoach.pipeline.orchestrator import build_celery_backend, pending_runs, run_job
from formcoach.pipeline.runners import IdHandler, JobBackend, JobRunner, ProcessJobRunner

log = logging.getLogger(__name__)


# The seed's ports, used by `formcoach serve --service <name>` when --port is not given.
DEFAULT_PORTS: dict[str, int] = {
    "gateway": 8000,
    "video_processing": 8001,
    "pose_estimation": 8002,
    "feature_extraction": 8003,
    "analysis": 8004,
    "advice_generation": 8005,
    "video_generation": 8006,
}
# Not forwarded by a proxy (RFC 9110 7.6.1); bodies pass through raw, so lengths still hold.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)


def service_url(settings: Settings, name: str) -> str | None:
    url = getattr(settings, f"{name}_url", None)
    return str(url).rstrip("/") if url else None


def build_job_runner(settings: Settings, resume: bool = True) -> JobRunner | ProcessJobRunner:
    from formcoach.video_generation.service import pending_job_ids, process_job

    runner: JobRunner | ProcessJobRunner
    if settings.job_process:
        runner = ProcessJobRunner(
            settings.job_workers,
            resume=resume,
            nice=settings.job_nice,
            log_level=settings.log_level,
            log_format=settings.log_format,
        )
    else:
        runner = JobRunner(settings.job_workers, resume=resume, nice=settings.job_nice)
    runner.register("run", partial(run_job, settings=settings), partial(pending_runs, settings))
    runner.register(
        "drill_video",
        IdHandler(partial(process_job, settings=settings)),
        partial(pending_job_ids, settings),
    )
    return runner


def build_job_backend(settings: Settings, resume: bool = True) -> JobBackend:
    """Celery when a broker is configured, else the in-process threads of the default."""
    if settings.broker_url:
        return build_celery_backend(settings)
    return build_job_runner(settings, resume)


def _base_app(
    settings: Settings,
    title: str,
    jobs: JobBackend,
    start_jobs: bool,
    sweeper: RetentionSweeper | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_jobs:
            jobs.start()
        if sweeper is not None:
            sweeper.start()
        yield
        if sweeper is not None:
            sweeper.stop()
        jobs.stop()
        client = getattr(app.state, "proxy_client", None)
        if isinstance(client, httpx.AsyncClient):
            await client.aclose()

    app = FastAPI(
        title=title,
        version=__version__,
        description="Running and exercise form analysis: upload a video, get a coaching report.",
        lifespan=lifespan,
        # /docs is served from local files (kit/webdocs.py); ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.jobs = jobs
    app.state.metrics_registry = ops.metrics_registry(settings, jobs)
    install_error_handlers(app)
    app.include_router(ops.ready_router)
    install_security(app, settings)
    configure_token_cache(settings.token_cache_s)
    install_no_store(app)
    install_docs(app)
    # Every process reads the same table, so a browser's signed-in cookie also works on a
    # proxied service, and a logout anywhere ends the session everywhere.
    app.add_middleware(ServerSessionMiddleware, store=SessionStore(settings))
    return app


def create_app(settings: Settings | None = None, start_jobs: bool = True) -> FastAPI:
    settings = settings or get_settings()
    # The retention sweep runs in the gateway (every gateway, harmlessly: deletes are per run).
    sweeper = RetentionSweeper(settings) if start_jobs else None
    app = _base_app(settings, "formcoach", build_job_backend(settings), start_jobs, sweeper)
    app.include_router(ops.router)
    app.include_router(api.public, prefix="/api")
    app.include_router(accounts_api.router, prefix="/api")
    app.include_router(api.router, prefix="/api")
    app.include_router(shares.router, prefix="/api")
    app.include_router(pdf.router, prefix="/api")
    app.include_router(uploads.router, prefix="/api")
    app.include_router(record.router, prefix="/api")
    for name in SERVICES:
        prefix = f"/api/{name.replace('_', '-')}"
        url = service_url(settings, name)
        if url:
            _add_proxy(app, name, prefix, url, settings.proxy_timeout_s)
            continue
        module = importlib.import_module(f"formcoach.{name}.api")
        app.include_router(module.router, prefix=prefix, tags=[name])
    app.mount("/static", web.static_files(), name="static")
    app.include_router(web.router)
    return app


def create_service_app(name: str, settings: Settings | None = None) -> FastAPI:
    """One service on its own: its routes under /api/<service>/ and /api/health."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    settings = settings or get_settings()
    # Video jobs started here go to Celery; without a broker, to this process's own threads
    # (resuming unfinished work at start-up stays the gateway's job).
    jobs = build_job_backend(settings, resume=False)
    app = _base_app(settings, f"formcoach {name}", jobs, start_jobs=not settings.broker_url)
    app.include_router(api.public, prefix="/api")
    module = importlib.import_module(f"formcoach.{name}.api")
    app.include_router(module.router, prefix=f"/api/{name.replace('_', '-')}", tags=[name])
    return app


def _add_proxy(app: FastAPI, name: str, prefix: str, url: str, timeout_s: float) -> None:
    async def proxy(request: Request, path: str) -> StreamingResponse:
        client = getattr(request.app.state, "proxy_client", None)
        if not isinstance(client, httpx.AsyncClient):
            client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))
            request.app.state.proxy_client = client
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "x-forwarded-for"
        ]
        # The chain as received plus this hop's peer: a service that lists the gateway in
        # FORMCOACH_TRUSTED_PROXIES reads the client from its right-hand end.
        chain = [*request.headers.getlist("x-forwarded-for")]
        chain.append(request.client.host if request.client else "")
        headers.append(("x-forwarded-for", ", ".join(h for h in chain if h)))
        upstream = client.build_request(
            request.method,
            f"{url}{prefix}/{path}" + (f"?{request.url.query}" if request.url.query else ""),
            headers=headers,
            # Streamed both ways: a large upload or video never sits whole in the gateway.
            content=request.stream(),
        )
        try:
            response = await client.send(upstream, stream=True)
        except httpx.TransportError as exc:
            log.warning("service %s at %s unreachable: %s", name, url, exc)
            raise AppError("service_unavailable", service=name) from exc
        out_headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
        return StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            headers=out_headers,
            background=BackgroundTask(response.aclose),
        )

    app.add_api_route(
        prefix + "/{path:path}",
        proxy,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        include_in_schema=False,
    )
