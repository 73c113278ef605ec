"""Subjects: built and parsed as inverses, malformed ones refused, filters matching what they should."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from sprintboard_contracts.subjects import (
    ALL_V1,
    STREAM_NAME,
    STREAM_SUBJECTS,
    SUBJECT_PREFIX,
    SUBJECT_VERSION,
    EventType,
    Subject,
    filter_for_project,
    parse_subject,
    subject_for,
)

PROJECT = uuid.UUID("3f2b8c1e-4d5a-4e6f-9a7b-8c9d0e1f2a3b")
OTHER = uuid.UUID("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b")


def matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: `*` is one token, a final `>` one or more."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or token not in ("*", have[index]):
            return False
    return len(want) == len(have)


def test_constants() -> None:
    assert STREAM_NAME == "BACKLOG_TASKS"
    assert SUBJECT_PREFIX == "backlog.tasks"
    assert SUBJECT_VERSION == "v1"
    assert STREAM_SUBJECTS == ["backlog.tasks.>"]
    assert ALL_V1 == "backlog.tasks.v1.>"
    assert [kind.value for kind in EventType] == [
        "ownership_taken",
        "ownership_released",
        "status_changed",
        "task_created",
        "task_updated",
    ]


@pytest.mark.parametrize("kind", list(EventType))
def test_subject_for_and_parse_subject_are_inverses(kind: EventType) -> None:
    subject = subject_for(PROJECT, kind)
    assert subject == f"backlog.tasks.v1.{PROJECT}.{kind.value}"
    parsed = parse_subject(subject)
    assert parsed == Subject(version="v1", project_id=PROJECT, event_type=kind)
    assert str(parsed) == subject


def test_subject_for_takes_strings_and_normalizes_the_project_id() -> None:
    expected = f"backlog.tasks.v1.{PROJECT}.ownership_taken"
    assert subject_for(str(PROJECT).upper(), "ownership_taken") == expected
    assert subject_for(PROJECT.hex, EventType.OWNERSHIP_TAKEN) == expected


@pytest.mark.parametrize(
    ("project_id", "event_type"),
    [
        (PROJECT, "task_deleted"),
        (PROJECT, "*"),
        (PROJECT, ">"),
        (PROJECT, "ownership_taken.x"),
        ("not-a-uuid", "ownership_taken"),
        ("*", "ownership_taken"),
    ],
)
def test_subject_for_refuses_what_is_not_a_project_and_type(project_id: object, event_type: str) -> None:
    with pytest.raises(ValueError):
        subject_for(project_id, event_type)  # type: ignore[arg-type]


def test_a_later_subject_version_parses() -> None:
    parsed = parse_subject(f"backlog.tasks.v2.{PROJECT}.task_created")
    assert (parsed.version, parsed.event_type) == ("v2", EventType.TASK_CREATED)


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "backlog.tasks",
        "backlog.tasks.v1",
        f"backlog.tasks.v1.{PROJECT}",
        f"backlog.tasks.v1.{PROJECT}.",
        f"backlog.tasks.v1.{PROJECT}.ownership_taken.extra",
        f"backlog.task.v1.{PROJECT}.ownership_taken",
        f"Backlog.tasks.v1.{PROJECT}.ownership_taken",
        f"other.tasks.v1.{PROJECT}.ownership_taken",
        f"backlog.tasks.1.{PROJECT}.ownership_taken",
        f"backlog.tasks.v0.{PROJECT}.ownership_taken",
        f"backlog.tasks.v01.{PROJECT}.ownership_taken",
        f"backlog.tasks.V1.{PROJECT}.ownership_taken",
        "backlog.tasks.v1.not-a-uuid.ownership_taken",
        f"backlog.tasks.v1.{str(PROJECT).upper()}.ownership_taken",
        f"backlog.tasks.v1.{PROJECT.hex}.ownership_taken",
        f"backlog.tasks.v1.{PROJECT}.task_deleted",
        f"backlog.tasks.v1.{PROJECT}.OWNERSHIP_TAKEN",
        f"backlog.tasks.v1.{PROJECT}.*",
        "backlog.tasks.v1.*.ownership_taken",
        "backlog.tasks.>",
    ],
)
def test_parse_subject_refuses_malformed_subjects(subject: str) -> None:
    with pytest.raises(ValueError):
        parse_subject(subject)


def test_subject_is_frozen() -> None:
    parsed = parse_subject(subject_for(PROJECT, EventType.STATUS_CHANGED))
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.version = "v2"  # type: ignore[misc]


def test_project_filter_matches_its_project_only() -> None:
    own = filter_for_project(PROJECT)
    assert own == f"backlog.tasks.v1.{PROJECT}.*"
    assert filter_for_project(str(PROJECT).upper()) == own
    for kind in EventType:
        assert matches(own, subject_for(PROJECT, kind))
        assert not matches(own, subject_for(OTHER, kind))
        assert not matches(own, f"backlog.tasks.v2.{PROJECT}.{kind.value}")


def test_stream_and_version_filters_cover_every_subject() -> None:
    for project in (PROJECT, OTHER):
        for kind in EventType:
            subject = subject_for(project, kind)
            assert matches(ALL_V1, subject)
            assert all(matches(pattern, subject) for pattern in STREAM_SUBJECTS)
    v2 = f"backlog.tasks.v2.{PROJECT}.task_created"
    assert not matches(ALL_V1, v2) and matches(STREAM_SUBJECTS[0], v2)
