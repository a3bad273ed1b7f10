"""Web pages of one run (progress, results, printable report) and of a two-run comparison."""

from __future__ import annotations

import json
from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from formcoach.accounts.users import User
from formcoach.analysis.reference import load_reference
from formcoach.gateway import service, shares
from formcoach.gateway.eta import estimated
from formcoach.gateway.report import build_report
from formcoach.gateway.tracks import run_tracks
from formcoach.gateway.web_charts import chart_panels
from formcoach.gateway.web_common import page_lang, render, session_user
from formcoach.gateway.web_text import DEFAULT_HINT, FAILURE_HINTS, clock_texts
from formcoach.kit.api import DbSession, StorageDep, settings_dep
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language
from formcoach.kit.pipeline import ANNOTATED, FEATURES, run_file
from formcoach.kit.storage import Storage
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run
from formcoach.runs.schemas import RunOut

router = APIRouter(include_in_schema=False)

# Shown first on the metric cards: the judged metrics come before the angle summaries.
KEY_METRICS = ("cadence_spm", "trunk_lean_deg")


def features_of(storage: Storage, run_key: str) -> dict[str, Any] | None:
    key = run_file(run_key, FEATURES)
    if not storage.exists(key):
        return None
    data: dict[str, Any] = json.loads(storage.get_bytes(key))
    return data


