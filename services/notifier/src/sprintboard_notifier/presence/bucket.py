"""The presence buckets in NATS: the entries (one key per tenant, sprint and instance: that instance's viewers
of the sprint) and the instances (one key per live instance, its heartbeat).

Entry keys are `<tenant token>.<sprint id>.<instance token>` (`sprintboard_contracts.tenant_token`, also for
the instance id): a subscription of one tenant's sprint can only ever see that tenant's keys. Values are
`{"users": {user_id: name}}`, written only when they change (and again before `max_age`, a backstop that lets
the keys of instances nobody will hear of again go). Both buckets are soft state in memory storage. A put on a
key is also a plain message on its subject (`$KV.<bucket>.<key>`), so a core NATS subscription follows a
bucket's changes without a JetStream consumer.
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
    max_age_seconds: float
    replicas: int = 1

    @property
    def stream(self) -> str:
        return f"KV_{self.name}"

    def subject(self, key: str) -> str:
        return f"$KV.{self.name}.{key}"


KEY_PATTERN = "{tenant_token}.{sprint_id}.{instance_token}"
INSTANCE_KEY_PATTERN = "{instance_token}"


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
    """The bucket, created when missing; an existing one gets our max age and direct gets (a bucket of the
    design before, whose keys lived one TTL, would drop entries that are now written only on change)."""
    try:
        kv = await js.key_value(settings.name)
    except (BucketNotFoundError, NotFoundError):
        kv = await js.create_key_value(
            KeyValueConfig(
                bucket=settings.name,
                history=1,
                ttl=settings.max_age_seconds,
                storage=StorageType.MEMORY,
                replicas=settings.replicas,
                direct=True,  # gets answered by any replica, not through the JetStream API
            )
        )
        log.info("created presence bucket %s (max age %ss)", settings.name, settings.max_age_seconds)
        return kv
    config = (await js.stream_info(settings.stream)).config
    if config.max_age == settings.max_age_seconds and config.allow_direct:
        return kv
    config.max_age, config.allow_direct = settings.max_age_seconds, True
    await js.update_stream(config)
    log.info("presence bucket %s: max age now %ss, direct gets", settings.name, settings.max_age_seconds)
    return await js.key_value(settings.name)
