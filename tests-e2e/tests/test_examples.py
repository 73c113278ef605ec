"""The example consumer's subject filters, without a server (its run is tested in system/)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from sprintboard_contracts.subjects import (
    ALL_V1,
    ALL_V2,
    filter_for_project,
    filter_v2_for_project,
    filter_v2_for_tenant,
    subject_for,
)
from sprintboard_contracts.tenant_token import tenant_token
from sprintboard_e2e.compose import REPO_ROOT

PROJECT = "4f6c1c2e-5d0a-4b7e-9a31-0c8d2e6f1e21"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "task_events_consumer", REPO_ROOT / "examples/task_events_consumer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("project", "kind", "expected"),
    [
        (None, None, ALL_V1),
        (PROJECT, None, filter_for_project(PROJECT)),
        (None, "ownership_taken", "backlog.tasks.v1.*.ownership_taken"),
        (PROJECT, "status_changed", subject_for(PROJECT, "status_changed")),
    ],
)
def test_the_subject_filter_of_each_option(project: str | None, kind: str | None, expected: str) -> None:
    assert example().subject_filter(project, kind) == expected


@pytest.mark.parametrize(
    ("tenant", "project", "kind", "expected"),
    [
        (None, None, None, ALL_V2),
        ("org.a", None, None, filter_v2_for_tenant("org.a")),
        ("org.a", PROJECT, None, filter_v2_for_project("org.a", PROJECT)),
        ("org.a", None, "task_created", f"backlog.tasks.v2.{tenant_token('org.a')}.*.*.task_created"),
        (None, PROJECT, None, f"backlog.tasks.v2.*.{PROJECT}.*.*"),
        (None, PROJECT.upper(), "status_changed", f"backlog.tasks.v2.*.{PROJECT}.*.status_changed"),
    ],
)
def test_the_v2_subject_filter_of_each_option(
    tenant: str | None, project: str | None, kind: str | None, expected: str
) -> None:
    assert example().subject_filter_v2(tenant, project, kind) == expected


@pytest.mark.parametrize("argv", [["--type", "ownership_stolen"], ["--tenant", "acme"], ["--version", "3"]])
def test_bad_options_are_refused_before_connecting(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        example().main(argv)
