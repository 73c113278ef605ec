"""The PostgreSQL unit of work: task changes and their outbox rows committed together, in few round trips;
or several use-case blocks and an idempotency record in one enclosing transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sprintboard_backlog.adapters.engine import is_database_unavailable
from sprintboard_backlog.adapters.idempotency_records import SqlIdempotencyRecords
from sprintboard_backlog.adapters.outbox import INSERT_OUTBOX, outbox_params, outbox_row
from sprintboard_backlog.adapters.project_repository import SqlProjectRepository
from sprintboard_backlog.adapters.sprint_repository import SqlSprintRepository
from sprintboard_backlog.adapters.story_repository import SqlStoryRepository
from sprintboard_backlog.adapters.task_repository import DeferredTaskWrite, SqlTaskRepository
from sprintboard_backlog.adapters.transaction import LazyTransaction
from sprintboard_backlog.adapters.user_repository import SqlUserRepository
from sprintboard_backlog.application.unit_of_work import ConcurrentChange
from sprintboard_backlog.domain.events import TaskEvent

log = logging.getLogger(__name__)


class SqlUnitOfWork:
    """`async with uow:` checks out a connection; reads run as they come, writes inside a transaction begun
    on first use. Task writes and recorded events wait for `commit()`, which writes each event's outbox row
    after its task row, in the same transaction; a lone task change and its event become ONE statement
    (atomic by itself: no BEGIN/COMMIT). `on_commit` runs after a commit that wrote outbox rows. Leaving
    the block without committing discards everything. `single_transaction()` encloses blocks in one
    transaction that commits as it ends (an idempotent request: the key, the change and the answer)."""

    projects: SqlProjectRepository
    stories: SqlStoryRepository
    sprints: SqlSprintRepository
    tasks: SqlTaskRepository
    users: SqlUserRepository
    idempotency: SqlIdempotencyRecords

    def __init__(
        self,
        engine: AsyncEngine,
        on_commit: Callable[[], None] | None = None,
        idempotency_wait_seconds: float = 5.0,
    ) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._idempotency_wait = idempotency_wait_seconds
        self._conn: AsyncConnection | None = None
        self._tx: LazyTransaction | None = None
        self._events: list[TaskEvent] = []
        self._enclosing = False  # inside `single_transaction()`
        self._wrote_events = False

    async def __aenter__(self) -> Self:
        if self._enclosing:
            self.transaction.nested = True
            return self
        conn = await self._engine.connect()
        try:
            tx = await LazyTransaction.open(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn, self._tx, self._events = conn, tx, []
        self.projects = SqlProjectRepository(tx)
        self.stories = SqlStoryRepository(tx)
        self.sprints = SqlSprintRepository(tx)
        self.tasks = SqlTaskRepository(tx)
        self.users = SqlUserRepository(tx)
        self.idempotency = SqlIdempotencyRecords(tx, self._idempotency_wait)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._enclosing and self.transaction.nested:
            await self._leave_block(exc)
            return
        conn, tx, self._conn, self._tx, self._events = self._conn, self._tx, None, None, []
        if conn is None or tx is None:
            return
        lost = False
        try:
            if exc is not None and _connection_suspect(exc, tx):
                # A statement run on the driver may have been cut off mid-protocol (the server went away,
                # the request was cancelled): the pool must never hand that connection out again.
                lost = tx.driver.is_closed() and not is_database_unavailable(exc)
                await conn.invalidate()
            else:
                await tx.rollback()
        except BaseException:
            # Never hand a connection that may still be inside a transaction back to the pool.
            await conn.invalidate()
            raise
        finally:
            await conn.close()
        if lost:
            # The server closed the connection under the statement: a shutdown's FATAL reaching an idle
            # pooled connection surfaces as an InternalClientError. It is an outage, not a bug.
            raise ConnectionResetError("the database closed the connection") from exc

    @contextlib.asynccontextmanager
    async def single_transaction(self) -> AsyncIterator[None]:
        async with self:
            tx = self.transaction
            await tx.begin()
            self._enclosing, self._wrote_events = True, False
            try:
                yield
            finally:
                self._enclosing = False
            await tx.commit()
            if self._wrote_events:
                self._committed()

    async def _leave_block(self, exc: BaseException | None) -> None:
        """The end of a use case's block inside `single_transaction()`: what it did not commit is undone
        (its savepoint), unless the connection itself is suspect, which the enclosing block handles."""
        tx = self.transaction
        self.tasks.deferred, self._events = [], []
        try:
            if exc is None or not _connection_suspect(exc, tx):
                await tx.rollback()
        finally:
            tx.nested = False

    @property
    def transaction(self) -> LazyTransaction:
        if self._tx is None:
            raise RuntimeError("the unit of work is not open; use `async with uow:`")
        return self._tx

    def record(self, event: TaskEvent) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        tx = self.transaction
        if self._enclosing and not tx.nested:
            raise RuntimeError(
                "single_transaction() commits as it ends; commit() belongs in a block inside it"
            )
        writes, self.tasks.deferred = self.tasks.deferred, []
        events, self._events = self._events, []
        if not tx.active and len(writes) == 1 and [e.task_id for e in events] == [writes[0].task_id]:
            await _commit_in_one_statement(tx, writes[0], events[0])
        elif writes or events or tx.active:
            await _commit_in_transaction(tx, writes, events)
        if events and tx.nested:
            self._wrote_events = True  # the hook runs when the enclosing transaction commits
        elif events:
            self._committed()

    def _committed(self) -> None:
        if self._on_commit is not None:
            try:
                self._on_commit()
            except Exception:  # the relay's poll still delivers; a hook must never fail a committed request
                log.exception("on_commit hook failed")

    async def rollback(self) -> None:
        self.tasks.deferred = []
        self._events = []
        await self.transaction.rollback()


async def _commit_in_one_statement(tx: LazyTransaction, write: DeferredTaskWrite, event: TaskEvent) -> None:
    """A lone task change and its event: the task row and its outbox row in ONE autocommitted statement,
    no BEGIN/COMMIT round trips. The write is conditional on the version read, as in a transaction."""
    if await tx.execute_autocommitted(write.with_outbox_row, write.params | outbox_params(event)) != 1:
        raise ConcurrentChange()


async def _commit_in_transaction(
    tx: LazyTransaction, writes: list[DeferredTaskWrite], events: list[TaskEvent]
) -> None:
    """Everything else: each task write, then the events' outbox rows, then COMMIT (or, inside
    `single_transaction()`, the end of the block's savepoint)."""
    for write in writes:
        if (await tx.write(write.statement, write.params)).rowcount != 1:
            raise ConcurrentChange()
    if events:
        rows = [outbox_row(event) for event in events]
        await tx.write(INSERT_OUTBOX, rows[0] if len(rows) == 1 else rows)
    await tx.commit()


def _connection_suspect(exc: BaseException, tx: LazyTransaction) -> bool:
    return (
        isinstance(
            exc, asyncio.CancelledError | asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError
        )
        or is_database_unavailable(exc)
        or tx.driver.is_closed()
    )


class SqlUnitOfWorkFactory:
    """Makes a fresh unit of work per use case, all sharing one engine and one `on_commit` hook."""

    def __init__(
        self,
        engine: AsyncEngine,
        on_commit: Callable[[], None] | None = None,
        idempotency_wait_seconds: float = 5.0,
    ) -> None:
        # Autocommit at the driver: transactions are begun explicitly, and only when needed.
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.on_commit = on_commit
        self.idempotency_wait_seconds = idempotency_wait_seconds

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.on_commit, self.idempotency_wait_seconds)
