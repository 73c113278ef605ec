"""`Frame.event`: the published bytes with `seq` and `epoch` spliced on, or re-serialized when it cannot."""

from __future__ import annotations

import orjson
import pytest
from hub_kit import delivery

from sprintboard_notifier.hub import Delivery
from sprintboard_notifier.prepared import Frame

pytestmark = pytest.mark.unit

BODY = {"type": "ownership_taken", "event_id": "e1", "title": 'a "seq" in a string'}


def framed(body: bytes, seq: int = 7, epoch: str = "ep-1") -> dict[str, object]:
    d = delivery(seq)
    d.body = body
    frame = Frame.event(d, epoch, live=False)
    assert frame.data == frame.text.encode()
    out: dict[str, object] = orjson.loads(frame.text)
    return out


def test_the_published_object_gets_seq_and_epoch_spliced_on() -> None:
    assert framed(orjson.dumps(BODY)) == {**BODY, "seq": 7, "epoch": "ep-1"}


def test_whitespace_after_the_object_is_no_obstacle() -> None:
    assert framed(orjson.dumps(BODY) + b" \n") == {**BODY, "seq": 7, "epoch": "ep-1"}


def test_each_epoch_gets_its_own_tail() -> None:
    body = orjson.dumps(BODY)
    assert [framed(body, epoch=e)["epoch"] for e in ("ep-1", "ep-2", 'q"uote', "ep-1")] == [
        "ep-1",
        "ep-2",
        'q"uote',
        "ep-1",
    ]


def test_a_body_that_names_seq_or_epoch_has_them_replaced_not_repeated() -> None:
    for key in ("seq", "epoch"):
        text = Frame.event(_with(key), "ep-1", live=False).text
        assert text.count(f'"{key}"') == 1
        assert orjson.loads(text) == {**BODY, "seq": 7, "epoch": "ep-1"}


def _with(key: str) -> Delivery:
    d = delivery(7)
    d.body = orjson.dumps({**BODY, key: "published"})
    return d
