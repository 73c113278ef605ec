"""schemathesis against the backlog's OpenAPI document, bounded: no 5xx, and every response conforms
to the schema (every default check: status codes, content types, headers, bodies, auth, data handling)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

import hypothesis
import pytest
import schemathesis
from fault_checks import record
from fault_clients import User, new_sprint
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

if TYPE_CHECKING:
    from conftest import StartStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

EXAMPLES = 25  # per operation and mode
BUDGET_SECONDS = 120.0
# Rules no JSON Schema can state, which the spec answers with 422 ("out-of-range field"): schema-valid
# input may be refused there, so only the check that schema-valid input is accepted is left out.
CROSS_FIELD_RULES = {
    "POST /api/v1/projects/{project_id}/sprints": "a sprint lasts 1..28 days (end_date - start_date)",
}


class Fuzzer:
    """Runs schemathesis cases against the live backlog, counting inputs and collecting failures."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.tried = 0
        self.failures: list[str] = []
        self.skipped: list[str] = []

    def run(self, operation: Any, mode: GenerationMode, path_parameters: dict[str, str] | None) -> None:
        label = f"{operation.label} ({mode.value}{', real ids' if path_parameters else ''})"
        excluded = [positive_data_acceptance] if operation.label in CROSS_FIELD_RULES else []

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            self.tried += 1
            case.call_and_validate(
                base_url=self.base_url, headers=self.headers, excluded_checks=excluded, timeout=10
            )

        try:
            call()
        except hypothesis.errors.Unsatisfiable:
            self.skipped.append(f"{label}: no such input exists")
        except BaseException as exc:  # schemathesis raises a BaseExceptionGroup of check failures
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            self.failures.append(f"{label}:\n{exc}")


def fuzz(base_url: str, token: str, known: dict[str, str]) -> dict[str, Any]:
    """Every operation: positive and negative data, then positive data on real ids (past the 404s)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    fuzzer = Fuzzer(base_url, token)
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    over_budget = 0
    for operation in operations:
        names = set(re.findall(r"{(\w+)}", operation.path))
        runs: list[tuple[GenerationMode, dict[str, str] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if names:
            runs.append((GenerationMode.POSITIVE, {n: known[n] for n in names}))
        for mode, path_parameters in runs:
            if time.monotonic() - started > BUDGET_SECONDS:
                over_budget += 1
                continue
            fuzzer.run(operation, mode, path_parameters)
    return {
        "operations": len(operations),
        "inputs_tried": fuzzer.tried,
        "failures": fuzzer.failures,
        "runs_without_possible_input": len(fuzzer.skipped),
        "runs_over_budget": over_budget,
        "seconds": round(time.monotonic() - started, 1),
    }


async def test_the_backlog_survives_fuzzing_and_matches_its_schema(
    start_stack: StartStack, test_name: str
) -> None:
    stack = await start_stack(notifiers=0)
    assert stack.backlog is not None
    user = User(stack, "fuzzer", org_id="fuzz-org")
    try:
        sprint = await new_sprint(user, tasks=2, name="Fuzzed")
        me = await user.call("GET", "/users/me")
    finally:
        await user.close()
    known = {
        "project_id": sprint.project_id,
        "story_id": sprint.story_ids[0],
        "sprint_id": sprint.sprint_id,
        "task_id": sprint.task_ids[0],
        "user_id": me["id"],
    }
    result = await asyncio.to_thread(fuzz, stack.backlog.url, user.token, known)
    failures = result.pop("failures")
    assert not failures, f"{len(failures)} operations failed a check:\n\n" + "\n\n".join(failures)
    record(
        test_name,
        **result,
        server_errors=0,
        schema_violations=0,
    )
