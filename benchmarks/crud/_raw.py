"""The raw drivers, each from its own pool: asyncpg, aiomysql and aiosqlite.

One small interface over the three, so that an operation writes its raw SQL once
(with ``?`` placeholders, turned into each driver's style when prepared, untimed).
Every call made through it counts as one statement sent: an ``executemany`` or a
COPY is one call, as the driver is called once.
"""

from __future__ import annotations

import asyncio
import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiosqlite
import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.prepared_stmt import PreparedStatement
from sqlalchemy.engine import URL

# aiomysql ships no type information
aiomysql: Any = importlib.import_module("aiomysql")

Args = Sequence[Any]


@dataclass
class StatementCounter:
    count: int = 0


class RawStatement(ABC):
    """A statement prepared once and called many times."""

    def __init__(self, counter: StatementCounter) -> None:
        self._counter = counter

    @abstractmethod
    async def fetch(self, *args: Any) -> list[Any]: ...

    @abstractmethod
    async def fetchval(self, *args: Any) -> Any: ...

    @abstractmethod
    async def execute(self, *args: Any) -> None: ...

    @abstractmethod
    async def executemany(self, rows: Sequence[Args]) -> None: ...

    @abstractmethod
    async def insert(self, *args: Any) -> int:
        """Run an INSERT of one row; its generated key."""


class RawConnection(ABC):
    backend: str

    def __init__(self, counter: StatementCounter) -> None:
        self._counter = counter

    @abstractmethod
    async def begin(self) -> None: ...

    @abstractmethod
    async def rollback(self) -> None: ...

    @abstractmethod
    async def prepare(self, sql: str) -> RawStatement:
        """``sql`` with ``?`` placeholders."""

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Any]: ...

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> None: ...

    @abstractmethod
    def stream(self, sql: str, batch: int) -> AsyncIterator[Any]:
        """Rows from a server-side cursor, ``batch`` at a time."""

    returning_id = ""
    """What an INSERT needs to give the generated key back (else: the cursor's lastrowid)."""

    def insert_sql(self, table: str, columns: Sequence[str], *, returning: bool = False) -> str:
        """An INSERT of one row, which gives the generated key back if ``returning``."""
        marks = ", ".join("?" for _ in columns)
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        return insert + self.returning_id if returning else insert

    def upsert_sql(self, table: str, columns: Sequence[str], key: str) -> str:
        """Insert a row, or update the non-key columns of the row with its key."""
        insert = self.insert_sql(table, columns)
        updated = [column for column in columns if column != key]
        if self.backend == "mariadb":
            sets = ", ".join(f"{column} = VALUES({column})" for column in updated)
            return f"{insert} ON DUPLICATE KEY UPDATE {sets}"
        sets = ", ".join(f"{column} = excluded.{column}" for column in updated)
        return f"{insert} ON CONFLICT ({key}) DO UPDATE SET {sets}"

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Args]) -> None:
        """A bulk load; only PostgreSQL has one (COPY)."""
        raise NotImplementedError(f"{self.backend} has no COPY")


class RawPool(ABC):
    backend: str
    driver: str

    @abstractmethod
    def acquire(self) -> Any:
        """An async context manager giving a :class:`RawConnection`."""

    @abstractmethod
    async def close(self) -> None: ...


# --- asyncpg ------------------------------------------------------------------------


def _numbered(sql: str) -> str:
    numbers = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(numbers)}", sql)


class _PgStatement(RawStatement):
    def __init__(self, counter: StatementCounter, prepared: PreparedStatement[Any]) -> None:
        super().__init__(counter)
        self._prepared = prepared

    async def fetch(self, *args: Any) -> list[Any]:
        self._counter.count += 1
        return list(await self._prepared.fetch(*args))

    async def fetchval(self, *args: Any) -> Any:
        self._counter.count += 1
        return await self._prepared.fetchval(*args)

    async def execute(self, *args: Any) -> None:
        self._counter.count += 1
        await self._prepared.fetch(*args)

    async def executemany(self, rows: Sequence[Args]) -> None:
        self._counter.count += 1
        await self._prepared.executemany(rows)

    async def insert(self, *args: Any) -> int:
        self._counter.count += 1
        return int(await self._prepared.fetchval(*args))


