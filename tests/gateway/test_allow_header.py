"""Issue 23 item 7: every 405 lists, in Allow, each method /openapi.json gives its path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from tests.conftest import make_settings
from tests.support.apputil import ADMIN

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data")
    prepare(settings)
    with TestClient(create_app(settings, start_jobs=False)) as c:
        yield c


def _concrete(path: str) -> str:
    # Any value fits a path parameter's pattern for routing; 1 fits ints and strings alike.
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_405_allows_every_documented_method(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        documented = {m.upper() for m in operations if m in (*METHODS, "head", "options")}
        # The schema leaves out HEAD where the server answers it anyway (Starlette routes).
        if client.head(_concrete(path), headers=ADMIN).status_code != 405:
            documented.add("HEAD")
        for method in METHODS:
            if method.upper() in documented:
                continue
            r = client.request(method, _concrete(path), headers={**ADMIN, "Accept-Language": "en"})
            assert r.status_code == 405, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "method_not_allowed"
            allowed = set(r.headers["allow"].split(", "))
            assert allowed == documented, (method, path, allowed, documented)
            checked += 1
    assert checked > 50
    r = client.put("/api/runs/1", headers=ADMIN)
    assert set(r.headers["allow"].split(", ")) == {"GET", "DELETE"}
