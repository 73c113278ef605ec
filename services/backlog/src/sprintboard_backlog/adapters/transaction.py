"""A transaction begun only when needed, on an autocommit connection: reads and single-statement writes
skip the BEGIN/COMMIT round trips; anything else runs inside BEGIN … COMMIT as usual. Inside an enclosing
transaction, a nested block's writes get a savepoint of their own (taken at its first write)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult, Executable
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A Core statement compiled once to asyncpg's SQL, for the hot path to run on the driver directly
    (SQLAlchemy's per-execution work costs more than the query there). Only for statements whose
    parameters and results need no SQLAlchemy type processing (UUIDs, text, ints, times, text arrays)."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


class LazyTransaction:
    def __init__(self, conn: AsyncConnection, driver: Any) -> None:
        self.conn = conn
        self.driver = driver  # the asyncpg connection under `conn`
        self.active = False
        self.nested = (
            False  # a block inside an enclosing transaction: commit joins it, rollback undoes the block
        )
        self._savepoint = False

    @classmethod
    async def open(cls, conn: AsyncConnection) -> LazyTransaction:
        raw = await conn.get_raw_connection()
        return cls(conn, raw.driver_connection)

    async def begin(self) -> None:
        if not self.active:
            await self.driver.execute("BEGIN")
            self.active = True
        elif self.nested and not self._savepoint:
            await self.driver.execute("SAVEPOINT nested_block")
            self._savepoint = True

    async def read(self, statement: Executable, params: Params = None) -> CursorResult[Any]:
        """Outside a transaction each read sees the latest committed state."""
        return await self.conn.execute(statement, params)

    async def write(self, statement: Executable, params: Params = None) -> CursorResult[Any]:
        """Writes (and locking reads) run inside the transaction, begun on first use."""
        await self.begin()
        return await self.conn.execute(statement, params)

    async def fetch_row(self, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
        """A read on the driver: an asyncpg record (mapping access by column name) or None."""
        return await self.driver.fetchrow(statement.sql, *statement.args(params))

    async def execute_autocommitted(self, statement: DriverStatement, params: Mapping[str, Any]) -> int:
        """One statement outside any transaction, atomic by itself (the connection autocommits); returns the
        rows it affected."""
        status: str = await self.driver.execute(statement.sql, *statement.args(params))
        return int(status.rsplit(" ", 1)[-1])

    async def commit(self) -> None:
        if self.nested:
            # No RELEASE: the savepoint ends with the enclosing transaction, and a later block takes its own.
            self._savepoint = False
        elif self.active:
            await self.driver.execute("COMMIT")
            self.active = False

    async def rollback(self) -> None:
        if self.nested:
            if self._savepoint:
                self._savepoint = False
                await self.driver.execute("ROLLBACK TO SAVEPOINT nested_block")
        elif self.active:
            self.active = False
            await self.driver.execute("ROLLBACK")
