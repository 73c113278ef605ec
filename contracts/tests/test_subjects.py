"""Subjects: built and parsed as inverses, malformed ones refused, filters matching what they should."""

from __future__ import annotations

import dataclasses
import re
import uuid

import nats
import pytest
from nats.aio.msg import Msg

from sprintboard_contracts.subjects import (
    ALL_TASK_EVENTS,
    ALL_V1,
    ALL_V2,
    MAX_FEED_FILTERS,
    STREAM_NAME,
    STREAM_SUBJECTS,
    SUBJECT_PREFIX,
    SUBJECT_VERSION,
    V1_FROM_V2_TRANSFORM,
    V1_SOURCE_TRANSFORMS,
    V1_STREAM_NAME,
    V1_STREAM_SUBJECTS,
    EventType,
    Subject,
    SubjectV2,
    filter_for_project,
    filter_v2_for_project,
    filter_v2_for_sprint,
    filter_v2_for_tenant,
    filters_for_feed,
    parse_subject,
    parse_subject_v2,
    subject_for,
    subject_v2_for,
)
from sprintboard_contracts.tenant_token import tenant_token

PROJECT = uuid.UUID("3f2b8c1e-4d5a-4e6f-9a7b-8c9d0e1f2a3b")
OTHER = uuid.UUID("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b")
SPRINT = uuid.UUID("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
OTHER_SPRINT = uuid.UUID("0e1f2a3b-4c5d-4a7b-8c9d-a1b2c3d4e5f6")
USER = uuid.UUID("7e1f3d5b-9a2c-5e4f-8b6d-0a1c3e5f7a9b")
# Tenant ids that differ only in what the token escapes, or that would break a naive subject.
TENANTS = ["acme", "Acme", "a.b", "a_2Eb", "a b", "*", ">", f"user:{USER}", "東京", "x" * 200]


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
    assert STREAM_SUBJECTS == ["backlog.tasks.v2.>"]
    assert ALL_TASK_EVENTS == "backlog.tasks.>"
    assert ALL_V1 == "backlog.tasks.v1.>"
    assert V1_STREAM_NAME == "BACKLOG_TASKS_V1" and V1_STREAM_SUBJECTS == [ALL_V1]
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
            assert matches(ALL_V1, subject) and matches(V1_STREAM_SUBJECTS[0], subject)
            assert matches(ALL_TASK_EVENTS, subject)
            # BACKLOG_TASKS stores v2 subjects only; v1 subjects are the v1 stream's.
            assert not any(matches(pattern, subject) for pattern in STREAM_SUBJECTS)
            v2 = subject_v2_for("acme", project, None, kind)
            assert all(matches(pattern, v2) for pattern in STREAM_SUBJECTS) and matches(ALL_TASK_EVENTS, v2)
            assert not matches(ALL_V1, v2)


def test_v2_constants() -> None:
    assert ALL_V2 == "backlog.tasks.v2.>"
    assert V1_FROM_V2_TRANSFORM == (
        "backlog.tasks.v2.*.*.*.*",
        "backlog.tasks.v1.{{wildcard(2)}}.{{wildcard(4)}}",
    )
    assert all(
        matches(pattern, subject_v2_for("acme", PROJECT, None, "task_created")) for pattern in STREAM_SUBJECTS
    )


@pytest.mark.parametrize("kind", list(EventType))
@pytest.mark.parametrize("sprint", [SPRINT, None])
def test_subject_v2_for_and_parse_subject_v2_are_inverses(kind: EventType, sprint: uuid.UUID | None) -> None:
    subject = subject_v2_for(f"user:{USER}", PROJECT, sprint, kind)
    assert subject == f"backlog.tasks.v2.user_3A{USER}.{PROJECT}.{sprint or 'none'}.{kind.value}"
    parsed = parse_subject_v2(subject)
    assert parsed == SubjectV2(
        tenant_token=f"user_3A{USER}", project_id=PROJECT, sprint_id=sprint, event_type=kind
    )
    assert parsed.tenant_id == f"user:{USER}"
    assert str(parsed) == subject
    assert parsed.v1() == subject_for(PROJECT, kind)


@pytest.mark.parametrize("tenant", TENANTS)
def test_every_tenant_gives_a_seven_token_subject_that_parses_back(tenant: str) -> None:
    subject = subject_v2_for(tenant, PROJECT, SPRINT, EventType.STATUS_CHANGED)
    assert len(subject.split(".")) == 7 and len(subject) < 256
    parsed = parse_subject_v2(subject)
    assert parsed.tenant_token == tenant_token(tenant)
    assert parsed.tenant_id == (None if len(tenant) == 200 else tenant)


def test_subject_v2_for_takes_strings_and_normalizes_the_ids() -> None:
    expected = subject_v2_for("acme", PROJECT, SPRINT, EventType.TASK_UPDATED)
    assert subject_v2_for("acme", str(PROJECT).upper(), SPRINT.hex, "task_updated") == expected


@pytest.mark.parametrize(
    ("tenant", "project_id", "sprint_id", "event_type"),
    [
        ("", PROJECT, SPRINT, "task_created"),
        ("acme", "not-a-uuid", SPRINT, "task_created"),
        ("acme", PROJECT, "none", "task_created"),
        ("acme", PROJECT, "*", "task_created"),
        ("acme", PROJECT, SPRINT, "task_deleted"),
        ("acme", PROJECT, SPRINT, ">"),
    ],
)
def test_subject_v2_for_refuses_what_is_not_a_tenant_project_sprint_and_type(
    tenant: str, project_id: object, sprint_id: object, event_type: str
) -> None:
    with pytest.raises(ValueError):
        subject_v2_for(tenant, project_id, sprint_id, event_type)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "subject",
    [
        f"backlog.tasks.v2.acme.{PROJECT}.{SPRINT}",
        f"backlog.tasks.v2.acme.{PROJECT}.{SPRINT}.task_created.extra",
        f"backlog.tasks.v1.acme.{PROJECT}.{SPRINT}.task_created",
        f"backlog.tasks.v3.acme.{PROJECT}.{SPRINT}.task_created",
        f"backlog.tasks.v2.{PROJECT}.task_created",
        f"backlog.tasks.v2..{PROJECT}.{SPRINT}.task_created",
        f"backlog.tasks.v2.*.{PROJECT}.{SPRINT}.task_created",
        f"backlog.tasks.v2.a_2eb.{PROJECT}.{SPRINT}.task_created",
        f"backlog.tasks.v2._41.{PROJECT}.{SPRINT}.task_created",
        f"backlog.tasks.v2.acme.not-a-uuid.{SPRINT}.task_created",
        f"backlog.tasks.v2.acme.{str(PROJECT).upper()}.{SPRINT}.task_created",
        f"backlog.tasks.v2.acme.{PROJECT}.None.task_created",
        f"backlog.tasks.v2.acme.{PROJECT}.{SPRINT.hex}.task_created",
        f"backlog.tasks.v2.acme.{PROJECT}.*.task_created",
        f"backlog.tasks.v2.acme.{PROJECT}.{SPRINT}.task_deleted",
        f"backlog.tasks.v2.acme.{PROJECT}.{SPRINT}.*",
        f"backlog.tasks.v1.{PROJECT}.task_created",
        "backlog.tasks.v2.>",
    ],
)
def test_parse_subject_v2_refuses_malformed_subjects(subject: str) -> None:
    with pytest.raises(ValueError):
        parse_subject_v2(subject)


