"""Idempotent requests: a retry with the same key gets the first answer again and writes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from sprintboard_backlog.domain.errors import Conflict, ValidationFailed

if TYPE_CHECKING:
    from sprintboard_backlog.application.unit_of_work import UnitOfWork

DEFAULT_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class RequestKey:
    """A client's key, scoped to its tenant and user (no one else can ever meet it), and a fingerprint
    of the request it came with (method, path and body)."""

    tenant_id: str
    user_id: UUID
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer exactly as it was sent: its status and its body's bytes."""

    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    fingerprint: str
    answer: Answer


class KeyReused(ValidationFailed):
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used with another request (method, path or body)")


class KeyInProgress(Conflict):
    """The first request with this key is still running after the wait; its answer is not known yet."""

    code = "idempotency_key_in_progress"

    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still in progress; retry shortly")


class IdempotencyRecords(Protocol):
    async def claim(self, key: RequestKey, now: datetime, not_before: datetime) -> StoredAnswer | None:
        """Hold `key` for this transaction and return None, or return the answer stored for it since
        `not_before` (an older record counts as absent). While another transaction holds the key this
        waits for it to end; past the configured wait it raises `KeyInProgress`."""
        ...

    async def store(self, key: RequestKey, answer: Answer) -> None:
        """Record the answer of the claimed key, in the claiming transaction."""
        ...

    async def forget_before(self, when: datetime) -> int:
        """Delete records created before `when`; how many went."""
        ...


async def answer_once(
    uow: UnitOfWork,
    key: RequestKey,
    respond: Callable[[], Awaitable[Answer]],
    ttl: timedelta = DEFAULT_TTL,
) -> tuple[Answer, bool]:
    """`respond()` (a use case on the same `uow`, and its answer) at most once per key within `ttl`: the
    key, the use case's changes and the answer commit together, so a request that failed or rolled back
    left no record and its retry runs afresh. Returns the answer and whether it is a replay.

    Only successful answers are stored: a refusal (4xx) raises out of `respond()` and is not remembered,
    since the state that caused it may change and a retry should meet the current state."""
    now = datetime.now(UTC)
    async with uow.single_transaction():
        earlier = await uow.idempotency.claim(key, now, not_before=now - ttl)
        if earlier is not None:
            if earlier.fingerprint != key.fingerprint:
                raise KeyReused()
            return earlier.answer, True
        answer = await respond()
        await uow.idempotency.store(key, answer)
    return answer, False


async def forget_expired(uow_factory: Callable[[], UnitOfWork], ttl: timedelta = DEFAULT_TTL) -> int:
    """Delete the records older than `ttl`; how many went."""
    uow = uow_factory()
    async with uow.single_transaction():
        return await uow.idempotency.forget_before(datetime.now(UTC) - ttl)
