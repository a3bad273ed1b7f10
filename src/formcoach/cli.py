"""Command line: `formcoach analyze` (no server needed), `serve`, `migrate`, `create-admin`."""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import click

from formcoach import __version__
from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings, get_settings


def prepare(settings: Settings) -> str | None:
    """Create the data dir, migrate the database and make sure an admin exists.

    Returns a newly generated admin password (to print once), if one was generated.
    """
    from formcoach.gateway.service import ensure_admin
    from formcoach.kit.db import session_scope
    from formcoach.kit.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    with session_scope(settings.db_url) as session:
        return ensure_admin(session, settings.admin_password)


@click.group()
@click.version_option(__version__)
def cli() -> None:
    """formcoach: running and exercise form analysis."""


def _logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@cli.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = get_settings()
    generated = prepare(settings)
    click.echo(f"database ready: {settings.db_url}")
    if generated:
        click.echo(f"admin login: admin / {generated}")


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default from settings).")
@click.option("--port", type=int, default=None, help="Port (default FORMCOACH_PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Migrate, then run the web app, API and job runner in one process."""
    import uvicorn

    from formcoach.gateway.app import create_app

    _logging(logging.INFO)

    settings = get_settings()
    generated = prepare(settings)
    host = host or settings.host
    port = port or settings.port
    click.echo(f"formcoach {__version__} on http://{host}:{port}/")
    if generated:
        click.echo(f"admin login: admin / {generated}   (shown once; set FORMCOACH_ADMIN_PASSWORD)")
    elif settings.admin_password:
        click.echo("admin login: admin / (the password in FORMCOACH_ADMIN_PASSWORD)")
    else:
        click.echo("admin login: admin / (the password printed at first start)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@cli.command()
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--movement",
    type=click.Choice(["running", "walking", "squat", "plank", "auto"]),
    default="auto",
    show_default=True,
)
@click.option("--view", type=click.Choice(["side", "front", "rear"]), default="side")
@click.option("--height-cm", type=click.FloatRange(50, 250), default=None)
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
def analyze(
    video: Path, movement: str, view: str, height_cm: float | None, lang: str, out_dir: Path
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
            )
    except AppError as exc:
        click.echo(f"error: {exc.code}: {exc.message(lang)}", err=True)
        sys.exit(2 if exc.status < 500 else 1)
    except Exception as exc:  # an internal error: exit 1 with the reason
        click.echo(f"internal error: {exc}", err=True)
        sys.exit(1)
    findings = ", ".join(f["code"] for f in report["findings"]) or "-"
    click.echo(f"done: {out_dir / 'report.json'} ({report['movement']}; findings: {findings})")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
