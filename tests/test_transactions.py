"""unit_of_work and run_in_transaction: commit, roll back, nest, retry, isolation and read-only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sqla_repo import (
    ConflictError,
    EngineFactory,
    IsolationLevel,
    ReadOnlyError,
    RepositoryError,
    SerializationError,
    StaleDataError,
    run_in_transaction,
    unit_of_work,
)
from tests.models import Counter, CounterRepository, Product, ProductRepository

LEVELS: tuple[IsolationLevel, ...] = (
    "SERIALIZABLE",
    "REPEATABLE READ",
    "READ COMMITTED",
    "READ UNCOMMITTED",
)


async def _skus(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Product.sku).order_by(Product.sku)))


def _product(sku: str) -> dict[str, Any]:
    return {"sku": sku, "name": sku}


class BoomError(Exception):
    pass


# --- commit and roll back ---------------------------------------------------


async def test_commits_on_success(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessions) as session:
        await ProductRepository(session).create(_product("a"))
    assert await _skus(sessions) == ["a"]


async def test_rolls_back_and_reraises_on_any_exception(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(BoomError):
        async with unit_of_work(sessions) as session:
            await ProductRepository(session).create(_product("a"))
            raise BoomError
    assert await _skus(sessions) == []


async def test_database_errors_in_the_block_are_typed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        await ProductRepository(session).create(_product("a"))
    with pytest.raises(ConflictError):
        async with unit_of_work(sessions) as session:
            # a raw statement, outside any repository: the unit still types the error
            session.add(Product(**_product("b")))
            session.add(Product(**_product("a")))
    assert await _skus(sessions) == ["a"]


async def test_pending_writes_are_flushed_and_committed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        session.add(Product(**_product("p")))
    assert await _skus(sessions) == ["p"]


# --- nesting ----------------------------------------------------------------


async def test_nested_failure_undoes_only_its_own_writes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as outer:
        await ProductRepository(outer).create(_product("outer"))
        with pytest.raises(ConflictError):
            async with unit_of_work(sessions) as inner:
                assert inner is outer
                await ProductRepository(inner).create(_product("inner"))
                await ProductRepository(inner).create(_product("outer"))
        async with unit_of_work(sessions) as inner:
            await ProductRepository(inner).create(_product("second"))
        assert await ProductRepository(outer).count() == 2
    assert await _skus(sessions) == ["outer", "second"]


async def test_outer_rollback_discards_completed_nested_units(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(BoomError):
        async with unit_of_work(sessions) as outer:
            async with unit_of_work(sessions) as inner:
                await ProductRepository(inner).create(_product("inner"))
            raise BoomError
    assert await _skus(sessions) == []
    assert outer is inner


async def test_another_task_gets_its_own_transaction(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    async def in_other_task(sku: str) -> AsyncSession:
        async with unit_of_work(sessions) as session:
            await ProductRepository(session).create(_product(sku))
            return session

    with pytest.raises(BoomError):
        async with unit_of_work(sessions) as outer:
            if backend != "sqlite-memory":  # one connection: the task would wait for it
                other = await asyncio.create_task(in_other_task("during"))
                assert other is not outer
            raise BoomError
    other = await asyncio.create_task(in_other_task("after"))
    assert other is not outer
    expected = ["after"] if backend == "sqlite-memory" else ["after", "during"]
    assert await _skus(sessions) == expected


async def test_nested_unit_cannot_change_isolation_or_read_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions):
        with pytest.raises(ValueError, match="nested"):
            async with unit_of_work(sessions, isolation_level="SERIALIZABLE"):
                pass
        with pytest.raises(ValueError, match="nested"):
            async with unit_of_work(sessions, read_only=True):
                pass
    async with unit_of_work(sessions, read_only=True), unit_of_work(sessions, read_only=True):
        pass


def test_bad_arguments_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(ValueError, match="isolation_level"):
        unit_of_work(sessions, isolation_level="SNAPSHOT")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read_only"):
        unit_of_work(sessions, read_only="yes")  # type: ignore[arg-type]


async def test_bad_retries_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def fn(session: AsyncSession) -> None:
        raise AssertionError("never called")

    for retries in (-1, True, 1.5):
        with pytest.raises(ValueError, match="retries"):
            await run_in_transaction(sessions, fn, retries=retries)  # type: ignore[arg-type]


# --- run_in_transaction -----------------------------------------------------


async def test_run_in_transaction_commits_and_returns(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def fn(session: AsyncSession) -> int:
        product = await ProductRepository(session).create(_product("r"))
        return product.id

    product_id = await run_in_transaction(sessions, fn)
    assert isinstance(product_id, int)
    assert await _skus(sessions) == ["r"]


@pytest.mark.parametrize("error", [SerializationError, StaleDataError])
async def test_retries_serialization_and_stale_data_in_fresh_sessions(
    sessions: async_sessionmaker[AsyncSession], error: type[RepositoryError]
) -> None:
    seen: list[AsyncSession] = []

    async def fn(session: AsyncSession) -> str:
        seen.append(session)
        await ProductRepository(session).create(_product(f"try{len(seen)}"))
        if len(seen) < 3:
            raise error("conflict")
        return "done"

    assert await run_in_transaction(sessions, fn, retries=2) == "done"
    assert len(set(map(id, seen))) == 3  # a new session per attempt
    assert await _skus(sessions) == ["try3"]  # failed attempts left nothing


async def test_gives_up_after_retries(sessions: async_sessionmaker[AsyncSession]) -> None:
    calls = 0

    async def fn(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        raise SerializationError("conflict")

    with pytest.raises(SerializationError):
        await run_in_transaction(sessions, fn, retries=2)
    assert calls == 3
    calls = 0
    with pytest.raises(SerializationError):
        await run_in_transaction(sessions, fn, retries=0)
    assert calls == 1


async def test_other_errors_are_never_retried(sessions: async_sessionmaker[AsyncSession]) -> None:
    calls = 0

    async def fn(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        await ProductRepository(session).create(_product("x"))
        await ProductRepository(session).create(_product("x"))

    with pytest.raises(ConflictError):
        await run_in_transaction(sessions, fn)
    assert calls == 1
    assert await _skus(sessions) == []


# one connection (sqlite-memory): an independent transaction would wait for the outer one
@pytest.mark.parametrize("backend", ["sqlite-file", "postgresql", "mysql"], indirect=True)
async def test_run_in_transaction_is_never_nested(
    sessions: async_sessionmaker[AsyncSession],
) -> None:

    async def fn(session: AsyncSession) -> AsyncSession:
        await ProductRepository(session).create(_product("independent"))
        return session

    with pytest.raises(BoomError):
        async with unit_of_work(sessions) as outer:
            assert await run_in_transaction(sessions, fn) is not outer
            raise BoomError
    assert await _skus(sessions) == ["independent"]


# --- optimistic locking -----------------------------------------------------


async def test_version_starts_at_one_and_counts_updates(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        counter = await CounterRepository(session).create({"id": 1})
        assert counter.version == 1
        counter = await CounterRepository(session).update(1, value=5)
        assert counter.version == 2
    async with sessions() as session:
        stored = await session.get_one(Counter, 1)
        assert (stored.value, stored.version) == (5, 2)


async def test_update_or_delete_of_a_stale_copy_raises(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        await CounterRepository(session).create({"id": 1})
    async with sessions() as holder:
        repo = CounterRepository(holder)
        held = await repo.get_one(1)  # the session holds the copy while the app does
        await holder.commit()  # and it outlives its transaction (expire_on_commit=False)
        async with unit_of_work(sessions) as other:
            await CounterRepository(other).update(1, value=10)
        with pytest.raises(StaleDataError):
            await repo.update(1, value=1)
        await holder.rollback()
        held = await repo.get_one(1)
        assert held.version == 2
        await holder.commit()  # end the read: SQLite's writer below would wait for it
        async with unit_of_work(sessions) as other:
            await CounterRepository(other).update(1, value=20)
        with pytest.raises(StaleDataError):
            await repo.delete(1)
    async with sessions() as session:
        stored = await session.get_one(Counter, 1)
        assert (stored.value, stored.version) == (20, 3)


async def test_update_where_bumps_the_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        await CounterRepository(session).create({"id": 1})
    async with sessions() as holder:
        repo = CounterRepository(holder)
        held = await repo.get_one(1)
        await holder.commit()
        async with unit_of_work(sessions) as other:
            assert await CounterRepository(other).update_where(Counter.id == 1, values={"value": 7})
        with pytest.raises(StaleDataError):
            await repo.update(1, value=1)
        await holder.rollback()
        assert (await repo.get_one(1)).version == 2 == held.version


async def test_upsert_of_an_existing_row_bumps_the_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        created = await CounterRepository(session).upsert({"id": 1, "value": 1})
        assert created.version == 1
    async with unit_of_work(sessions) as session:
        updated = await CounterRepository(session).upsert({"id": 1, "value": 2})
        assert (updated.value, updated.version) == (2, 2)
    async with sessions() as session:
        stored = await session.get_one(Counter, 1)
        assert (stored.value, stored.version) == (2, 2)


async def test_concurrent_increments_lose_nothing(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    async with unit_of_work(sessions) as session:
        await CounterRepository(session).create({"id": 1})

    async def increment(session: AsyncSession) -> None:
        repo = CounterRepository(session)
        counter = await repo.get_one(1)
        await asyncio.sleep(0)  # let the others read the same version
        await repo.update(1, value=counter.value + 1)

    await asyncio.gather(*(run_in_transaction(sessions, increment, retries=10) for _ in range(20)))
    async with sessions() as session:
        stored = await session.get_one(Counter, 1)
        assert (stored.value, stored.version) == (20, 21)


# --- isolation and read-only --------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
async def test_every_isolation_level_runs(
    sessions: async_sessionmaker[AsyncSession], backend: str, level: IsolationLevel
) -> None:
    async with unit_of_work(sessions) as session:
        await ProductRepository(session).create({**_product("a"), "stock": 1})

    async def write_elsewhere() -> None:
        async with unit_of_work(sessions) as other:  # another task: its own transaction
            await ProductRepository(other).update_where(Product.sku == "a", values={"stock": 2})

    # one connection (memory) cannot run a second transaction; MariaDB's SERIALIZABLE
    # reads take shared locks, so a concurrent writer would wait for this one
    concurrent = backend != "sqlite-memory" and not (backend == "mysql" and level == "SERIALIZABLE")

    async def read_twice(session: AsyncSession) -> tuple[int, int]:
        first = await session.scalar(select(Product.stock))
        if concurrent:
            await asyncio.create_task(write_elsewhere())
        second = await session.scalar(select(Product.stock))
        assert first is not None
        assert second is not None
        return first, second

    first, second = await run_in_transaction(sessions, read_twice, isolation_level=level)
    snapshot = level in ("SERIALIZABLE", "REPEATABLE READ") or backend.startswith("sqlite")
    assert (first, second) == ((1, 1) if snapshot or not concurrent else (1, 2))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_isolation_level_is_reported_by_the_server(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    show = text("SHOW transaction_isolation")
    async with unit_of_work(sessions, isolation_level="SERIALIZABLE") as session:
        assert await session.scalar(show) == "serializable"
    async with unit_of_work(sessions, isolation_level="READ UNCOMMITTED") as session:
        assert await session.scalar(show) == "read committed"
    async with unit_of_work(sessions) as session:  # the pool reset the connection
        assert await session.scalar(show) == "read committed"


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_serializable_reads_lock_on_mariadb_for_that_transaction_only(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """MariaDB's SERIALIZABLE reads take shared locks; the next transaction's do not."""
    async with unit_of_work(sessions) as session:
        await ProductRepository(session).create(_product("a"))

    async def writer_blocked() -> bool:
        async with engine.connect() as other:
            await other.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
            try:
                await other.execute(text("UPDATE products SET stock = stock + 1"))
            except Exception:
                return True
            await other.commit()
            return False

    connection_ids = []
    for level in ("SERIALIZABLE", None, None):
        async with unit_of_work(sessions, isolation_level=level) as session:
            await session.scalar(select(Product.stock))
            connection_ids.append(await session.scalar(text("SELECT CONNECTION_ID()")))
            assert await writer_blocked() == (level == "SERIALIZABLE")
    assert connection_ids[0] in connection_ids[1:]  # the same pooled connection came back


async def test_read_only_refuses_writes(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessions) as session:
        await ProductRepository(session).create(_product("a"))
    with pytest.raises(ReadOnlyError):
        async with unit_of_work(sessions, read_only=True) as session:
            assert await ProductRepository(session).count() == 1
            await ProductRepository(session).create(_product("b"))
    with pytest.raises(ReadOnlyError):
        async with unit_of_work(sessions, read_only=True) as session:
            await ProductRepository(session).update_where(Product.sku == "a", values={"stock": 3})

    async def write(session: AsyncSession) -> None:
        await ProductRepository(session).delete_where(Product.sku == "a")

    with pytest.raises(ReadOnlyError):
        await run_in_transaction(sessions, write, read_only=True)
    assert await _skus(sessions) == ["a"]


async def test_read_only_ends_with_its_transaction(
    factory: EngineFactory, engine: AsyncEngine
) -> None:
    """On one pooled connection, a read-only unit leaves no read-only mode behind."""
    single = EngineFactory(factory.url, pool=factory.pool.model_copy(update={"size": 1}))
    one = single.create_async_engine()
    try:
        async with one.begin() as connection:  # a memory database is the engine's own
            await connection.run_sync(Product.metadata.create_all)
        sessions = single.create_sessionmaker(one)
        for _ in range(2):
            async with unit_of_work(sessions, read_only=True) as session:
                await ProductRepository(session).count()
            async with unit_of_work(sessions) as session:
                await ProductRepository(session).create(_product(f"w{_}"))
            with pytest.raises(ReadOnlyError):
                async with unit_of_work(sessions, read_only=True) as session:
                    await ProductRepository(session).create(_product("never"))
        assert await _skus(sessions) == ["w0", "w1"]
    finally:
        await one.dispose()