class _PgConnection(RawConnection):
    backend = "postgresql"
    returning_id = " RETURNING id"

    def __init__(self, counter: StatementCounter, connection: PoolConnectionProxy[Any]) -> None:
        super().__init__(counter)
        self._connection = connection
        self._transaction: Any = None

    async def begin(self) -> None:
        self._transaction = self._connection.transaction()
        await self._transaction.start()

    async def rollback(self) -> None:
        await self._transaction.rollback()

    async def prepare(self, sql: str) -> RawStatement:
        return _PgStatement(self._counter, await self._connection.prepare(_numbered(sql)))

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self._counter.count += 1  # the connection's statement cache prepares it once
        return await self._connection.fetch(_numbered(sql), *args)

    async def execute(self, sql: str, *args: Any) -> None:
        self._counter.count += 1
        await self._connection.execute(_numbered(sql), *args)

    async def stream(self, sql: str, batch: int) -> AsyncIterator[Any]:
        self._counter.count += 1
        async for row in self._connection.cursor(sql, prefetch=batch):
            yield row

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Args]) -> None:
        self._counter.count += 1
        await self._connection.copy_records_to_table(table, records=rows, columns=list(columns))


class _PgPool(RawPool):
    backend = "postgresql"
    driver = "asyncpg"

    def __init__(self, counter: StatementCounter, pool: asyncpg.Pool) -> None:
        self._counter, self._pool = counter, pool

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[RawConnection]:
        async with self._pool.acquire() as connection:
            yield _PgConnection(self._counter, connection)

    async def close(self) -> None:
        await self._pool.close()


# --- aiomysql -----------------------------------------------------------------------


class _MyStatement(RawStatement):
    def __init__(self, counter: StatementCounter, cursor: Any, sql: str) -> None:
        super().__init__(counter)
        self._cursor, self._sql = cursor, sql

    async def fetch(self, *args: Any) -> list[Any]:
        self._counter.count += 1
        await self._cursor.execute(self._sql, args)
        return list(await self._cursor.fetchall())

    async def fetchval(self, *args: Any) -> Any:
        self._counter.count += 1
        await self._cursor.execute(self._sql, args)
        return (await self._cursor.fetchone())[0]

    async def execute(self, *args: Any) -> None:
        self._counter.count += 1
        await self._cursor.execute(self._sql, args)

    async def executemany(self, rows: Sequence[Args]) -> None:
        self._counter.count += 1
        await self._cursor.executemany(self._sql, rows)

    async def insert(self, *args: Any) -> int:
        self._counter.count += 1
        await self._cursor.execute(self._sql, args)
        return int(self._cursor.lastrowid)


class _MyConnection(RawConnection):
    backend = "mariadb"

    def __init__(self, counter: StatementCounter, connection: Any) -> None:
        super().__init__(counter)
        self._connection = connection

    async def begin(self) -> None:
        await self._connection.begin()

    async def rollback(self) -> None:
        await self._connection.rollback()

    async def prepare(self, sql: str) -> RawStatement:
        cursor = await self._connection.cursor()
        return _MyStatement(self._counter, cursor, sql.replace("?", "%s"))

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self._counter.count += 1
        async with self._connection.cursor() as cursor:
            await cursor.execute(sql.replace("?", "%s"), args or None)
            return list(await cursor.fetchall())

    async def execute(self, sql: str, *args: Any) -> None:
        self._counter.count += 1
        async with self._connection.cursor() as cursor:
            await cursor.execute(sql.replace("?", "%s"), args or None)

    async def stream(self, sql: str, batch: int) -> AsyncIterator[Any]:
        self._counter.count += 1
        cursor = await self._connection.cursor(aiomysql.SSCursor)
        try:
            await cursor.execute(sql)
            while rows := await cursor.fetchmany(batch):
                for row in rows:
                    yield row
        finally:
            await cursor.close()


