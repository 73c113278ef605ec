"""The presence bucket in NATS: one key per (tenant, sprint, instance), that instance's viewers of the sprint.

Keys are `<tenant token>.<sprint id>.<instance token>` (`sprintboard_contracts.tenant_token`, also for the
instance id): a watch of one tenant's sprint can only ever see that tenant's keys. Values are
`{"users": {user_id: name}}`. The bucket is soft state (memory storage, one value per key, `max_age` = the
TTL): an instance rewrites its keys every third of the TTL, so a live key is always stored and a dead
instance's keys are gone from storage within the TTL. Their expiry makes no watch event before NATS 2.11's
markers, so watchers keep their own deadline per key (`SprintView.remote`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from sprintboard_contracts.tenant_token import tenant_token
from sprintboard_notifier.presence.view import Users

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BucketSettings:
    name: str
    ttl_seconds: float
    replicas: int = 1


KEY_PATTERN = "{tenant_token}.{sprint_id}.{instance_token}"


def sprint_prefix(tenant_id: str, sprint_id: str) -> str:
    """Every key of one tenant's sprint starts with this (sprint ids are canonical lowercase UUIDs)."""
    return f"{tenant_token(tenant_id)}.{sprint_id}."


def instance_token(instance_id: str) -> str:
    return tenant_token(instance_id)  # the same injective, subject-safe encoding


def encode(users: Users) -> bytes:
    return orjson.dumps({"users": users})


def decode(data: bytes | None) -> Users | None:
    """The users of a value; None for a value that is not ours (skipped, never trusted)."""
    try:
        value = orjson.loads(data or b"")
    except orjson.JSONDecodeError:
        return None
    users = value.get("users") if isinstance(value, dict) else None
    if not isinstance(users, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in users.items()
    ):
        return None
    return users


async def open_bucket(js: JetStreamContext, settings: BucketSettings) -> KeyValue:
    """The bucket, created when missing; an existing bucket is used as it is (its TTL should be ours)."""
    try:
        kv = await js.key_value(settings.name)
    except (BucketNotFoundError, NotFoundError):
        kv = await js.create_key_value(
            KeyValueConfig(
                bucket=settings.name,
                history=1,
                ttl=settings.ttl_seconds,
                storage=StorageType.MEMORY,
                replicas=settings.replicas,
            )
        )
        log.info("created presence bucket %s (ttl %ss)", settings.name, settings.ttl_seconds)
    return kv