def test_v1_and_v2_parsers_refuse_each_other() -> None:
    with pytest.raises(ValueError):
        parse_subject(subject_v2_for("acme", PROJECT, SPRINT, EventType.TASK_CREATED))
    with pytest.raises(ValueError):
        parse_subject_v2(subject_for(PROJECT, EventType.TASK_CREATED))


def all_v2_subjects() -> list[tuple[str, uuid.UUID, uuid.UUID | None, str]]:
    return [
        (tenant, project, sprint, subject_v2_for(tenant, project, sprint, kind))
        for tenant in TENANTS
        for project in (PROJECT, OTHER)
        for sprint in (SPRINT, OTHER_SPRINT, None)
        for kind in EventType
    ]


def transform(source: str, destination: str, subject: str) -> str:
    """What a NATS subject transform makes of `subject`: `{{wildcard(n)}}` is what the n-th `*` matched."""
    assert matches(source, subject)
    wildcards = [
        token for pattern, token in zip(source.split("."), subject.split("."), strict=True) if pattern == "*"
    ]
    return re.sub(r"\{\{wildcard\((\d+)\)\}\}", lambda m: wildcards[int(m.group(1)) - 1], destination)


def test_the_v1_transform_gives_each_v2_subject_its_v1_subject() -> None:
    for _, _, _, subject in all_v2_subjects():
        v1 = transform(*V1_FROM_V2_TRANSFORM, subject)
        assert v1 == parse_subject_v2(subject).v1()
        assert parse_subject(v1).version == "v1"