def ordered_metrics(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    metrics: dict[str, dict[str, Any]] = report["metrics"]
    judged = [k for k in metrics if metrics[k].get("reference")]
    rest = [k for k in metrics if k not in judged]
    judged.sort(key=lambda k: (k not in KEY_METRICS, k))
    return [(k, metrics[k]) for k in judged + rest]


SEVERITY_ORDER = ("info", "minor", "moderate", "major")


def metric_severity(report: dict[str, Any]) -> dict[str, str]:
    """The most severe finding on each metric: a card's colour follows it, not the rounded
    value (an informational finding on a value just out of range is no red card)."""
    worst: dict[str, str] = {}
    for f in report["findings"]:
        key, sev = f.get("metric"), f["severity"]
        if key and sev in SEVERITY_ORDER:
            if SEVERITY_ORDER.index(sev) > SEVERITY_ORDER.index(worst.get(key, "info")):
                worst[key] = sev
            worst.setdefault(key, sev)
    return worst


def report_ready(view: RunOut) -> bool:
    """The report can be shown (it is written before the videos)."""
    return view.report_ready


def pending_outputs(view: RunOut) -> list[str]:
    """Outputs still being made once the report is shown."""
    return list(view.pending_outputs)


def _results_context(
    run: Run, storage: Storage, lang: Language, share_days: int, view: RunOut | None = None
) -> dict[str, Any]:
    report = build_report(run, storage, lang)
    people = run_tracks(storage, run).tracks
    pending = pending_outputs(view) if view is not None else []
    return {
        "pending": pending,
        # Where the annotated video will be once it is made (the page fills it in).
        "annotated_url": f"/api/runs/{run.id}/files/{ANNOTATED}",
        "report": report,
        "metrics": ordered_metrics(report),
        "metric_severity": metric_severity(report),
        "charts": chart_panels(features_of(storage, run.run_key), lang),
        # The picker only matters when someone else could have been analysed.
        "people": people if len(people) > 1 else [],
        "shared": False,
        "share_days": share_days,
    }


def _load_run(
    request: Request, session: Session, run_id: int
) -> tuple[User | None, Run | None, Response | None]:
    user = session_user(request, session)
    if user is None:
        return None, None, RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    try:
        return user, runs_service.get_run_for_user(session, user.id, run_id), None
    except AppError:
        return user, None, render(request, "missing.html", user, status_code=404)


@router.get("/runs/{run_id}", response_class=HTMLResponse, response_model=None)
def run_page(run_id: int, request: Request, session: DbSession, storage: StorageDep) -> Response:
    user, run, early = _load_run(request, session, run_id)
    if early is not None or run is None:
        return early or Response(status_code=404)
    lang = page_lang(request, user)
    settings = settings_dep(request)
    hints = {code: text[lang] for code, text in FAILURE_HINTS.items()} | {"": DEFAULT_HINT[lang]}
    view = estimated(runs_service.run_view(run), storage, run.run_key, settings)
    ready = report_ready(view)
    context: dict[str, Any] = {
        "run": view,
        "hint": None,
        "hints": hints,
        "clock": clock_texts(lang),
        "report_ready": ready,
        "pending": pending_outputs(view),
    }
    if ready:
        context.update(_results_context(run, storage, lang, settings.share_ttl_days, view))
    if run.status == "failed":
        context["hint"] = FAILURE_HINTS.get(run.error_code or "", DEFAULT_HINT)[lang]
    return render(request, "run.html", user, nav="history", **context)


@router.get("/runs/{run_id}/results", response_class=HTMLResponse, response_model=None)
def results_fragment(
    run_id: int, request: Request, session: DbSession, storage: StorageDep
) -> Response:
    """The results section alone: the progress page swaps it in without reloading."""
    user, run, early = _load_run(request, session, run_id)
    if early is not None or run is None:
        return early or Response(status_code=404)
    view = runs_service.run_view(run)
    if not report_ready(view):
        return Response(status_code=409)
    context = _results_context(
        run, storage, page_lang(request, user), settings_dep(request).share_ttl_days, view
    )
    return render(request, "_results.html", user, run=view, **context)


def _qr(url: str) -> Markup:
    # segno writes the SVG itself from the URL; nothing user-controlled reaches the markup.
    return Markup(segno.make(url, error="m").svg_inline(scale=2, dark="#10243e"))


@router.get("/runs/{run_id}/print", response_class=HTMLResponse, response_model=None)
def print_page(run_id: int, request: Request, session: DbSession, storage: StorageDep) -> Response:
    user, run, early = _load_run(request, session, run_id)
    if early is not None or run is None:
        return early or Response(status_code=404)
    if run.status != "completed":
        return RedirectResponse(f"/runs/{run_id}", status_code=303)
    context = _results_context(
        run, storage, page_lang(request, user), settings_dep(request).share_ttl_days
    )
    # The sheet goes home with the customer: it carries a share link of its own (QR code at
    # the shop's public URL), and each drill's QR code opens that drill's video through it.
    settings = settings_dep(request)
    _, token = shares.create_share(session, settings, run)
    session.commit()
    share = shares.share_url(settings, request, token)
    qr: dict[str, dict[str, Any]] = {}
    if share["url"]:
        for d in context["report"]["drills"]:
            if d.get("video_url") and d.get("video_job_id"):
                url = f"{share['url']}/drills/{d['video_job_id']}"
                qr[d["drill_id"]] = {"url": url, "svg": _qr(url)}
    context["share"] = share
    return render(request, "print.html", user, run=runs_service.run_view(run), qr=qr, **context)


@router.get("/compare", response_class=HTMLResponse, response_model=None)
def compare_page(
    request: Request, session: DbSession, storage: StorageDep, a: int = 0, b: int = 0
) -> Response:
    user = session_user(request, session)
    if user is None:
        return RedirectResponse("/login?next=/compare", status_code=303)
    lang = page_lang(request, user)
    runs, _ = runs_service.list_runs_filtered(session, user, 1, 100)
    completed = [r for r in runs if r.status == "completed"]
    context: dict[str, Any] = {"choices": completed, "a": a, "b": b, "comparison": None}
    if a and b:
        try:
            context["comparison"] = service.compare_runs(session, storage, user, a, b, lang)
        except AppError as exc:
            context["error"] = exc.message(lang)
        else:
            context["reports"] = [
                build_report(runs_service.get_run_for_user(session, user.id, i), storage, lang)
                for i in (a, b)
            ]
            context["run_views"] = [
                runs_service.run_view(runs_service.get_run_for_user(session, user.id, i))
                for i in (a, b)
            ]
            ref = load_reference(settings_dep(request).reference_file)
            context["overlay"] = service.compare_overlay(session, storage, user, a, b, ref)
    return render(request, "compare.html", user, nav="compare", **context)
