"""Live progress of a run as server-sent events (GET /api/runs/{id}/events).

The job runner (threads here, Celery workers when scaled out) records progress in the database,
so the stream reads the run's rows every `events_poll_s` and sends an event only when something
changed: every gateway process can serve any run's stream, with no broker of its own."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from formcoach.gateway.eta import estimated
from formcoach.kit.api import db_slot_held
from formcoach.kit.db import session_scope
from formcoach.kit.settings import Settings
from formcoach.kit.storage import get_storage
from formcoach.runs import service as runs_service
from formcoach.runs.models import TERMINAL, Run

# Fields that change with the clock alone (gateway/eta.py).
CLOCK = ("elapsed_s", "eta_s", "report_eta_s")


def snapshot(settings: Settings, run_id: int) -> dict[str, Any] | None:
    """The run as GET /api/runs/{id} shows it, or None once it has been deleted."""
    with session_scope(settings.db_url) as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
        view = estimated(runs_service.run_view(run), get_storage(settings), run.run_key, settings)
        return view.model_dump(mode="json")


def _steady(run: dict[str, Any] | None) -> Any:
    if run is None:
        return None
    stages = [{k: v for k, v in s.items() if k not in CLOCK} for s in run["stages"]]
    return {**{k: v for k, v in run.items() if k not in CLOCK}, "stages": stages}


def _event(name: str, data: dict[str, Any], event_id: int) -> str:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def run_events(
    settings: Settings, run_id: int, disconnected: Callable[[], Any]
) -> AsyncIterator[str]:
    """`run` events with the run (RunOut) on each change; `gone` if it is deleted. The stream
    ends after the completed/failed event, so a client that reconnects only while a run is in
    progress never loops on a finished one."""
    # Tells EventSource to wait 2 s before reconnecting after a dropped connection.
    yield "retry: 2000\n\n"
    last: dict[str, Any] | None = None
    sent = 0
    started = quiet_since = time.monotonic()
    while time.monotonic() - started < settings.events_max_s:
        if await disconnected():
            return
        # A held slot, like any request's session: streams must not starve a bounded pool.
        async with db_slot_held(settings.db_url):
            current = await run_in_threadpool(snapshot, settings, run_id)
        if current is None:
            yield _event("gone", {"id": run_id}, sent + 1)
            return
        # Elapsed time and the estimate move on every read; the page counts them down itself
        # between events, so only a change of state or progress makes an event.
        if _steady(current) != _steady(last):
            sent += 1
            last = current
            quiet_since = time.monotonic()
            yield _event("run", current, sent)
            if current["status"] in TERMINAL:
                return
        elif time.monotonic() - quiet_since >= settings.events_heartbeat_s:
            quiet_since = time.monotonic()
            yield ": heartbeat\n\n"
        await anyio.sleep(settings.events_poll_s)