def test_the_v1_stream_keeps_v1_subjects_stored_before_the_upgrade_and_maps_each_v2_one() -> None:
    assert V1_SOURCE_TRANSFORMS[0] == V1_FROM_V2_TRANSFORM
    assert V1_SOURCE_TRANSFORMS[1] == (ALL_V1, ALL_V1)
    legacy = subject_for(PROJECT, EventType.STATUS_CHANGED)
    v2 = subject_v2_for("a.b", PROJECT, SPRINT, EventType.STATUS_CHANGED)
    # Each message BACKLOG_TASKS can hold matches exactly one of the v1 stream's sources, and lands on v1.
    for subject, v1 in ((legacy, legacy), (v2, legacy)):
        assert matches(ALL_TASK_EVENTS, subject)
        sources = [pair for pair in V1_SOURCE_TRANSFORMS if matches(pair[0], subject)]
        assert len(sources) == 1
        assert matches(V1_STREAM_SUBJECTS[0], v1)


def test_tenant_filter_matches_its_tenant_only() -> None:
    for tenant in TENANTS:
        own = filter_v2_for_tenant(tenant)
        assert own == f"backlog.tasks.v2.{tenant_token(tenant)}.>"
        for other, _, _, subject in all_v2_subjects():
            assert matches(own, subject) == (other == tenant), (own, subject)
            assert matches(ALL_V2, subject) and not matches(ALL_V1, subject)


def test_project_filter_v2_matches_its_tenants_project_only() -> None:
    own = filter_v2_for_project("a.b", PROJECT)
    assert own == f"backlog.tasks.v2.a_2Eb.{PROJECT}.*.*"
    for tenant, project, _, subject in all_v2_subjects():
        assert matches(own, subject) == (tenant == "a.b" and project == PROJECT), subject


@pytest.mark.parametrize("sprint", [SPRINT, None])
def test_sprint_filter_matches_its_tenants_sprint_only(sprint: uuid.UUID | None) -> None:
    own = filter_v2_for_sprint("a.b", sprint)
    assert own == f"backlog.tasks.v2.a_2Eb.*.{sprint or 'none'}.*"
    assert filter_v2_for_sprint("a.b", str(sprint).upper() if sprint else None) == own
    for tenant, _, other_sprint, subject in all_v2_subjects():
        assert matches(own, subject) == (tenant == "a.b" and other_sprint == sprint), subject


async def test_a_nats_server_routes_v2_subjects_by_tenant(nats_url: str) -> None:
    """The server accepts every token and delivers each tenant's events to that tenant's filter only."""
    client = await nats.connect(nats_url)
    try:
        received: dict[str, list[str]] = {tenant: [] for tenant in TENANTS}
        subscriptions = []
        for tenant in TENANTS:

            async def collect(msg: Msg, into: list[str] = received[tenant]) -> None:
                into.append(msg.subject)

            subscriptions.append(await client.subscribe(filter_v2_for_tenant(tenant), cb=collect))
        published = all_v2_subjects()
        for _, _, _, subject in published:
            await client.publish(subject, b"{}")
        await client.flush()
        for subscription in subscriptions:
            await subscription.drain()
        for tenant in TENANTS:
            assert received[tenant] == [subject for other, _, _, subject in published if other == tenant]
    finally:
        await client.close()


