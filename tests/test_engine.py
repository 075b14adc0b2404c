"""EngineFactory and PoolConfig: URL and pool validation, per-backend defaults, secrets."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import math
import traceback
from typing import Any

import pydantic
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool

from sqla_repo import (
    DatabaseUnavailableError,
    EngineFactory,
    ForeignKeyViolationError,
    PoolConfig,
    PoolTimeoutError,
)
from tests.models import OrderRepository, Product, ProductRepository

SUPPORTED = ("postgresql+asyncpg", "postgresql+psycopg", "mysql+aiomysql", "sqlite+aiosqlite")
SECRET = "s3cr3t-Pa55word"


def _chain_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(err))


# --- URL validation ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("not a url", id="not-a-url"),
        pytest.param("", id="empty"),
        pytest.param(f"postgresql+asyncpg://app:{SECRET}@db:notaport/app", id="bad-port"),
        pytest.param(f"oracle+oracledb://scott:{SECRET}@db/app", id="unknown-backend"),
        pytest.param("sqlite://", id="sqlite-no-driver"),
        pytest.param("sqlite:///app.db", id="sqlite-file-no-driver"),
        pytest.param("sqlite+pysqlite:///app.db", id="pysqlite"),
        pytest.param(f"postgresql://app:{SECRET}@db/app", id="postgresql-default-driver"),
        pytest.param(f"postgresql+psycopg2://app:{SECRET}@db/app", id="psycopg2"),
        pytest.param(f"mysql+pymysql://app:{SECRET}@db/app", id="pymysql"),
        pytest.param(f"mysql://app:{SECRET}@db/app", id="mysql-default-driver"),
        pytest.param(f"mysql+asyncmy://app:{SECRET}@db/app", id="asyncmy"),
    ],
)
def test_unsupported_url_raises_value_error_listing_async_drivers(url: str) -> None:
    with pytest.raises(ValueError, match="postgresql\\+asyncpg") as raised:
        EngineFactory(url)
    message = str(raised.value)
    for supported in SUPPORTED:
        assert supported in message
    assert SECRET not in _chain_text(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://app:pw@db:5432/app",
        "postgresql+psycopg://app:pw@db/app",
        "mysql+aiomysql://app:pw@db/app",
        "mariadb+aiomysql://app:pw@db/app",
        "sqlite+aiosqlite:///app.db",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite://",
    ],
)
def test_supported_urls_are_accepted(url: str) -> None:
    factory = EngineFactory(url)
    assert factory.url == make_url(url)
    assert factory.pool == PoolConfig()


def test_accepts_a_url_object() -> None:
    url = URL.create("postgresql+asyncpg", username="app", password=SECRET, host="db")
    assert EngineFactory(url).url is url


def test_rejects_arguments_of_the_wrong_type() -> None:
    with pytest.raises(TypeError):
        EngineFactory(42)  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(TypeError):
        EngineFactory("sqlite+aiosqlite://", pool={"size": 2})  # type: ignore[arg-type]  # same


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "asyncpg" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    factory = EngineFactory(f"postgresql+asyncpg://app:{SECRET}@db/app")
    with pytest.raises(ModuleNotFoundError, match=r"sqla-repo\[postgres\]"):
        factory.create_async_engine()


# --- PoolConfig ------------------------------------------------------------------


def test_pool_config_defaults_and_fractional_timeout() -> None:
    config = PoolConfig()
    assert (config.size, config.max_overflow, config.timeout, config.recycle, config.pre_ping) == (
        5,
        10,
        30.0,
        -1,
        True,
    )
    assert PoolConfig(timeout=0.5).timeout == 0.5
    assert PoolConfig(size=1, max_overflow=0, recycle=0).recycle == 0


@pytest.mark.parametrize(
    "values",
    [
        {"size": 0},
        {"size": -1},
        {"size": 1.5},
        {"size": "5"},
        {"max_overflow": -1},
        {"timeout": 0},
        {"timeout": -0.5},
        {"timeout": math.nan},
        {"timeout": math.inf},
        {"recycle": -2},
        {"pre_ping": "yes"},
        {"sizes": 3},
    ],
    ids=repr,
)
def test_pool_config_rejects_bad_values(values: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        PoolConfig(**values)
    assert isinstance(raised.value, ValueError)


def test_pool_config_is_frozen() -> None:
    config = PoolConfig()
    with pytest.raises(pydantic.ValidationError):
        config.size = 3


# --- secrets ---------------------------------------------------------------------


def test_password_hidden_in_repr_and_str() -> None:
    factory = EngineFactory(
        f"postgresql+asyncpg://app:{SECRET}@db:5432/app", pool=PoolConfig(size=3)
    )
    for shown in (repr(factory), str(factory), repr(factory.url), str(factory.url)):
        assert SECRET not in shown
    assert "app:***@db:5432/app" in repr(factory)
    assert "size=3" in repr(factory)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+asyncpg://app:{SECRET}@127.0.0.1:1/app",
        f"mysql+aiomysql://app:{SECRET}@127.0.0.1:1/app",
    ],
    ids=["postgresql", "mysql"],
)
async def test_refused_connection_is_unavailable_without_the_password(url: str) -> None:
    factory = EngineFactory(url)
    engine = factory.create_async_engine()
    try:
        async with factory.create_sessionmaker(engine)() as session:
            with pytest.raises(DatabaseUnavailableError, match=r"127\.0\.0\.1:1") as raised:
                await ProductRepository(session).list()
    finally:
        await engine.dispose()
    assert SECRET not in _chain_text(raised.value)


async def _url_with_password(db_url: URL, backend: str, admin: AsyncEngine) -> tuple[URL, str]:
    """The test database's URL, logging in with a password; returns the URL and a cleanup SQL."""
    if backend == "postgresql":
        # the local server trusts every login, so any password works
        return db_url.set(password=SECRET), ""
    user = "sqla_repo_pw_user"
    async with admin.connect() as connection:
        await connection.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        await connection.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{SECRET}'"))
        await connection.execute(text(f"GRANT ALL ON `{db_url.database}`.* TO '{user}'@'%'"))
    return db_url.set(username=user, password=SECRET), f"DROP USER IF EXISTS '{user}'@'%'"


