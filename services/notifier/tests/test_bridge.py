"""The bridge between the stream and the hub: what it hands over decides what a resume can be served."""

from __future__ import annotations

import uuid

import orjson
import pytest
from hub_kit import drained, event_seqs, open_socket
from notifier_kit import SECRET, Board, make_event

from sprintboard_contracts import events as contract
from sprintboard_contracts.wire import decode_event
from sprintboard_notifier.app import StreamBridge
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.settings import NotifierSettings

pytestmark = pytest.mark.unit


async def test_an_instance_that_follows_every_tenant_keeps_the_events_of_one_with_no_socket_here() -> None:
    # The storm case: a tenant's sockets were on an instance that died and resume here, where the tenant
    # had no socket while its events went by. The memory must hold them, or the resume is silently short.
    bridge = StreamBridge(NotifierSettings(jwt_secret=SECRET, follow="all"), NotifierMetrics())
    hub = bridge.hub
    hub.start("epoch-1", 0)
    mine, other = Board(f"org-{uuid.uuid4()}"), Board(f"org-{uuid.uuid4()}")
    open_socket(hub, other.tenant_id)  # this instance follows another tenant only
    for seq in range(1, 11):
        data = contract.event_to_json(make_event(mine if seq % 2 else other))
        bridge._on_event(seq, "backlog.tasks.v1.x.ownership_taken", data, decode_event(data))
    s = open_socket(hub, mine.tenant_id)
    assert await hub.resume(s, None, 0, "epoch-1")
    assert event_seqs(s) == [1, 3, 5, 7, 9]


async def test_uppercase_ids_of_an_event_route_as_the_lowercase_subscriptions_do() -> None:
    # The contract's UUIDs may be uppercase hex; subscriptions are lowercase, and the body goes as sent.
    bridge = StreamBridge(NotifierSettings(jwt_secret=SECRET, follow="all"), NotifierMetrics())
    hub = bridge.hub
    hub.start("epoch-1", 0)
    board = Board(f"org-{uuid.uuid4()}")
    by_sprint, by_story = open_socket(hub, board.tenant_id), open_socket(hub, board.tenant_id)
    hub.subscribe(by_sprint, ("sprint", str(board.sprint_id)))
    hub.subscribe(by_story, ("story", str(board.stories[0])))
    fields = orjson.loads(contract.event_to_json(make_event(board)))
    for name in ("project_id", "sprint_id", "story_id"):
        fields[name] = fields[name].upper()
    data = orjson.dumps(fields)
    bridge._on_event(1, "backlog.tasks.v1.x.ownership_taken", data, decode_event(data))
    for s in (by_sprint, by_story):
        (frame,) = drained(s)
        assert frame["sprint_id"] == str(board.sprint_id).upper()
