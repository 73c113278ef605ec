"""The verdicts: the stream against the database and the answers clients got, the board's fold, figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from fault_clients import Driver, Outcome, tally
from fault_stack import Stored, outbox_event_ids, read_stream, servers, task_versions, wait_drained

from sprintboard_contracts.events import parse_event
from sprintboard_devstack.stack import Stack

FIGURES: dict[str, dict[str, Any]] = {}
"""Per test: what it checked, injected and found; printed at the end of the session by the conftest."""


def record(test: str, **figures: Any) -> None:
    FIGURES.setdefault(test, {}).update(figures)


async def check_stack(
    stack: Stack,
    outcomes: Iterable[Outcome] = (),
    baseline: dict[str, int] | None = None,
    events: list[Stored] | None = None,
) -> dict[str, int]:
    """`check_stream` on the stack's stream (read now unless `events` are given) and database."""
    if events is None:
        events = await read_stream(servers(stack))
    return check_stream(events, await task_versions(stack), await outbox_event_ids(stack), outcomes, baseline)


async def check_all_committed(stack: Stack, driver: Driver, baseline: dict[str, int]) -> dict[str, Any]:
    """Once the outbox drained: `check_stack`, and every request answered 2xx (a fault behind the API, such
    as a relay's, must never reach its clients). The figures, with the driver's."""
    await wait_drained(stack)
    figures = await check_stack(stack, driver.outcomes, baseline)
    outcomes = tally(driver.outcomes)
    assert set(outcomes) == {"committed"}, outcomes
    return {**figures, "mutations": driver.sent, "outcomes": outcomes}


def check_stream(
    events: list[Stored],
    versions: dict[str, int],
    outbox_ids: set[str],
    outcomes: Iterable[Outcome] = (),
    baseline: dict[str, int] | None = None,
) -> dict[str, int]:
    """The stream against the database (the truth) and the answers clients got. Asserts, and returns figures.

    - every message is a valid contract event, stored once (`Nats-Msg-Id` = `event_id`, no id twice);
    - per task, the events in stream order are versions 1..current exactly once: nothing lost, nothing
      duplicated, nothing for a change that did not commit, in order;
    - the stream holds exactly the outbox's events;
    - every 2xx answer has its event (same version, same status);
    - per task, events no 2xx answer accounts for (above `baseline`) are at most its unanswered requests.
    """
    problems: list[str] = []
    ids = Counter(e.data.get("event_id") for e in events)
    duplicates = {i: n for i, n in ids.items() if n > 1}
    if duplicates:
        problems.append(f"{len(duplicates)} event ids stored more than once, e.g. {next(iter(duplicates))}")
    by_task: dict[str, list[Stored]] = defaultdict(list)
    for e in events:
        parse_event(e.data)  # raises on anything the contract refuses
        if e.msg_id != e.data["event_id"]:
            problems.append(f"seq {e.seq}: Nats-Msg-Id {e.msg_id} != event_id {e.data['event_id']}")
        by_task[e.data["task_id"]].append(e)
    lost = out_of_order = 0
    for task_id, current in versions.items():
        got = [e.data["task_version"] for e in by_task.get(task_id, [])]
        lost += len(set(range(1, current + 1)) - set(got))
        out_of_order += got != sorted(got)
        if got != list(range(1, current + 1)):
            problems.append(f"task {task_id} at version {current}: stream has versions {got}")
    strays = set(by_task) - set(versions)
    if strays:
        problems.append(f"events for {len(strays)} tasks the database does not have")
    stream_ids = set(ids)
    if stream_ids != outbox_ids:
        problems.append(
            f"stream vs outbox: {len(outbox_ids - stream_ids)} committed events missing from the stream, "
            f"{len(stream_ids - outbox_ids)} stream events with no outbox row"
        )
    event_at = {(e.data["task_id"], e.data["task_version"]): e for e in events}
    answered: dict[str, set[int]] = defaultdict(set)
    unanswered: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    outcomes = list(outcomes)
    for o in outcomes:
        if o.committed:
            assert o.version is not None
            answered[o.task_id].add(o.version)
            e = event_at.get((o.task_id, o.version))
            if e is None:
                problems.append(f"2xx {o.action} of {o.task_id} v{o.version} has no event")
            elif e.data["status"] != o.task_status:
                problems.append(
                    f"{o.task_id} v{o.version}: answered {o.task_status}, event {e.data['status']}"
                )
        elif o.unknown:
            unanswered[o.task_id] += 1
        else:
            refused[o.task_id] += 1
    # A refused request (4xx) that changed the task anyway would be a commit with neither a 2xx nor an
    # unanswered request to account for it; its event would be one more than the answers explain.
    silent_commits = 0
    for task_id, base in (baseline or {}).items():
        silent = [v for v in range(base + 1, versions.get(task_id, 0) + 1) if v not in answered[task_id]]
        silent_commits += len(silent)
        if len(silent) > unanswered[task_id]:
            problems.append(
                f"task {task_id}: {len(silent)} committed changes without a 2xx, "
                f"but only {unanswered[task_id]} requests went unanswered"
            )
    assert not problems, "\n".join(problems[:30]) + (f"\n... {len(problems)} problems" if problems else "")
    return {
        "events_checked": len(events),
        # Counted, not assumed: committed versions the stream lacks, events beyond one per task version,
        # tasks whose versions are out of order. Any of them above 0 has failed the assert above.
        "lost": lost,
        "duplicated": len(events) - len({(e.data["task_id"], e.data["task_version"]) for e in events}),
        "out_of_order": out_of_order,
        "tasks_checked": len(versions),
        "answered_2xx": sum(len(v) for v in answered.values()),
        "committed_unanswered": silent_commits,
        "refused_without_change": sum(n for t, n in refused.items() if t in (baseline or {})),
    }


def fold(events: Iterable[Stored]) -> dict[str, dict[str, Any]]:
    """Each task's state from its events applied in stream order: status, owner and version."""
    state: dict[str, dict[str, Any]] = {}
    for e in events:
        d = e.data
        task = state.setdefault(d["task_id"], {"status": None, "owner": None, "version": 0})
        assert d["task_version"] == task["version"] + 1, f"{d['task_id']}: v{d['task_version']} after {task}"
        task["version"] = d["task_version"]
        task["status"] = d["status"]
        if d["type"] == "ownership_released":
            task["owner"] = None
        elif d["type"] != "status_changed":  # taken, created and updated carry the owner
            task["owner"] = d.get("owner_user_id")
    return state
