"""Command line: `formcoach analyze` (no server needed), `serve`, `worker`, `migrate`."""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import click

from formcoach import __version__
from formcoach.bootstrap import prepare
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import Language
from formcoach.kit.pipeline import MOVEMENTS, SERVICES, VIEWS
from formcoach.kit.settings import Settings, get_settings


def _prepare_or_exit(settings: Settings) -> str | None:
    """prepare(), but a refused setting (a weak FORMCOACH_ADMIN_PASSWORD) ends the command with
    its message in both languages and exit status 2 instead of a traceback."""
    try:
        return prepare(settings)
    except AppError as exc:
        click.echo(f"error: {exc.code}: {exc.message('ja')}\n{exc.message('en')}", err=True)
        sys.exit(2)


# The served one-process deployment runs its jobs in a niced child process (pipeline/runners.py
# ProcessJobRunner) so that status requests stay fast during a pose job (issue 8).
SERVE_JOB_DEFAULTS: dict[str, object] = {"job_process": True, "job_nice": 10}


def preload_stages() -> None:
    """Import every stage's module before serving. Importing MediaPipe (and the matplotlib it
    pulls in) takes seconds holding the GIL and the import lock: left to the first pose job,
    it stalls every request in flight (seen as 10 s timeouts of 200 polling clients)."""
    import importlib

    from formcoach.pipeline.stages import STAGE_TABLE

    for stage in STAGE_TABLE:
        importlib.import_module(stage.module)


@click.group()
@click.version_option(__version__)
def cli() -> None:
    """formcoach: running and exercise form analysis."""


def _logging(level: int | str, settings: Settings | None = None) -> None:
    """JSON lines by default (FORMCOACH_LOG_FORMAT), uvicorn's and Celery's lines included."""
    from formcoach.kit.observability import configure_logging

    fmt = (settings or get_settings()).log_format
    configure_logging(level, fmt)


@cli.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = get_settings()
    generated = _prepare_or_exit(settings)
    click.echo(f"database ready: {settings.db_url}")
    if generated:
        click.echo(f"admin login: admin / {generated}")


SERVICE_CHOICES = ("gateway", *SERVICES)


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default from settings).")
@click.option("--port", type=int, default=None, help="Port (default: the service's seed port).")
@click.option(
    "--service",
    type=click.Choice(SERVICE_CHOICES),
    default="gateway",
    show_default=True,
    help="Run one service on its own (the gateway serves the web app and routes to the rest).",
)
def serve(host: str | None, port: int | None, service: str) -> None:
    """Migrate, then run the web app and API (by default everything in one process)."""
    import uvicorn

    from formcoach.gateway.app import DEFAULT_PORTS, create_app, create_service_app

    settings = get_settings()
    _logging(settings.log_level, settings)
    host = host or settings.host
    if service != "gateway":
        # Services share the gateway's database; the gateway (or `migrate`) migrates it.
        port = port or DEFAULT_PORTS[service]
        click.echo(f"formcoach {__version__} {service} on http://{host}:{port}/")
        uvicorn.run(
            create_service_app(service, settings),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            log_config=None,  # keep the JSON logging configured above
            proxy_headers=False,  # see below
        )
        return
    generated = _prepare_or_exit(settings)
    settings = settings.model_copy(
        update={k: v for k, v in SERVE_JOB_DEFAULTS.items() if k not in settings.model_fields_set}
    )
    if not settings.broker_url and not settings.job_process:
        preload_stages()
    port = port or settings.port
    click.echo(f"formcoach {__version__} on http://{host}:{port}/")
    if generated:
        click.echo(f"admin login: admin / {generated}   (shown once; set FORMCOACH_ADMIN_PASSWORD)")
    elif settings.admin_password:
        click.echo("admin login: admin / (the password in FORMCOACH_ADMIN_PASSWORD)")
    else:
        click.echo("admin login: admin / (the password printed at first start)")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep the JSON logging configured above
        # Client addresses come from accounts/signin.client_address (FORMCOACH_TRUSTED_PROXIES);
        # uvicorn's rewriting would believe any X-Forwarded-For sent from loopback.
        proxy_headers=False,
    )


