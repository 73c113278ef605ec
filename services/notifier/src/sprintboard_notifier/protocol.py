"""The client side of the WebSocket protocol (spec §4): parsing client frames and the server's replies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from sprintboard_notifier.hub import KEY_KINDS, SubscriptionKey
from sprintboard_notifier.prepared import Frame


class ProtocolError(Exception):
    """A bad client frame: answered with an `error` frame, counted towards the abuse limit."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def frame(self) -> Frame:
        return Frame.control({"type": "error", "code": self.code, "message": self.message})


@dataclass(frozen=True, slots=True)
class Auth:
    token: str


@dataclass(frozen=True, slots=True)
class ResumeFrom:
    seq: int
    epoch: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    key: SubscriptionKey | None  # None only with resume_from: resume the tenant-wide feed
    resume_from: ResumeFrom | None
    batch: bool | None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    key: SubscriptionKey


@dataclass(frozen=True, slots=True)
class Options:
    batch: bool


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ClientFrame = Auth | Subscribe | Unsubscribe | Options | Ping


def parse_client_frame(text: str | bytes) -> ClientFrame:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError("invalid_json", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_frame", "frame must be a JSON object")
    kind = data.get("type")
    if kind == "auth":
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("invalid_frame", "auth needs a non-empty string token")
        return Auth(token)
    if kind == "subscribe":
        key = _key(data, required=False)
        resume = _resume(data.get("resume_from"))
        if key is None and resume is None:
            raise ProtocolError("invalid_frame", "subscribe needs one of sprint_id, project_id, story_id")
        return Subscribe(key, resume, _flag(data, "batch"))
    if kind == "unsubscribe":
        key = _key(data, required=True)
        assert key is not None
        return Unsubscribe(key)
    if kind == "options":
        batch = _flag(data, "batch")
        if batch is None:
            raise ProtocolError("invalid_frame", "options needs a boolean batch")
        return Options(batch)
    if kind == "ping":
        return Ping()
    raise ProtocolError("unknown_type", f"unknown frame type {str(kind)[:40]!r}")


def _key(data: dict[str, Any], required: bool) -> SubscriptionKey | None:
    given = [(kind, data[f"{kind}_id"]) for kind in KEY_KINDS if data.get(f"{kind}_id") is not None]
    if len(given) > 1:
        raise ProtocolError("invalid_frame", "give only one of sprint_id, project_id, story_id")
    if not given:
        if required:
            raise ProtocolError("invalid_frame", "needs one of sprint_id, project_id, story_id")
        return None
    kind, raw = given[0]
    try:
        # Events carry canonical lowercase UUIDs; normalise so matching is exact.
        return kind, str(uuid.UUID(str(raw)))
    except ValueError:
        raise ProtocolError("invalid_frame", f"{kind}_id must be a UUID") from None


def _resume(raw: Any) -> ResumeFrom | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ProtocolError("invalid_frame", "resume_from must be an object {seq, epoch}")
    seq, epoch = raw.get("seq"), raw.get("epoch")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(epoch, str):
        raise ProtocolError("invalid_frame", "resume_from needs an integer seq >= 0 and a string epoch")
    return ResumeFrom(seq, epoch)


def _flag(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise ProtocolError("invalid_frame", f"{name} must be a boolean")
    return value


def key_fields(key: SubscriptionKey | None) -> dict[str, str]:
    return {f"{key[0]}_id": key[1]} if key is not None else {}


def welcome(session_id: str, seq: int, epoch: str) -> Frame:
    return Frame.control({"type": "welcome", "session_id": session_id, "seq": seq, "epoch": epoch})


def subscribed(key: SubscriptionKey | None, batch: bool) -> Frame:
    return Frame.control({"type": "subscribed", **key_fields(key), "batch": batch})


def unsubscribed(key: SubscriptionKey) -> Frame:
    return Frame.control({"type": "unsubscribed", **key_fields(key)})


def options(batch: bool) -> Frame:
    return Frame.control({"type": "options", "batch": batch})


def token_refreshed(exp: int | None) -> Frame:
    return Frame.control({"type": "token_refreshed", "exp": exp})


PONG = Frame.control({"type": "pong"})
