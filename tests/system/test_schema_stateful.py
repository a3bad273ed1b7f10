"""Schemathesis' stateful and negative phases against the live app (issue 23 item 7).

Stateful: sequences of calls that follow the schema's links (the explicit ones from POST
/api/runs and /reanalyse to the run's reads and DELETE, and those schemathesis infers, such as
POST /api/users -> PATCH/DELETE /api/users/{user_id}). Uploads carry a real clip, so the links
reach real runs. Negative: requests that break the schema (wrong types, missing fields, out of
bounds) must be refused with a documented 4xx in the error shape, never a 5xx.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.checks import negative_data_rejection
from sqlalchemy import delete, update

from formcoach.accounts.sessions import WebSession
from formcoach.accounts.users import ApiToken, User
from formcoach.kit.db import session_scope
from formcoach.runs.models import Run
from tests.conftest import SINGLE_PERSON
from tests.system.test_schema_fuzz import (
    FUZZ,
    OPENAPI,
    Fuzzed,
    _check_error_shape,
    _keep_the_fuzzer_signed_in,
    fuzzed,
)

__all__ = ["fuzzed"]  # the module-scoped live app, shared with the positive fuzzing

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CLIP = SINGLE_PERSON.read_bytes()


def test_schema_links_a_new_run_to_its_operations() -> None:
    links = OPENAPI["paths"]["/api/runs"]["post"]["responses"]["202"]["links"]
    assert {"GetRun", "GetReport", "DeleteRun"} <= set(links)
    for link in links.values():
        path = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)[0]
        assert path.replace("~1", "/").replace("~0", "~") in OPENAPI["paths"]


# The event stream stays open while a run is queued (the jobs are off here).
stateful_schema = schemathesis.openapi.from_dict(OPENAPI).exclude(path_regex=r"/events$")


def test_stateful_sequences_conform(fuzzed: Fuzzed) -> None:
    machine_class = stateful_schema.as_state_machine()
    calls: list[tuple[str, str, int]] = []

    class Machine(machine_class):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            # Every example starts from the same server state. Hypothesis replays prefixes of
            # earlier examples; if a replayed POST /api/users now got 409 (the user made last
            # time), the links on offer would differ and it stops with FlakyStrategyDefinition.
            _reset_server(fuzzed)

        def before_call(self, case: Any) -> None:
            _keep_the_fuzzer_signed_in(case, fuzzed)
            if case.method == "POST" and case.path == "/api/runs" and isinstance(case.body, dict):
                case.body["video"] = CLIP  # a real clip: the run exists and its links lead on

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": fuzzed.url, "headers": fuzzed.bearer}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)
            _check_error_shape(case, response)
            calls.append((case.method, case.path, response.status_code))

    Machine.run(
        settings=settings(
            max_examples=12, stateful_step_count=6, deadline=None, derandomize=True, database=None
        )
    )
    # Which links Hypothesis follows varies with the responses (ids, tokens), so how many runs
    # it makes does too; every call made was checked above.
    assert len(calls) >= 12 and any(200 <= status < 300 for *_, status in calls), calls
    _reset_server(fuzzed)  # the negative phase below starts from the fixture's state too


def _reset_server(fuzzed: Fuzzed) -> None:
    """Back to the fixture's state: the admin (as it was), the fuzzer's token, nothing else."""
    with session_scope(fuzzed.db_url) as db:
        db.execute(delete(Run))
        db.execute(delete(WebSession))
        db.execute(delete(ApiToken).where(ApiToken.id != fuzzed.token_id))
        db.execute(delete(User).where(User.id != fuzzed.admin_id))
        db.execute(
            update(User)
            .where(User.id == fuzzed.admin_id)
            .values(is_admin=True, is_active=True, language="ja")
        )
    fuzzed.app.state.signin_throttle = None  # made afresh on first use


# Only operations with an input can get one that breaks the schema. A drill id is any string in
# the path (an unknown one is a 404, in the positive fuzzing): nothing about it can be invalid.
WITH_INPUT = {
    (method.upper(), path)
    for path, operations in OPENAPI["paths"].items()
    for method, operation in operations.items()
    if isinstance(operation, dict) and (operation.get("parameters") or "requestBody" in operation)
} - {
    ("GET", "/api/advice-generation/drills/{drill_id}"),
    ("OPTIONS", "/api/uploads/{upload_id}"),  # tus discovery: any upload id gets the same answer
}
negative_schema = (
    schemathesis.openapi.from_dict(OPENAPI)
    .exclude(path_regex=r"/events$")
    .include(lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in WITH_INPUT)
)
negative_schema.config.generation.update(modes=[GenerationMode.NEGATIVE])
negative_schema.config.phases.update(phases=["examples", "fuzzing"])


@negative_schema.parametrize()
@settings(max_examples=8, **FUZZ)  # type: ignore[arg-type]
def test_invalid_requests_are_refused_in_the_error_shape(case: Any, fuzzed: Fuzzed) -> None:
    _keep_the_fuzzer_signed_in(case, fuzzed)
    response = case.call_and_validate(
        base_url=fuzzed.url, headers=fuzzed.bearer, checks=[*CHECKS, negative_data_rejection]
    )
    _check_error_shape(case, response)
