"""Schemathesis against the app's live OpenAPI schema, authenticated as the admin.

Every operation gets generated requests (bounded: the coverage phase's boundary cases and 25
generated examples each) with a bearer token; every read also one with HTTP Basic. Each response must be no server error, have a documented
status code and content type, match its documented schema, and every 4xx must carry the
error shape {"error": {"code", "message"}} with a code from the catalogue and its status.

The app is a private one (own data folder, job runner off): the fuzzer creates and deletes
users, tokens and runs freely without touching the shared live app.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from formcoach.bootstrap import prepare
from formcoach.gateway.app import create_app
from formcoach.kit.errors import CATALOGUE
from tests.conftest import make_settings
from tests.support.apputil import ADMIN
from tests.support.threaded_server import ThreadedServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = {
    "deadline": None,
    "derandomize": True,  # the same examples on every run: a failure is reproducible
    "database": None,  # so no .hypothesis/ folder is left in the checkout
    "phases": [Phase.explicit, Phase.generate],
    "suppress_health_check": list(HealthCheck),
}


def _openapi() -> dict[str, Any]:
    """The app's schema, read once at collection (parametrize needs it before fixtures run)."""
    with tempfile.TemporaryDirectory() as data:
        return create_app(make_settings(Path(data)), start_jobs=False).openapi()


OPENAPI = _openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
# HTTP Basic costs an argon2 check per request: the reads only, one generated example
# each, without the coverage phase's hundreds of boundary cases (the bearer pass runs those).
basic_schema = schemathesis.openapi.from_dict(OPENAPI).include(method=["GET"])
basic_schema.config.phases.update(phases=["examples", "fuzzing"])


class Fuzzed:
    def __init__(
        self, url: str, token: str, token_id: int, admin_id: int, app: Any, db_url: str
    ) -> None:
        self.url = url
        self.app = app
        self.db_url = db_url
        self.bearer = {"Authorization": f"Bearer {token}"}
        self.token_id = token_id
        self.admin_id = admin_id


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """The app served by uvicorn on a free port: requests go over real HTTP."""
    settings_ = make_settings(tmp_path_factory.mktemp("fuzz"))
    prepare(settings_)
    app = create_app(settings_, start_jobs=False)
    with ThreadedServer(app, "formcoach") as server:
        url = server.base_url.removesuffix("/v1")
        with httpx.Client(base_url=url, headers=ADMIN) as client:
            token = client.post("/api/tokens", json={"name": "fuzzer"}).json()
            admin_id = client.get("/api/me").json()["id"]
            # The schema the tests were generated from is the one the server publishes.
            assert client.get("/openapi.json").json() == OPENAPI
        yield Fuzzed(url, token["token"], token["id"], admin_id, app, settings_.db_url)


def _keep_the_fuzzer_signed_in(case: Any, fuzzed: Fuzzed) -> None:
    """The fuzzer may change anything except its own credentials: revoking its token or
    changing the admin's password would turn every later request into a 401."""
    params = case.path_parameters or {}
    if case.path == "/api/tokens/{token_id}" and params.get("token_id") == fuzzed.token_id:
        params["token_id"] = fuzzed.token_id + 1_000_000
    if (
        case.path == "/api/users/{user_id}"
        and isinstance(case.body, dict)
        and params.get("user_id") == fuzzed.admin_id
    ):
        case.body.pop("password", None)


def _check_error_shape(case: Any, response: Any) -> None:
    if not 400 <= response.status_code < 500 or case.method == "HEAD":  # HEAD has no body
        return
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    code = body["error"]["code"]
    assert code in CATALOGUE, f"undocumented error code {code!r}"
    assert CATALOGUE[code].status == response.status_code, (code, response.status_code)
    assert body["error"]["message"], body


@schema.parametrize()
@settings(max_examples=25, **FUZZ)  # type: ignore[arg-type]
def test_api_conforms_with_a_bearer_token(case: Any, fuzzed: Fuzzed) -> None:
    _keep_the_fuzzer_signed_in(case, fuzzed)
    response = case.call_and_validate(base_url=fuzzed.url, headers=fuzzed.bearer, checks=CHECKS)
    _check_error_shape(case, response)


@basic_schema.parametrize()
@settings(max_examples=1, **FUZZ)  # type: ignore[arg-type]
def test_api_conforms_with_basic_auth(case: Any, fuzzed: Fuzzed) -> None:
    _keep_the_fuzzer_signed_in(case, fuzzed)
    response = case.call_and_validate(base_url=fuzzed.url, headers=ADMIN, checks=CHECKS)
    _check_error_shape(case, response)
