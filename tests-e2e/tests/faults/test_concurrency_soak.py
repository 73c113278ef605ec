"""50 users of one tenant race over 20 tasks for 30 s: the database invariants hold, and the board equals
the fold of the stream's events."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

import pytest
from fault_checks import check_stack, fold, record
from fault_clients import ACTIONS, Outcome, User, new_sprint, tally
from fault_stack import db_fetch, read_stream, servers, task_versions, wait_drained

if TYPE_CHECKING:
    from conftest import StartStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

USERS, TASKS, SECONDS = 50, 20, 30.0
# What a user does with a task it holds; completing is final, so rare: the board keeps moving.
NEXT = {
    "owned": (("start", 6), ("release", 4)),
    "inprogress": (("pause", 5), ("release", 4), ("complete", 0.1)),
}


INVARIANTS = """
SELECT id, status, owner_user_id, owned_at, completed_at, version FROM tasks
WHERE id = ANY($1::uuid[]) AND NOT (
      (status = 'available' AND owner_user_id IS NULL AND owned_at IS NULL)
   OR (status <> 'available' AND owner_user_id IS NOT NULL AND owned_at IS NOT NULL))
   OR ((status = 'completed') <> (completed_at IS NOT NULL))
   OR status NOT IN ('available', 'owned', 'inprogress', 'completed')
   OR version < 1
"""


async def test_the_board_is_the_fold_of_the_stream_after_a_soak(
    start_stack: StartStack, test_name: str
) -> None:
    stack = await start_stack(notifiers=0)
    users = [User(stack, f"soak-{n:02d}") for n in range(USERS)]
    sprint = await new_sprint(users[0], tasks=TASKS, name="Soak")
    baseline = await task_versions(stack)  # from here on every change must be accounted for by an answer
    # Everyone takes the same task at once: exactly one wins.
    race = await asyncio.gather(*(u.act("take", sprint.task_ids[0]) for u in users))
    assert sorted(o.status for o in race) == [200] + [409] * (USERS - 1), tally(race)
    outcomes: list[Outcome] = list(race)
    ends = time.monotonic() + SECONDS

    async def play(user: User, seed: int) -> None:
        """Mostly work on what it holds or grab a task (racing the others); now and then anything at all."""
        rng = random.Random(seed)
        held: dict[str, str] = {}  # task id -> status, as this user last saw it
        while time.monotonic() < ends:
            if held and rng.random() < 0.8:
                task_id = rng.choice(list(held))
                moves = NEXT[held[task_id]]
                action = rng.choices([m for m, _ in moves], [w for _, w in moves])[0]
            else:
                task_id = rng.choice(sprint.task_ids)
                action = "take" if rng.random() < 0.8 else rng.choice(list(ACTIONS))
            outcome = await user.act(action, task_id)
            outcomes.append(outcome)
            if outcome.committed and outcome.task_status in NEXT:
                held[task_id] = outcome.task_status
            else:
                held.pop(task_id, None)

    try:
        await asyncio.gather(*(play(u, n) for n, u in enumerate(users)))
        board = await users[0].call("GET", f"/sprints/{sprint.sprint_id}/tasks")
    finally:
        for u in users:
            await u.close()

    counts = tally(outcomes)
    assert set(counts) <= {"committed", "refused_403", "refused_409"}, counts
    broken = await db_fetch(stack, INVARIANTS, sprint.task_ids)
    assert not broken, [dict(r) for r in broken]

    await wait_drained(stack)
    events = await read_stream(servers(stack))
    figures = await check_stack(stack, outcomes, baseline, events)
    folded = fold(events)
    shown = {
        t["id"]: {"status": t["status"], "owner": t["ownerUserId"], "version": t["version"]}
        for t in board["tasks"]
    }
    assert set(shown) == set(sprint.task_ids)
    assert shown == {task_id: folded[task_id] for task_id in sprint.task_ids}
    takes = [o for o in outcomes if o.action == "take"]
    record(
        test_name,
        **figures,
        users=USERS,
        tasks=TASKS,
        seconds=SECONDS,
        requests=len(outcomes),
        outcomes=counts,
        takes_won=sum(o.committed for o in takes),
        takes_lost=sum(not o.committed for o in takes),
        completed=sum(1 for t in shown.values() if t["status"] == "completed"),
        invariant_violations=len(broken),
    )