@cli.command()
@click.option(
    "--queues",
    default=None,
    help="Comma-separated queues to take (default: every queue). "
    "video_processing, pose_estimation, feature_extraction, analysis, advice_generation, "
    "video_generation.",
)
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--name", default=None, help="Celery node name (default: formcoach-<pid>@<host>).")
@click.option(
    "--restart/--no-restart",
    default=True,
    show_default=True,
    help="Start the Celery worker again whenever it stops on its own.",
)
def worker(queues: str | None, concurrency: int, name: str | None, restart: bool) -> None:
    """Run a Celery worker for background stages (needs FORMCOACH_BROKER_URL)."""
    import os

    from formcoach.pipeline.celery_app import supervise
    from formcoach.pipeline.orchestrator import QUEUES, celery_worker_app

    settings = get_settings()
    if not settings.broker_url:
        raise click.UsageError("FORMCOACH_BROKER_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    _logging(settings.log_level, settings)
    chosen = [q.strip() for q in (queues or ",".join(QUEUES)).split(",") if q.strip()]
    unknown = sorted(set(chosen) - set(QUEUES))
    if unknown:
        raise click.UsageError(
            f"unknown queue(s): {', '.join(unknown)}; one of {', '.join(QUEUES)}"
        )
    node = name or f"formcoach-{os.getpid()}@%h"
    if restart:
        # Celery stops for good on some broker failures (e.g. Redis restarting while a late-ack
        # task runs); a child process restarted here keeps a hand-started worker serving.
        args = ["worker", "--no-restart", f"--queues={','.join(chosen)}"]
        args += [f"--concurrency={concurrency}", f"--name={node}"]
        sys.exit(supervise([sys.executable, "-m", "formcoach", *args]))
    app = celery_worker_app(settings)
    app.worker_main(
        [
            "worker",
            f"--queues={','.join(chosen)}",
            f"--concurrency={concurrency}",
            f"--hostname={node}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@cli.command()
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--movement",
    type=click.Choice(MOVEMENTS),
    default="auto",
    show_default=True,
)
@click.option("--view", type=click.Choice(VIEWS), default="auto")
@click.option("--height-cm", type=click.FloatRange(50, 250), default=None)
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--subject",
    type=click.IntRange(min=1),
    default=None,
    help="Track id of the person to analyse (see --list-tracks); default: chosen automatically.",
)
@click.option(
    "--camera-roll-deg",
    type=click.FloatRange(-180, 180),
    default=None,
    help="The camera's tilt, if measured: true vertical in the image, degrees clockwise "
    "from the image's up (angles are then measured against it).",
)
@click.option("--list-tracks", is_flag=True, help="Also print the people found (track ids).")
def analyze(
    video: Path,
    movement: str,
    view: str,
    height_cm: float | None,
    lang: Language,
    out_dir: Path,
    subject: int | None,
    camera_roll_deg: float | None,
    list_tracks: bool,
) -> None:
    """Analyse VIDEO without a server; write report.json, videos and CSVs into --out."""
    from formcoach.gateway.offline import analyze_file

    # The progress bar is the output; log lines would break it up.
    _logging(logging.WARNING)

    try:
        with tempfile.TemporaryDirectory(prefix="formcoach-") as tmp:
            report = analyze_file(
                video,
                out_dir,
                Path(tmp),
                movement=movement,
                view=view,
                height_cm=height_cm,
                language=lang,
                subject=subject,
                camera_roll_deg=camera_roll_deg,
            )
    except AppError as exc:
        click.echo(f"error: {exc.code}: {exc.message(lang)}", err=True)
        sys.exit(2 if exc.status < 500 else 1)
    except Exception as exc:  # an internal error: exit 1 with the reason
        click.echo(f"internal error: {exc}", err=True)
        sys.exit(1)
    findings = ", ".join(f["code"] for f in report["findings"]) or "-"
    if list_tracks:
        _print_tracks(out_dir / "tracks.json")
    click.echo(f"done: {out_dir / 'report.json'} ({report['movement']}; findings: {findings})")


def _print_tracks(path: Path) -> None:
    import json

    if not path.is_file():
        click.echo("tracks: -")
        return
    data = json.loads(path.read_text())
    for track in data.get("tracks", []):
        mark = "*" if track.get("id") == data.get("subject") else " "
        # Why the automatic choice is who it is: the score's parts (pose_estimation/subject.py).
        parts = track.get("parts") or {}
        why = ", ".join(f"{k} {v:.2f}" for k, v in parts.items() if k != "travel")
        click.echo(
            f"{mark} track {track['id']}: {track['start_s']:.1f}–{track['end_s']:.1f} s, "
            f"{track['frames']} frames, travel {track.get('travel', 0):.1f} body sizes"
            + (f", score {track['prominence']:.3f} ({why})" if why else "")
        )


@cli.command()
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Delete runs older than this many days (default: FORMCOACH_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Only list the runs that would be deleted.")
def purge(days: int | None, dry_run: bool) -> None:
    """Delete runs older than the retention period, with their files and drill videos."""
    from formcoach.gateway.retention import purge_expired

    settings = get_settings()
    _logging(logging.WARNING, settings)
    days = days if days is not None else settings.retention_days
    if days is None:
        raise click.UsageError("no retention period: set FORMCOACH_RETENTION_DAYS or pass --days")
    purged = purge_expired(settings, days, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for item in purged:
        created = item.created_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{verb} run {item.run_id} (user {item.username}, {item.status}, {created})")
    click.echo(f"{verb} {len(purged)} run(s) older than {days} day(s)")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