@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
async def test_password_never_logged_with_echo(
    backend: str,
    db_url: URL,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, cleanup = await _url_with_password(db_url, backend, engine)
    try:
        factory = EngineFactory(url, echo=True)
        echo_engine = factory.create_async_engine()
        caplog.set_level(logging.DEBUG, logger="sqlalchemy")
        try:
            async with factory.create_sessionmaker(echo_engine).begin() as session:
                repo = ProductRepository(session)
                product = await repo.create({"sku": "secret-sku-1", "name": "Logged"})
                assert await repo.get(product.id) is product
                assert repr(echo_engine.sync_engine).count("***") == 1
        finally:
            await echo_engine.dispose()
    finally:
        if cleanup:
            async with engine.connect() as connection:
                await connection.execute(text(cleanup))
    logged = caplog.text + capsys.readouterr().out
    assert "INSERT INTO products" in logged  # echo really logged the statements
    assert SECRET not in logged
    assert "secret-sku-1" not in logged  # bound parameters are hidden by default


async def test_hide_parameters_false_shows_values(caplog: pytest.LogCaptureFixture) -> None:
    factory = EngineFactory("sqlite+aiosqlite://", echo=True, hide_parameters=False)
    engine = factory.create_async_engine()
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT :value"), {"value": "visible-value"})
    finally:
        await engine.dispose()
    assert "visible-value" in caplog.text


# --- per-backend defaults --------------------------------------------------------


async def test_sessionmaker_does_not_expire_on_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert sessions.kw["expire_on_commit"] is False
    async with sessions() as session:
        product = await ProductRepository(session).create({"sku": "a", "name": "Kept"})
        await session.commit()
        # no IO needed (an expired attribute would raise MissingGreenlet here)
        assert product.name == "Kept"


@pytest.fixture(params=["factory", "plain"])
def any_sessions(
    request: pytest.FixtureRequest, factory: EngineFactory, engine: AsyncEngine
) -> async_sessionmaker[AsyncSession]:
    """The factory's sessionmaker, or a plain one: the engine's guarantees hold for both."""
    if request.param == "plain":
        return async_sessionmaker(engine)
    return factory.create_sessionmaker(engine)


async def test_foreign_keys_enforced_on_every_connection(
    any_sessions: async_sessionmaker[AsyncSession],
) -> None:
    sessions = any_sessions

    async def orphan_order() -> type[BaseException]:
        async with sessions() as session:
            with pytest.raises(ForeignKeyViolationError) as raised:
                await OrderRepository(session).create({"product_id": 999_999, "quantity": 1})
            return raised.type

    # several connections at once, so more than one pooled connection is checked
    results = await asyncio.gather(*(orphan_order() for _ in range(4)))
    assert results == [ForeignKeyViolationError] * 4


@pytest.mark.parametrize("backend", ["sqlite-file", "sqlite-memory"], indirect=True)
async def test_sqlite_pragmas(engine: AsyncEngine, backend: str) -> None:
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
        journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
    assert journal == ("wal" if backend == "sqlite-file" else "memory")


@pytest.mark.parametrize("backend", ["sqlite-memory"], indirect=True)
async def test_memory_database_is_shared_by_every_session(engine: AsyncEngine) -> None:
    # also through a plain sessionmaker: the guarantee lives in the engine
    sessions = async_sessionmaker(engine)
    async with sessions.begin() as session:
        await ProductRepository(session).create({"sku": "shared", "name": "Shared"})
    async with sessions() as other:
        assert await ProductRepository(other).by_sku("shared") is not None


async def test_forty_concurrent_writers_lose_nothing(
    any_sessions: async_sessionmaker[AsyncSession],
) -> None:
    sessions = any_sessions

    async def write(n: int) -> None:
        async with sessions() as session, session.begin():
            repo = ProductRepository(session)
            product = await repo.create({"sku": f"sku-{n}", "name": f"Product {n}"})
            await asyncio.sleep(0)  # let the others run while this transaction is open
            await repo.update(product.id, stock=n)

    await asyncio.gather(*(write(n) for n in range(40)))
    async with sessions() as session:
        count = (await session.execute(select(func.count()).select_from(Product))).scalar_one()
        stock = (await session.execute(select(func.sum(Product.stock)))).scalar_one()
    assert count == 40
    assert stock == sum(range(40))


@pytest.mark.parametrize("backend", ["sqlite-memory"], indirect=True)
async def test_memory_pool_adapts_instead_of_raising(db_url: URL) -> None:
    factory = EngineFactory(
        db_url, pool=PoolConfig(size=20, max_overflow=5, timeout=0.5, recycle=10, pre_ping=True)
    )
    engine = factory.create_async_engine()
    try:
        assert isinstance(engine.pool, AsyncAdaptedQueuePool)
        assert engine.pool.size() == 1
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_pool_timeout_is_typed_and_names_size_and_timeout(db_url: URL) -> None:
    factory = EngineFactory(db_url, pool=PoolConfig(size=1, max_overflow=0, timeout=0.5))
    engine = factory.create_async_engine()
    sessions = factory.create_sessionmaker(engine)
    try:
        async with engine.connect() as holder:
            await holder.execute(text("SELECT 1"))  # the pool's only connection is taken
            async with sessions() as session:
                with pytest.raises(PoolTimeoutError, match=r"0\.5 s.*size 1"):
                    await ProductRepository(session).list()
        async with sessions() as session:  # service resumes once the connection is back
            await session.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
def test_mysql_recycle_is_capped_below_wait_timeout(db_url: URL) -> None:
    for recycle, expected in ((-1, 3600), (100_000, 3600), (600, 600)):
        engine = EngineFactory(db_url, pool=PoolConfig(recycle=recycle)).create_async_engine()
        assert engine.sync_engine.pool._recycle == expected


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_mysql_connection_retired_before_server_wait_timeout(db_url: URL) -> None:
    # a server whose wait_timeout (3 s) is far below the 3600 s cap; pre_ping off so
    # only the recycle logic can save the next checkout
    url = db_url.update_query_dict({"init_command": "SET SESSION wait_timeout=3"})
    factory = EngineFactory(url, pool=PoolConfig(pre_ping=False))
    engine = factory.create_async_engine()
    query = text("SELECT CONNECTION_ID()")
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(query)).scalar_one()
        await asyncio.sleep(3.5)  # the server has closed the idle connection by now
        async with engine.connect() as connection:
            second = (await connection.execute(query)).scalar_one()
    finally:
        await engine.dispose()
    assert second != first


