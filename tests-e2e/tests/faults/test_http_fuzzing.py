"""schemathesis against the backlog's OpenAPI document: every operation gets its own budget and must be
exercised (a run that sent nothing fails the test), no 5xx, every response conforms to the schema (every
default check: status codes, content types, headers, bodies, auth, data handling), and a POST retried with
its `Idempotency-Key` answers the same again. The per-operation counts are printed."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
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

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]

EXAMPLES = 25  # per operation and run, at most
# Each operation's own time, shared by its runs, so that a slow operation never starves the ones after it.
# 37 operations at most 6 s each stay inside the test's timeout; most finish their examples far sooner.
OPERATION_BUDGET_SECONDS = 6.0
# Sent even once the budget is spent, so that a stalled machine cannot leave a run empty: a run that still
# sent nothing found no input to send, which fails the test.
FLOOR_PER_RUN = 3
KEY_HEADER = "Idempotency-Key"
# Rules no JSON Schema can state, which the spec answers with 422 ("out-of-range field"): schema-valid
# input may be refused there, so only the check that schema-valid input is accepted is left out.
CROSS_FIELD_RULES = {
    "POST /api/v1/projects/{project_id}/sprints": "a sprint lasts 1..28 days (end_date - start_date)",
}


class Fuzzer:
    """Runs schemathesis cases against the live backlog, counting what it sent per operation and run."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sent: dict[str, Counter[str]] = {}  # operation -> run -> cases sent
        self.statuses: Counter[str] = Counter()  # "2xx", "4xx", "5xx"
        self.replays = 0
        self.failures: list[str] = []
        self.impossible: list[str] = []  # runs for which no input exists (nothing in them to negate)

    def run(
        self, operation: Any, mode: GenerationMode, path_parameters: dict[str, str] | None, deadline: float
    ) -> None:
        run = f"{mode.value}{', real ids' if path_parameters else ''}"
        counts = self.sent.setdefault(operation.label, Counter())
        counts[run] += 0
        excluded = [positive_data_acceptance] if operation.label in CROSS_FIELD_RULES else []
        transport = {"base_url": self.base_url, "headers": dict(self.headers), "timeout": 10}

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            if counts[run] >= FLOOR_PER_RUN and time.monotonic() > deadline:
                return  # this operation's budget is spent; what it sent is counted and checked below
            if mode is GenerationMode.POSITIVE and case.headers and KEY_HEADER in case.headers:
                # Schema-valid keys repeat across examples with other bodies, which is a 422 by design.
                case.headers[KEY_HEADER] = str(uuid.uuid4())
            counts[run] += 1
            response = case.call(**transport)
            self.statuses[f"{response.status_code // 100}xx"] += 1
            case.validate_response(
                response, headers=self.headers, excluded_checks=excluded, transport_kwargs=transport
            )
            if case.headers and KEY_HEADER in case.headers and 200 <= response.status_code < 300:
                self.check_replay(case, response, transport)

        try:
            call()
        except hypothesis.errors.Unsatisfiable:
            self.impossible.append(f"{operation.label} ({run})")
        except BaseException as exc:  # schemathesis raises a BaseExceptionGroup of check failures
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            self.failures.append(f"{operation.label} ({run}):\n{exc}")

    def check_replay(self, case: schemathesis.Case, first: Any, transport: dict[str, Any]) -> None:
        again = case.call(**transport)
        self.replays += 1
        if (again.status_code, again.content) != (first.status_code, first.content):
            raise AssertionError(
                f"a retry with {KEY_HEADER} {case.headers[KEY_HEADER]} answered {again.status_code}"
                f" {again.content!r}, the first {first.status_code} {first.content!r}"
            )

    def unreached(self) -> list[str]:
        """Runs that sent nothing although inputs exist (only negative data can be impossible: an
        operation without parameters or body has nothing to negate), and operations that sent nothing."""
        missing = [
            f"{label} ({run})"
            for label, runs in self.sent.items()
            for run, n in runs.items()
            if n == 0 and (f"{label} ({run})" not in self.impossible or not run.startswith("negative"))
        ]
        return missing + [
            f"{label} (every run)" for label, runs in self.sent.items() if not sum(runs.values())
        ]

    def table(self) -> str:
        runs = sorted({run for counts in self.sent.values() for run in counts})
        width = max(len(label) for label in self.sent)

        def cell(label: str, run: str) -> str:
            if run not in self.sent[label]:
                return "-"
            return "none possible" if f"{label} ({run})" in self.impossible else str(self.sent[label][run])

        rows = [["operation", *runs]] + [[label, *(cell(label, r) for r in runs)] for label in self.sent]
        return "\n".join(f"{row[0]:<{width}}  " + "  ".join(f"{c:>17}" for c in row[1:]) for row in rows)


def fuzz(base_url: str, token: str, known: dict[str, str]) -> tuple[Fuzzer, int, float]:
    """Every operation: positive and negative data, then positive data on real ids (past the 404s)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    fuzzer = Fuzzer(base_url, token)
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        names = set(re.findall(r"{(\w+)}", operation.path))
        runs: list[tuple[GenerationMode, dict[str, str] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if names:
            runs.append((GenerationMode.POSITIVE, {n: known[n] for n in names}))
        operation_deadline = time.monotonic() + OPERATION_BUDGET_SECONDS
        for left, (mode, path_parameters) in zip(range(len(runs), 0, -1), runs, strict=True):
            # What earlier runs left unused goes to the later ones, in equal shares.
            now = time.monotonic()
            fuzzer.run(operation, mode, path_parameters, now + (operation_deadline - now) / left)
    return fuzzer, len(operations), round(time.monotonic() - started, 1)


async def test_the_backlog_survives_fuzzing_and_matches_its_schema(
    start_stack: StartStack, test_name: str, capsys: pytest.CaptureFixture[str]
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
    fuzzer, operations, seconds = await asyncio.to_thread(fuzz, stack.backlog.url, user.token, known)
    with capsys.disabled():
        print(f"\ncases sent per operation and run (at most {EXAMPLES}, {OPERATION_BUDGET_SECONDS} s each):")
        print(fuzzer.table())
    assert len(fuzzer.sent) == operations
    unreached = fuzzer.unreached()
    assert not unreached, f"{len(unreached)} runs sent nothing:\n" + "\n".join(unreached)
    failures = fuzzer.failures
    assert not failures, f"{len(failures)} runs failed a check:\n\n" + "\n\n".join(failures)
    per_operation = [sum(runs.values()) for runs in fuzzer.sent.values()]
    record(
        test_name,
        operations=operations,
        operations_reached=sum(1 for n in per_operation if n),
        inputs_tried=sum(per_operation),
        fewest_inputs_per_operation=min(per_operation),
        runs_without_possible_input=len(fuzzer.impossible),
        idempotent_replays_checked=fuzzer.replays,
        server_errors=fuzzer.statuses["5xx"],
        failed_runs=len(failures),
        seconds=seconds,
    )
