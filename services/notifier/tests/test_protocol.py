"""Every client frame as `parse_client_frame` reads it, and the server frames built from it."""

from __future__ import annotations

import uuid

import orjson
import pytest

from sprintboard_notifier import protocol
from sprintboard_notifier.protocol import (
    Auth,
    Options,
    Ping,
    ProtocolError,
    ResumeFrom,
    Subscribe,
    Unsubscribe,
    parse_client_frame,
)

pytestmark = pytest.mark.unit

ID = str(uuid.uuid4())


def parse(payload: object) -> protocol.ClientFrame:
    return parse_client_frame(orjson.dumps(payload))


def test_each_kind_of_client_frame() -> None:
    assert parse({"type": "auth", "token": "t"}) == Auth("t")
    assert parse({"type": "ping"}) == Ping()
    assert parse({"type": "options", "batch": True}) == Options(True)
    assert parse({"type": "unsubscribe", "story_id": ID}) == Unsubscribe(("story", ID))
    assert parse({"type": "subscribe", "project_id": ID}) == Subscribe(("project", ID), None, None)
    assert parse(
        {"type": "subscribe", "sprint_id": ID, "resume_from": {"seq": 3, "epoch": "e"}, "batch": False}
    ) == Subscribe(("sprint", ID), ResumeFrom(3, "e"), False)
    # Without a key only as a resume: of the socket's current (tenant-wide) feed.
    assert parse({"type": "subscribe", "resume_from": {"seq": 0, "epoch": "e"}}) == Subscribe(
        None, ResumeFrom(0, "e"), None
    )


def test_ids_are_matched_as_canonical_lowercase_uuids_and_text_or_bytes_both_parse() -> None:
    upper = ID.upper()
    assert parse_client_frame(f'{{"type":"subscribe","sprint_id":"{upper}"}}') == Subscribe(
        ("sprint", ID), None, None
    )
    assert parse_client_frame(b'{"type":"ping","extra":1}') == Ping()  # unknown fields are ignored


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "invalid_json"),
        ("[]", "invalid_frame"),
        ('"auth"', "invalid_frame"),
        ('{"type":"dance"}', "unknown_type"),
        ("{}", "unknown_type"),
        ('{"type":"auth"}', "invalid_frame"),
        ('{"type":"auth","token":""}', "invalid_frame"),
        ('{"type":"auth","token":5}', "invalid_frame"),
        ('{"type":"subscribe"}', "invalid_frame"),
        ('{"type":"subscribe","sprint_id":"nope"}', "invalid_frame"),
        (f'{{"type":"subscribe","sprint_id":"{ID}","story_id":"{ID}"}}', "invalid_frame"),
        (f'{{"type":"subscribe","sprint_id":"{ID}","batch":"yes"}}', "invalid_frame"),
        (f'{{"type":"subscribe","sprint_id":"{ID}","resume_from":5}}', "invalid_frame"),
        (
            f'{{"type":"subscribe","sprint_id":"{ID}","resume_from":{{"seq":-1,"epoch":"e"}}}}',
            "invalid_frame",
        ),
        (
            f'{{"type":"subscribe","sprint_id":"{ID}","resume_from":{{"seq":true,"epoch":"e"}}}}',
            "invalid_frame",
        ),
        (f'{{"type":"subscribe","sprint_id":"{ID}","resume_from":{{"seq":1}}}}', "invalid_frame"),
        ('{"type":"unsubscribe"}', "invalid_frame"),
        ('{"type":"options"}', "invalid_frame"),
        ('{"type":"options","batch":1}', "invalid_frame"),
    ],
)
def test_bad_frames_raise_with_their_error_code(message: str, code: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        parse_client_frame(message)
    assert raised.value.code == code
    error = orjson.loads(raised.value.frame().text)
    assert error == {"type": "error", "code": code, "message": raised.value.message}


def test_an_unknown_type_is_quoted_short() -> None:
    with pytest.raises(ProtocolError) as raised:
        parse({"type": "x" * 100})
    assert len(raised.value.message) < 80


def test_server_frames() -> None:
    def text(frame: object) -> object:
        return orjson.loads(frame.text)  # type: ignore[attr-defined]

    assert text(protocol.welcome("s", 4, "e")) == {
        "type": "welcome",
        "session_id": "s",
        "seq": 4,
        "epoch": "e",
    }
    assert text(protocol.subscribed(("sprint", ID), True)) == {
        "type": "subscribed",
        "sprint_id": ID,
        "batch": True,
    }
    assert text(protocol.subscribed(None, False)) == {"type": "subscribed", "batch": False}
    assert text(protocol.unsubscribed(("story", ID))) == {"type": "unsubscribed", "story_id": ID}
    assert text(protocol.options(False)) == {"type": "options", "batch": False}
    assert text(protocol.token_refreshed(12)) == {"type": "token_refreshed", "exp": 12}
    assert text(protocol.PONG) == {"type": "pong"}
