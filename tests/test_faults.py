"""Faults: killed connections, an exhausted pool, a COMMIT that fails or never answers.

Each scenario checks what the database holds afterwards, from a connection of its own,
and that the pool is fit for the next unit of work. Cancellation: test_cancellation.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from sqla_repo import (
    CommitOutcomeUnknownError,
    DatabaseUnavailableError,
    EngineFactory,
    ForeignKeyViolationError,
    PoolConfig,
    PoolTimeoutError,
    run_in_transaction,
    unit_of_work,
)
from tests.models import Product, ProductRepository
from tests.servers import (
    SERVERS,
    admin_connection,
    checked_out,
    kill,
    open_transactions,
    server_session_id,
    wait_running,
)


async def _skus(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Product.sku).order_by(Product.sku)))


def _product(sku: str) -> dict[str, Any]:
    return {"sku": sku, "name": sku}


# --- a pooled connection killed by the server -----------------------------------------


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
async def test_a_connection_killed_in_the_pool_is_replaced(
    backend: str, db_url: URL, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    async with unit_of_work(sessions) as session:
        await ProductRepository(session).create(_product("before"))
        victim = await server_session_id(session, backend)
    assert checked_out(engine) == 0  # back in the pool, idle
    async with admin_connection(db_url) as admin:
        await kill(admin, backend, victim)
    async with unit_of_work(sessions) as session:  # pre-ping finds it dead and replaces it
        assert await server_session_id(session, backend) != victim
        await ProductRepository(session).create(_product("after"))
    assert await _skus(sessions) == ["after", "before"]


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
async def test_a_connection_killed_mid_transaction_fails_typed_and_writes_nothing(
    backend: str, db_url: URL, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    async with admin_connection(db_url) as admin:
        with pytest.raises(DatabaseUnavailableError) as raised:
            async with unit_of_work(sessions) as session:
                repo = ProductRepository(session)
                await repo.create(_product("first"))
                await repo.create(_product("second"))
                await kill(admin, backend, await server_session_id(session, backend))
                await repo.create(_product("third"))
        assert not isinstance(raised.value, CommitOutcomeUnknownError)  # COMMIT never started
        assert "unavailable" in str(raised.value)
        assert await admin.scalar(select(func.count()).select_from(Product)) == 0
        assert await open_transactions(admin, backend) == []
    assert checked_out(engine) == 0
    async with unit_of_work(sessions) as session:  # the dead connection is not handed out again
        await ProductRepository(session).create(_product("next"))
    assert await _skus(sessions) == ["next"]


# --- an exhausted pool ----------------------------------------------------------------


@asynccontextmanager
async def _own_engine(
    url: URL, pool: PoolConfig
) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """An engine of its own over the test's database, with the test models' tables.

    A memory database belongs to its engine: the tables are created in it. Elsewhere they
    already exist (the ``engine`` fixture made them) and ``create_all`` leaves them be.
    """
    factory = EngineFactory(url, pool=pool)
    engine = factory.create_async_engine()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Product.metadata.create_all)
        yield engine, factory.create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_an_exhausted_pool_times_out_typed_then_serves_again(
    backend: str, db_url: URL, engine: AsyncEngine
) -> None:
    # a memory database has exactly one connection, whatever the configuration says
    size = 1 if backend == "sqlite-memory" else 2
    async with _own_engine(db_url, PoolConfig(size=2, max_overflow=0, timeout=0.5)) as (
        small,
        sessions,
    ):
        async with AsyncExitStack() as holders:
            for _ in range(size):
                held = await holders.enter_async_context(sessions())
                await held.connection()  # checked out until the session closes
            assert checked_out(small) == size

            started = time.monotonic()
            with pytest.raises(PoolTimeoutError) as raised:
                async with unit_of_work(sessions) as session:
                    await ProductRepository(session).create(_product("never"))
            elapsed = time.monotonic() - started
            assert 0.4 <= elapsed < 3.0
            assert "0.5 s" in str(raised.value)
            assert f"pool size {size}" in str(raised.value)

            calls = 0

            async def fn(session: AsyncSession) -> None:
                nonlocal calls
                calls += 1
                await ProductRepository(session).create(_product("never"))

            with pytest.raises(PoolTimeoutError):
                await run_in_transaction(sessions, fn)  # not retried
            assert calls == 1
            assert checked_out(small) == size

        async with unit_of_work(sessions) as session:  # the holders are gone: service resumes
            await ProductRepository(session).create(_product("after"))
        assert await _skus(sessions) == ["after"]
        assert checked_out(small) == 0


# --- the connection lost while COMMIT is in flight -------------------------------------

SLOW_COMMIT_SETUP = (
    "DROP TABLE IF EXISTS fault_slow_commit",
    "DROP FUNCTION IF EXISTS fault_sleep_at_commit()",
    "CREATE TABLE fault_slow_commit (id INTEGER PRIMARY KEY)",
    "CREATE FUNCTION fault_sleep_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$",
    # checked at COMMIT, row by row: COMMIT takes 2 s
    "CREATE CONSTRAINT TRIGGER fault_slow_commit_sleeps AFTER INSERT ON fault_slow_commit "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fault_sleep_at_commit()",
)
SLOW_COMMIT_TEARDOWN = (
    "DROP TABLE IF EXISTS fault_slow_commit",
    "DROP FUNCTION IF EXISTS fault_sleep_at_commit()",
)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_postgresql_connection_lost_during_commit_is_outcome_unknown_and_never_rerun(
    backend: str, db_url: URL, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    async with admin_connection(db_url) as admin:
        for statement in SLOW_COMMIT_SETUP:
            await admin.execute(text(statement))
        try:
            calls: list[int] = []
            began = asyncio.Event()

            async def fn(session: AsyncSession) -> None:
                calls.append(await server_session_id(session, backend))
                began.set()
                await session.execute(text("INSERT INTO fault_slow_commit (id) VALUES (1)"))

            task = asyncio.create_task(run_in_transaction(sessions, fn))
            await asyncio.wait_for(began.wait(), timeout=5)
            await wait_running(admin, backend, calls[0], "COMMIT")
            await asyncio.sleep(0.5)  # well inside the 2 s COMMIT
            await kill(admin, backend, calls[0])
            with pytest.raises(CommitOutcomeUnknownError) as raised:
                await task
            assert isinstance(raised.value, DatabaseUnavailableError)
            assert "outcome of COMMIT is unknown" in str(raised.value)
            assert len(calls) == 1  # never re-run
            # the kill landed in the deferred trigger, before the commit record: rolled back
            assert await admin.scalar(text("SELECT COUNT(*) FROM fault_slow_commit")) == 0
            await _assert_pool_serves(sessions, engine)
            assert await open_transactions(admin, backend) == []
        finally:
            for statement in SLOW_COMMIT_TEARDOWN:
                await admin.execute(text(statement))


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_mariadb_connection_lost_during_commit_is_outcome_unknown_and_never_rerun(
    backend: str, db_url: URL, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """MariaDB has no deferred triggers; ``BACKUP STAGE BLOCK_COMMIT`` holds COMMIT instead.

    It holds every COMMIT on the server (other databases too), so only for a moment.
    """
    async with admin_connection(db_url) as admin, admin_connection(db_url) as backup:
        calls: list[int] = []
        wrote, commits_blocked = asyncio.Event(), asyncio.Event()

        async def fn(session: AsyncSession) -> None:
            calls.append(await server_session_id(session, backend))
            await ProductRepository(session).create(_product("in doubt"))
            wrote.set()
            await commits_blocked.wait()

        task = asyncio.create_task(run_in_transaction(sessions, fn))
        try:
            await asyncio.wait_for(wrote.wait(), timeout=5)
            for stage in ("START", "FLUSH", "BLOCK_DDL", "BLOCK_COMMIT"):
                await backup.execute(text(f"BACKUP STAGE {stage}"))
            commits_blocked.set()
            await wait_running(admin, backend, calls[0], "COMMIT")
            await asyncio.sleep(0.1)
            await kill(admin, backend, calls[0])
        finally:
            await backup.execute(text("BACKUP STAGE END"))
            commits_blocked.set()
        with pytest.raises(CommitOutcomeUnknownError) as raised:
            await task
        assert isinstance(raised.value, DatabaseUnavailableError)
        assert "outcome of COMMIT is unknown" in str(raised.value)
        assert len(calls) == 1  # never re-run
        # killed while waiting for the commit lock: the server rolled it back
        assert await admin.scalar(select(func.count()).select_from(Product)) == 0
        await _assert_pool_serves(sessions, engine)
        assert await open_transactions(admin, backend) == []


async def _assert_pool_serves(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """The pool hands out working connections, and none is left checked out."""

    async def write(session: AsyncSession) -> None:
        await ProductRepository(session).create(_product("served"))

    await run_in_transaction(sessions, write)
    assert "served" in await _skus(sessions)
    assert checked_out(engine) == 0


# --- a COMMIT refused by a deferred constraint -----------------------------------------

DEFERRED_FK_SETUP = (
    "DROP TABLE IF EXISTS fault_children",
    "DROP TABLE IF EXISTS fault_parents",
    "CREATE TABLE fault_parents (id INTEGER PRIMARY KEY)",
    "CREATE TABLE fault_children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
    "REFERENCES fault_parents (id) DEFERRABLE INITIALLY DEFERRED)",
)
ORPHAN = text("INSERT INTO fault_children (id, parent_id) VALUES (:id, 404)")


@pytest.mark.parametrize("backend", ["sqlite-file", "sqlite-memory", "postgresql"], indirect=True)
async def test_a_commit_refused_by_a_deferred_constraint_is_typed_and_leaves_nothing_open(
    backend: str, db_url: URL
) -> None:
    async with _own_engine(db_url, PoolConfig(size=1, max_overflow=0, timeout=5)) as (
        one,
        sessions,
    ):
        async with one.begin() as connection:
            for statement in DEFERRED_FK_SETUP:
                await connection.execute(text(statement))
        try:
            with pytest.raises(ForeignKeyViolationError):
                async with unit_of_work(sessions) as session:
                    await session.execute(ORPHAN, {"id": 1})  # accepted until COMMIT
            await _assert_idle_outside_a_transaction(one, backend, db_url)

            calls = 0

            async def orphan(session: AsyncSession) -> None:
                nonlocal calls
                calls += 1
                await session.execute(ORPHAN, {"id": 2})

            with pytest.raises(ForeignKeyViolationError):
                await run_in_transaction(sessions, orphan)
            assert calls == 1  # not retried
            await _assert_idle_outside_a_transaction(one, backend, db_url)

            async with unit_of_work(sessions) as session:  # the same, only, pooled connection
                await session.execute(text("INSERT INTO fault_parents (id) VALUES (7)"))
                await session.execute(
                    text("INSERT INTO fault_children (id, parent_id) VALUES (3, 7)")
                )
            await _assert_idle_outside_a_transaction(one, backend, db_url)
            assert await _children(one, backend, db_url) == [(3, 7)]
        finally:
            async with one.begin() as connection:
                for statement in DEFERRED_FK_SETUP[:2]:
                    await connection.execute(text(statement))


async def _assert_idle_outside_a_transaction(one: AsyncEngine, backend: str, db_url: URL) -> None:
    """The pool's one connection is back, and neither the driver nor the server has a
    transaction open on it."""
    assert checked_out(one) == 0
    async with one.connect() as connection:  # checks the connection out; begins nothing
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        if backend == "postgresql":
            assert raw.is_in_transaction() is False
        else:
            assert raw.in_transaction is False
    if backend == "postgresql":
        async with admin_connection(db_url) as admin:
            assert await open_transactions(admin, backend) == []


async def _children(one: AsyncEngine, backend: str, db_url: URL) -> list[tuple[int, int]]:
    """The committed children, read from a connection of another pool where there can be one."""
    query = text("SELECT id, parent_id FROM fault_children ORDER BY id")
    if backend == "sqlite-memory":
        async with one.connect() as connection:  # the memory database's only connection
            return [(row[0], row[1]) for row in await connection.execute(query)]
    fresh = create_async_engine(db_url, poolclass=NullPool)
    try:
        async with fresh.connect() as connection:
            return [(row[0], row[1]) for row in await connection.execute(query)]
    finally:
        await fresh.dispose()
