"""What the fault tests look at besides the repositories: the server's sessions and the pool.

An *admin* engine connects to the run's database in autocommit mode, outside any
pool the test examines (``NullPool``), so what it sees and does never involves the
engine under test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool, QueuePool

SERVERS = ("postgresql", "mysql")
"""The backends with server sessions of their own."""
SETTLE_SECONDS = 5.0
"""How long a discarded or killed server session may take to end."""

# Server sessions of this database holding a transaction open while not running a statement
# (the admin connection itself left out).
_OPEN_TRANSACTIONS = {
    "postgresql": (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
    ),
    "mysql": (
        "SELECT p.ID FROM information_schema.INNODB_TRX t "
        "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
        "WHERE p.DB = DATABASE() AND p.ID <> CONNECTION_ID() AND p.COMMAND = 'Sleep'"
    ),
}
_SESSION_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
_ALIVE = {
    "postgresql": "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = :id",
    "mysql": "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = :id",
}
_RUNNING = {
    "postgresql": "SELECT query FROM pg_stat_activity WHERE pid = :id AND state = 'active'",
    "mysql": "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = :id AND COMMAND = 'Query'",
}


@asynccontextmanager
async def admin_connection(url: URL) -> AsyncIterator[AsyncConnection]:
    """An autocommit connection to ``url``'s database, outside any pool under test."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


def checked_out(engine: AsyncEngine) -> int:
    """How many of the engine's pooled connections are checked out."""
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


async def server_session_id(session: AsyncSession | AsyncConnection, backend: str) -> int:
    """The server's id of the connection ``session`` works on (its pid, its CONNECTION_ID)."""
    found = await session.scalar(text(_SESSION_ID[backend]))
    assert isinstance(found, int)
    return found


async def kill(admin: AsyncConnection, backend: str, victim: int) -> None:
    """End server session ``victim`` and wait until the server has removed it."""
    if backend == "postgresql":
        terminated = await admin.scalar(text("SELECT pg_terminate_backend(:id)"), {"id": victim})
        assert terminated is True, f"pg_terminate_backend({victim}) failed"
    else:
        await admin.execute(text(f"KILL CONNECTION {victim:d}"))
    await _wait(admin, _ALIVE[backend], victim, until=lambda alive: not alive, what="end")


async def wait_running(admin: AsyncConnection, backend: str, victim: int, statement: str) -> None:
    """Wait until server session ``victim`` is running ``statement`` (upper case, exact)."""
    await _wait(
        admin,
        _RUNNING[backend],
        victim,
        until=lambda query: str(query or "").strip().rstrip(";").upper() == statement,
        what=f"run {statement}",
    )


async def open_transactions(admin: AsyncConnection, backend: str) -> list[int]:
    """Sessions of the admin's database idle inside a transaction, after letting them settle.

    A session whose client has just gone away may still be ending, and MariaDB's
    ``INNODB_TRX`` is a cache that lags (by 0.1 s or more): what is left after
    :data:`SETTLE_SECONDS` is returned.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        found = list((await admin.scalars(text(_OPEN_TRANSACTIONS[backend]))).all())
        if not found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def _wait(
    admin: AsyncConnection, query: str, victim: int, *, until: Callable[[object], bool], what: str
) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not until(await admin.scalar(text(query), {"id": victim})):
        assert time.monotonic() < deadline, f"server session {victim} did not {what}"
        await asyncio.sleep(0.01)