class _MyPool(RawPool):
    backend = "mariadb"
    driver = "aiomysql"

    def __init__(self, counter: StatementCounter, pool: Any) -> None:
        self._counter, self._pool = counter, pool

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[RawConnection]:
        async with self._pool.acquire() as connection:
            yield _MyConnection(self._counter, connection)

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()


# --- aiosqlite ----------------------------------------------------------------------


class _LiteStatement(RawStatement):
    def __init__(self, counter: StatementCounter, connection: aiosqlite.Connection, sql: str):
        super().__init__(counter)
        self._connection, self._sql = connection, sql

    async def fetch(self, *args: Any) -> list[Any]:
        self._counter.count += 1
        return list(await self._connection.execute_fetchall(self._sql, args))

    async def fetchval(self, *args: Any) -> Any:
        self._counter.count += 1
        return next(iter(await self._connection.execute_fetchall(self._sql, args)))[0]

    async def execute(self, *args: Any) -> None:
        self._counter.count += 1
        await self._connection.execute(self._sql, args)

    async def executemany(self, rows: Sequence[Args]) -> None:
        self._counter.count += 1
        await self._connection.executemany(self._sql, rows)

    async def insert(self, *args: Any) -> int:
        self._counter.count += 1
        cursor = await self._connection.execute(self._sql, args)
        return int(cursor.lastrowid or 0)


class _LiteConnection(RawConnection):
    backend = "sqlite"

    def __init__(self, counter: StatementCounter, connection: aiosqlite.Connection) -> None:
        super().__init__(counter)
        self._connection = connection

    async def begin(self) -> None:
        await self._connection.execute("BEGIN")

    async def rollback(self) -> None:
        await self._connection.execute("ROLLBACK")

    async def prepare(self, sql: str) -> RawStatement:
        return _LiteStatement(self._counter, self._connection, sql)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self._counter.count += 1
        return list(await self._connection.execute_fetchall(sql, args))

    async def execute(self, sql: str, *args: Any) -> None:
        self._counter.count += 1
        await self._connection.execute(sql, args)

    async def stream(self, sql: str, batch: int) -> AsyncIterator[Any]:
        self._counter.count += 1
        async with self._connection.execute(sql) as cursor:
            while rows := await cursor.fetchmany(batch):
                for row in rows:
                    yield row


class _LitePool(RawPool):
    """SQLite has no pool of its own: a queue of connections opened up front."""

    backend = "sqlite"
    driver = "aiosqlite"

    def __init__(self, counter: StatementCounter, connections: list[aiosqlite.Connection]):
        self._counter = counter
        self._connections = connections
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for connection in connections:
            self._idle.put_nowait(connection)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[RawConnection]:
        connection = await self._idle.get()
        try:
            yield _LiteConnection(self._counter, connection)
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        for connection in self._connections:
            await connection.close()


POOL_SIZE = 2
"""A batch holds one connection; an operation that opens one per call takes another."""


async def open_pool(url: URL, backend: str, counter: StatementCounter) -> RawPool:
    if backend == "postgresql":
        pool = await asyncpg.create_pool(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
            min_size=POOL_SIZE,
            max_size=POOL_SIZE,
        )
        return _PgPool(counter, pool)
    if backend == "mariadb":
        pool = await aiomysql.create_pool(
            host=url.host or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "root",
            password=url.password or "",
            db=url.database,
            charset="utf8mb4",
            autocommit=True,  # batches BEGIN explicitly; a lone read needs no transaction
            minsize=POOL_SIZE,
            maxsize=POOL_SIZE,
        )
        return _MyPool(counter, pool)
    if backend == "sqlite":
        # isolation_level=None: no implicit BEGIN, batches send their own
        connections = [
            await aiosqlite.connect(url.database or "", isolation_level=None)
            for _ in range(POOL_SIZE)
        ]
        return _LitePool(counter, connections)
    raise ValueError(f"no raw driver for {backend}")