async def test_savepoints_are_transactional(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    async with session.begin():
        await repo.create({"sku": "outer", "name": "Outer"})
        nested = await session.begin_nested()
        await repo.create({"sku": "inner", "name": "Inner"})
        await nested.rollback()
    assert [p.sku for p in await repo.list()] == ["outer"]


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
@pytest.mark.parametrize("setting", ["recycle-0", "wait-timeout-1"])
async def test_mysql_extreme_recycle_settings_still_serve(
    db_url: URL, engine: AsyncEngine, setting: str
) -> None:
    if setting == "recycle-0":
        factory = EngineFactory(db_url, pool=PoolConfig(recycle=0, pre_ping=False))
    else:
        url = db_url.update_query_dict({"init_command": "SET SESSION wait_timeout=1"})
        factory = EngineFactory(url, pool=PoolConfig(pre_ping=False))
    engine = factory.create_async_engine()
    try:
        for _ in range(3):
            async with factory.create_sessionmaker(engine)() as session:
                assert await ProductRepository(session).list() == []
    finally:
        await engine.dispose()


_SLOW_QUERY = {
    "postgresql": "SELECT pg_sleep(5)",
    "mysql": "SELECT SLEEP(5)",
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000000) "
        "SELECT count(*) FROM n"
    ),
}


