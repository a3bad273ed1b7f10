"""The package structure ARCHITECTURE.md describes (issue 22): no import cycle between the
packages of src/formcoach, kit depends on no domain package, no service imports the gateway,
and the stage table is the one place a stage is described."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from formcoach.kit.pipeline import SERVICES
from formcoach.pipeline.orchestrator import QUEUES
from formcoach.pipeline.stages import STAGE_TABLE, STAGES

SRC = Path(__file__).resolve().parents[2] / "src" / "formcoach"


def _graph() -> dict[str, set[str]]:
    """Package -> packages it imports (function-level imports included)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        package = path.relative_to(SRC).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("formcoach."):
                target = str(node.module).split(".")[1]
                if target != package:
                    edges[package].add(target)
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_packages() -> None:
    assert _cycle(_graph()) is None, _cycle(_graph())


def test_services_and_runs_never_import_the_gateway() -> None:
    edges = _graph()
    for package in (*SERVICES, "runs", "accounts", "pipeline", "kit"):
        assert "gateway" not in edges.get(package, set()), package


def test_kit_is_plumbing_only() -> None:
    assert _graph().get("kit", set()) == set()


def test_the_stage_table_describes_every_stage_once() -> None:
    assert len(set(STAGES)) == len(STAGE_TABLE) == 7
    for stage in STAGE_TABLE:
        assert stage.queue in QUEUES
        assert stage.weight > 0 and set(stage.label) == {"ja", "en"}
        assert callable(stage.run) and stage.module.startswith("formcoach.")
