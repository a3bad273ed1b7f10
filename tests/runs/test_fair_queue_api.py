"""Issue 23 item 9 through the HTTP API: a user's (N+1)th queued run is refused in the
request's language, another user can still upload, and is served before the first user's rest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.errors import render_message
from tests.conftest import SINGLE_PERSON, make_settings
from tests.support.apputil import ADMIN, basic, upload, wait_for_run

LIMIT = 2


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    # One job thread: the order runs start in is the queue's order.
    settings = make_settings(tmp_path / "data", max_queued_runs_per_user=LIMIT, job_workers=1)
    prepare(settings)
    with TestClient(create_app(settings)) as c:
        yield c


def _user(client: TestClient, name: str) -> dict[str, str]:
    password = "fair-share-pw-7"
    r = client.post("/api/users", headers=ADMIN, json={"username": name, "password": password})
    assert r.status_code == 201, r.text
    return basic(name, password)


def test_extra_run_refused_and_other_user_served_first(client: TestClient) -> None:
    alice, bob = _user(client, "alice"), _user(client, "bob")
    accepted = []
    for _ in range(LIMIT):
        r = upload(client, SINGLE_PERSON, alice, movement="auto")
        assert r.status_code == 202, r.text
        accepted.append(r.json()["id"])
    for lang in ("en", "ja"):
        refused = upload(client, SINGLE_PERSON, {**alice, "Accept-Language": lang})
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "too_many_queued_runs"
        assert error["message"] == render_message("too_many_queued_runs", lang, limit=LIMIT)
    assert client.get("/api/runs", headers=alice).json()["total"] == LIMIT
    r = upload(client, SINGLE_PERSON, bob, movement="auto")
    assert r.status_code == 202, r.text
    bob_run = r.json()["id"]
    owners = {accepted[0]: alice, accepted[1]: alice, bob_run: bob}
    runs = {run_id: wait_for_run(client, run_id, who) for run_id, who in owners.items()}
    assert all(run["status"] == "completed" for run in runs.values()), runs

    def started(run_id: int) -> datetime:
        return datetime.fromisoformat(runs[run_id]["started_at"])

    # Alice's first run had the worker already; Bob's goes before Alice's second.
    assert started(accepted[0]) < started(bob_run) < started(accepted[1])
    assert datetime.fromisoformat(runs[bob_run]["finished_at"]) <= started(accepted[1])