# (sprint ids, project ids, whole tenant) of the feeds a socket can have.
Feed = tuple[set[uuid.UUID], set[uuid.UUID], bool]
FEEDS: list[Feed] = [
    ({SPRINT}, set(), False),
    ({SPRINT, OTHER_SPRINT}, set(), False),
    (set(), {PROJECT}, False),
    (set(), {PROJECT, OTHER}, False),
    ({SPRINT}, {PROJECT}, False),
    ({SPRINT}, set(), True),
    (set(), set(), False),
]


def covers(pattern: str, other: str) -> bool:
    """Whether every subject `other` matches is matched by `pattern` (as NATS checks consumer filters)."""
    want, have = pattern.split("."), other.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or have[index] == ">" or token not in ("*", have[index]):
            return False
    return len(want) == len(have)


def in_feed(feed: Feed, project: uuid.UUID, sprint: uuid.UUID | None) -> bool:
    sprints, projects, whole = feed
    return whole or not (sprints or projects) or sprint in sprints or project in projects


@pytest.mark.parametrize("feed", FEEDS)
def test_feed_filters_match_the_feeds_v2_events_and_every_v1_event_it_may_get(feed: Feed) -> None:
    sprints, projects, whole = feed
    filters = filters_for_feed("a.b", sprints, projects, whole_tenant=whole)
    assert list(filters) == sorted(set(filters))
    # NATS refuses a consumer whose filters overlap (one the subset of another), so none may.
    assert not [(a, b) for a in filters for b in filters if a != b and covers(b, a)], filters
    for tenant, project, sprint, subject in all_v2_subjects():
        wanted = tenant == "a.b" and in_feed(feed, project, sprint)
        assert any(matches(f, subject) for f in filters) == wanted, (filters, subject)
    # v1 subjects carry no tenant or sprint: a feed with a sprint, a story or a whole tenant reads them all.
    for project in (PROJECT, OTHER):
        legacy = subject_for(project, EventType.TASK_CREATED)
        wanted = sprints or whole or not projects or project in projects
        assert any(matches(f, legacy) for f in filters) == bool(wanted), (filters, legacy)


def test_feed_filters_of_a_whole_tenant_a_story_or_too_many_subscriptions_are_the_tenant_filter() -> None:
    tenant_wide = (ALL_V1, filter_v2_for_tenant("a.b"))
    # Why a tenant-wide feed has no other v2 filter: NATS would refuse the pair.
    assert covers(filter_v2_for_tenant("a.b"), filter_v2_for_sprint("a.b", SPRINT))
    assert not covers(filter_v2_for_sprint("a.b", SPRINT), filter_v2_for_project("a.b", PROJECT))
    assert filters_for_feed("a.b") == tenant_wide
    assert filters_for_feed("a.b", [SPRINT], whole_tenant=True) == tenant_wide
    many = [uuid.uuid4() for _ in range(MAX_FEED_FILTERS)]
    assert filters_for_feed("a.b", many) == tenant_wide
    assert filters_for_feed("a.b", project_ids=many) == tenant_wide
    assert len(filters_for_feed("a.b", many[:-1])) == MAX_FEED_FILTERS


def test_feed_filters_name_each_subscription_once_in_canonical_form() -> None:
    both = filters_for_feed("a.b", [SPRINT, str(SPRINT).upper()], [PROJECT, str(PROJECT)])
    own = [ALL_V1, filter_v2_for_project("a.b", PROJECT), filter_v2_for_sprint("a.b", SPRINT)]
    assert both == tuple(sorted(own))
    projects = filters_for_feed("a.b", project_ids=[PROJECT, str(PROJECT).upper()])
    assert projects == tuple(sorted([filter_for_project(PROJECT), filter_v2_for_project("a.b", PROJECT)]))