async def test_data_survives_a_cancelled_session(
    sessions: async_sessionmaker[AsyncSession], db_url: URL
) -> None:
    async with sessions.begin() as session:
        await ProductRepository(session).create({"sku": "kept", "name": "Kept"})

    async def slow() -> None:
        async with sessions() as session:
            await session.execute(text(_SLOW_QUERY[db_url.get_backend_name()]))

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slow(), timeout=0.3)
    # the connection may have been discarded; the database (in memory too) is not
    async with sessions.begin() as session:
        repo = ProductRepository(session)
        assert [p.sku for p in await repo.list()] == ["kept"]
        await repo.create({"sku": "after", "name": "After"})
    async with sessions() as session:
        assert await _product_count(session) == 2


@pytest.mark.parametrize("backend", ["sqlite-memory"], indirect=True)
async def test_memory_database_survives_an_invalidated_connection(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        await ProductRepository(session).create({"sku": "kept", "name": "Kept"})
    async with engine.connect() as connection:
        await connection.invalidate()  # the pool's one connection is closed for good
    async with sessions() as session:
        assert [p.sku for p in await ProductRepository(session).list()] == ["kept"]


@pytest.mark.parametrize("backend", ["sqlite-memory"], indirect=True)
async def test_each_memory_engine_has_its_own_database(factory: EngineFactory) -> None:
    first, second = factory.create_async_engine(), factory.create_async_engine()
    try:
        async with first.begin() as connection:
            await connection.execute(text("CREATE TABLE only_first (x INTEGER)"))
        async with second.connect() as connection:
            tables = await connection.execute(text("SELECT name FROM sqlite_master"))
            assert "only_first" not in {row[0] for row in tables}
    finally:
        await first.dispose()
        await second.dispose()


async def _product_count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Product))).scalar_one()
