"""A new socket's first events: at once for the reference client, after its replay for a resuming one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from notifier_kit import Board, Notifier, caught_up, client, make_event, publisher, run_notifier, token

pytestmark = pytest.mark.integration

HOUR = 3600.0


@pytest.fixture(scope="module")
async def patient(nats_url: str) -> AsyncIterator[Notifier]:
    """A notifier whose subscribe grace never ends within a test: only the protocol can release events."""
    async with run_notifier(nats_url, subscribe_grace_seconds=HOUR) as running:
        yield running


async def test_a_url_token_socket_that_never_subscribes_gets_events_at_once(
    nats_url: str, patient: Notifier, tenant: str
) -> None:
    board = Board(tenant)
    async with client(patient, token(tenant)) as c, publisher(nats_url) as pub:
        await c.control("welcome")
        events = [make_event(board) for _ in range(3)]
        for event in events:
            await pub.publish(event)
        got = await c.events(3)
        assert [e["event_id"] for e in got] == [str(e.event_id) for e in events]
        assert not any(s.pending for s in patient.hub.sessions() if s.tenant_id == tenant)


async def test_a_frame_authenticated_socket_holds_events_until_its_resume_has_replayed(
    nats_url: str, patient: Notifier, tenant: str
) -> None:
    board = Board(tenant)
    epoch = patient.hub.epoch
    async with publisher(nats_url) as pub:
        missed = [make_event(board) for _ in range(3)]
        seqs = [await pub.publish(e) for e in missed]
        async with client(patient, token(tenant), auth="frame") as c:
            await c.control("welcome")
            # Published after welcome, before the client says it resumes: held, not sent ahead of the replay.
            early = make_event(board)
            early_seq = await pub.publish(early)
            await caught_up(patient, tenant, early_seq)
            assert await c.quiet(0.3) == []
            await c.send({"type": "subscribe", "resume_from": {"seq": seqs[0] - 1, "epoch": epoch}})
            got = await c.events(4)
            assert [e["event_id"] for e in got] == [str(e.event_id) for e in [*missed, early]]
            assert await c.quiet(0.3) == []
