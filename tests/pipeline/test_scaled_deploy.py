"""deploy/ checked without a Docker engine: the compose file parses and names every process,
and every command in it and in the Dockerfile is one the CLI accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml

from formcoach.cli import cli
from formcoach.gateway.app import DEFAULT_PORTS
from formcoach.kit.pipeline import SERVICES
from formcoach.pipeline.orchestrator import QUEUES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def _parse_cli(argv: list[str]) -> click.Context:
    """Parse a `formcoach ...` command line exactly as the CLI would, without running it."""
    assert argv[0] == "formcoach", argv
    group_ctx = cli.make_context("formcoach", list(argv[1:2]), resilient_parsing=True)
    command = cli.get_command(group_ctx, argv[1])
    assert command is not None, f"unknown command {argv[1]!r}"
    return command.make_context(argv[1], list(argv[2:]))


def test_compose_names_every_process() -> None:
    services = _compose()["services"]
    dashed = {name.replace("_", "-") for name in SERVICES}
    expected = {"gateway", "postgres", "redis", "minio", "proxy", "worker-pose", "worker"}
    assert expected | dashed <= set(services)
    assert services["proxy"]["ports"] == ["80:80"]


def test_compose_commands_match_the_cli() -> None:
    services = _compose()["services"]
    served: dict[str, int] = {}
    taken: set[str] = set()
    for name, spec in services.items():
        command = spec.get("command")
        if not command or command[0] != "formcoach":
            continue
        ctx = _parse_cli(command)
        if command[1] == "serve":
            served[ctx.params["service"]] = ctx.params["port"]
            assert name == ctx.params["service"].replace("_", "-")
        elif command[1] == "worker":
            taken |= set(ctx.params["queues"].split(","))
    assert served == DEFAULT_PORTS, "each service on its seed port"
    assert taken == set(QUEUES), "every queue has a worker"
    assert services["worker-pose"]["command"][3] == "pose_estimation"
    gateway_env = services["gateway"]["environment"]
    for name in SERVICES:
        url = gateway_env[f"FORMCOACH_{name.upper()}_URL"]
        assert url == f"http://{name.replace('_', '-')}:{DEFAULT_PORTS[name]}"


def test_compose_has_no_secret_defaults() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for secret in ("FORMCOACH_SECRET_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(use.startswith(":?") for use in uses), secret
    env = _compose()["x-formcoach-env"]
    assert env["FORMCOACH_ENV"] == "production"
    assert env["FORMCOACH_STORAGE_URL"].startswith("s3://")
    assert env["FORMCOACH_BROKER_URL"].startswith("redis://")
    assert env["FORMCOACH_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_dockerfile_matches_the_cli_and_the_repository() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    root = DEPLOY.parent
    for line in lines:
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (root / source).exists(), source
        if line.startswith("EXPOSE "):
            assert {int(p) for p in line.split()[1:]} == set(DEFAULT_PORTS.values())
    cmd = next(line for line in lines if line.startswith("CMD "))
    _parse_cli(yaml.safe_load(cmd[4:]))


def test_reverse_proxy_points_at_the_gateway() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    assert f"server gateway:{DEFAULT_PORTS['gateway']};" in conf
    assert "proxy_request_buffering off;" in conf
    compose_dir = DEPLOY
    volume = _compose()["services"]["proxy"]["volumes"][0]
    assert (compose_dir / volume.split(":")[0]).resolve() == (DEPLOY / "nginx.conf").resolve()
