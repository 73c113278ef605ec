"""Idempotency keys in PostgreSQL: claimed by a row insert that makes a concurrent twin wait for the first."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from sprintboard_backlog.adapters.transaction import LazyTransaction
from sprintboard_backlog.application.idempotency import Answer, KeyInProgress, RequestKey, StoredAnswer

# A twin claiming a key another transaction inserted but has not committed waits on that insert (the
# primary key's uniqueness check), then sees the committed row, or inserts its own if the first rolled back.
_CLAIM = """
INSERT INTO idempotency_keys AS k (tenant_id, user_id, key, fingerprint, created_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, user_id, key) DO UPDATE
  SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
    status = NULL, response_body = NULL
  WHERE k.created_at < $6
RETURNING 1
"""
_EARLIER = """
SELECT fingerprint, status, response_body FROM idempotency_keys
WHERE tenant_id = $1 AND user_id = $2 AND key = $3 AND created_at >= $4
"""
_STORE = """
UPDATE idempotency_keys SET status = $4, response_body = $5
WHERE tenant_id = $1 AND user_id = $2 AND key = $3
"""
_FORGET = "DELETE FROM idempotency_keys WHERE created_at < $1"


class SqlIdempotencyRecords:
    def __init__(self, tx: LazyTransaction, wait_seconds: float) -> None:
        self._tx = tx
        self._wait_ms = max(1, round(wait_seconds * 1000))

    async def claim(self, key: RequestKey, now: datetime, not_before: datetime) -> StoredAnswer | None:
        await self._tx.begin()
        driver = self._tx.driver
        scope = (key.tenant_id, key.user_id, key.key)
        # The wait for a twin is bounded; the use case's own lock waits after the claim are not.
        await driver.execute(f"SET LOCAL lock_timeout = {self._wait_ms}")
        try:
            for _ in range(3):
                if await driver.fetchval(_CLAIM, *scope, key.fingerprint, now, not_before) is not None:
                    break
                row = await driver.fetchrow(_EARLIER, *scope, not_before)
                if row is None:
                    continue  # swept between the two statements: claim it afresh
                if row["status"] is None:  # only the claiming transaction sees its row unanswered
                    raise KeyInProgress()
                return StoredAnswer(row["fingerprint"], Answer(row["status"], row["response_body"].encode()))
            else:
                raise KeyInProgress()
        except asyncpg.LockNotAvailableError:
            raise KeyInProgress() from None
        await driver.execute("SET LOCAL lock_timeout = DEFAULT")
        return None

    async def store(self, key: RequestKey, answer: Answer) -> None:
        await self._tx.begin()
        await self._tx.driver.execute(
            _STORE, key.tenant_id, key.user_id, key.key, answer.status, answer.body.decode()
        )

    async def forget_before(self, when: datetime) -> int:
        await self._tx.begin()
        status: str = await self._tx.driver.execute(_FORGET, when)
        return int(status.rsplit(" ", 1)[-1])
