"""Several notifier instances: whichever instance a client lands on, it gets every event of its tenant."""

from __future__ import annotations

from sprintboard_e2e.api import BacklogApi
from sprintboard_e2e.environment import Deployment
from sprintboard_e2e.sockets import BoardSocket


async def test_a_client_on_each_instance_receives_every_event(
    deployment: Deployment, alice: BacklogApi, bob: BacklogApi
) -> None:
    assert len(deployment.notifier_urls) >= 2
    project_id = await alice.create_project()
    story_id = await alice.create_ready_story(project_id, "Scale out")
    subscription = {"project_id": project_id}
    sockets = [
        await BoardSocket.open(deployment.socket_url(n), token, subscription)
        for n, token in enumerate([alice.token, bob.token])
    ]
    try:
        tasks = [await alice.create_task(story_id, f"Fan out {n}") for n in range(3)]
        for task in tasks:
            await bob.take(task)
        await bob.start(tasks[0])
        await bob.release(tasks[1])

        received = [await s.wait_for_events(3 + 3 + 2, project_id=project_id) for s in sockets]
        first, second = ([(e["event_id"], e["seq"], e["epoch"], e["type"]) for e in r] for r in received)
        assert first == second, "both instances deliver the same events, same seq and epoch, same order"
        assert [kind for *_, kind in first].count("task_created") == 3
        assert {w.welcome["epoch"] for w in sockets} == {first[0][2]}
    finally:
        for socket in sockets:
            await socket.close()
