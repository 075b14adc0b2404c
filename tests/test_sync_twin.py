"""connect_args and engine_options, and the synchronous twin ``EngineFactory.create_engine``."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from sqla_repo import EngineFactory, PoolConfig
from tests.drivers import ASYNCPG, PSYCOPG, every_driver
from tests.models import Product, Shop

SECRET = "s3cr3t-in-connect-args"
TWIN_DRIVERS = {"asyncpg": "psycopg", "psycopg": "psycopg", "aiomysql": "pymysql"}


@pytest.mark.parametrize(
    ("key", "instead"),
    [
        ("pool_size", "PoolConfig(size="),
        ("max_overflow", "PoolConfig(max_overflow="),
        ("pool_timeout", "PoolConfig(timeout="),
        ("pool_recycle", "PoolConfig(recycle="),
        ("pool_pre_ping", "PoolConfig(pre_ping="),
        ("poolclass", "pool=PoolConfig"),
        ("echo", "echo="),
        ("hide_parameters", "hide_parameters="),
        ("connect_args", "connect_args="),
    ],
)
def test_owned_engine_options_are_refused_by_name(key: str, instead: str) -> None:
    with pytest.raises(ValueError, match=key) as caught:
        EngineFactory("sqlite+aiosqlite://", engine_options={key: 1})
    assert instead in str(caught.value)


def test_options_must_be_mappings() -> None:
    with pytest.raises(TypeError, match="connect_args"):
        EngineFactory("sqlite+aiosqlite://", connect_args=[("timeout", 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="engine_options"):
        EngineFactory("sqlite+aiosqlite://", engine_options="isolation_level")  # type: ignore[arg-type]


def test_options_never_in_repr() -> None:
    factory = EngineFactory(
        "postgresql+asyncpg://app@db/app",
        connect_args={"password": SECRET},
        engine_options={"execution_options": {"token": SECRET}},
    )
    assert SECRET not in repr(factory)
    assert SECRET not in str(factory)


def test_given_options_are_copied() -> None:
    given: dict[str, Any] = {"isolation_level": "SERIALIZABLE"}
    factory = EngineFactory("sqlite+aiosqlite://", engine_options=given)
    given["poolclass"] = QueuePool  # a change afterwards cannot sneak an owned key in
    engine = factory.create_engine()
    try:
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(("backend", "driver"), [ASYNCPG, PSYCOPG], indirect=["backend"])
async def test_connect_args_reach_the_driver(db_url: URL, driver: str) -> None:
    settings_key = "server_settings" if driver.endswith("asyncpg") else "options"
    value: Any = (
        {"application_name": "sqla_repo_twin", "statement_timeout": "1234"}
        if settings_key == "server_settings"
        else "-c application_name=sqla_repo_twin -c statement_timeout=1234"
    )
    engine = EngineFactory(db_url, connect_args={settings_key: value}).create_async_engine()
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SHOW application_name"))).scalar_one() == (
                "sqla_repo_twin"
            )
            assert (await connection.execute(text("SHOW statement_timeout"))).scalar_one() == (
                "1234ms"
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_mysql_connect_args_reach_the_driver(db_url: URL) -> None:
    factory = EngineFactory(db_url, connect_args={"init_command": "SET @sqla_repo_probe = 42"})
    engine = factory.create_async_engine()
    twin = factory.create_engine()
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT @sqla_repo_probe"))).scalar_one() == 42
        with twin.connect() as connection:
            assert connection.execute(text("SELECT @sqla_repo_probe")).scalar_one() == 42
    finally:
        await engine.dispose()
        twin.dispose()


async def test_isolation_level_and_execution_options(db_url: URL) -> None:
    factory = EngineFactory(
        db_url,
        engine_options={
            "isolation_level": "SERIALIZABLE",
            "execution_options": {"sqla_repo_probe": 7},
        },
    )
    engine = factory.create_async_engine()
    twin = factory.create_engine()
    try:
        async with engine.connect() as connection:
            assert await connection.get_isolation_level() == "SERIALIZABLE"
        assert engine.sync_engine.get_execution_options()["sqla_repo_probe"] == 7
        with twin.connect() as connection:
            assert connection.get_isolation_level() == "SERIALIZABLE"
            assert connection.get_execution_options()["sqla_repo_probe"] == 7
    finally:
        await engine.dispose()
        twin.dispose()


@every_driver
async def test_twin_reaches_the_same_database(factory: EngineFactory, engine: AsyncEngine) -> None:
    twin = factory.create_engine()
    try:
        memory = factory.url.database in (None, "", ":memory:")
        if memory:  # the twin has a database of its own
            Shop.metadata.create_all(twin)
        assert isinstance(twin, sqlalchemy.Engine)
        async_driver = factory.url.get_driver_name()
        expected = TWIN_DRIVERS.get(async_driver, "pysqlite")
        assert twin.url.get_driver_name() == expected
        assert twin.url.get_backend_name() == factory.url.get_backend_name()
        with twin.begin() as connection:
            connection.execute(sqlalchemy.insert(Product).values(sku="twin-1", name="Twin"))
        if not memory:
            async with engine.connect() as connection:
                count = await connection.execute(
                    text("SELECT count(*) FROM products WHERE sku = 'twin-1'")
                )
                assert count.scalar_one() == 1
    finally:
        twin.dispose()


async def test_twin_has_the_same_pool_and_set_up(db_url: URL, backend: str) -> None:
    config = PoolConfig(size=3, max_overflow=2, timeout=4.5, recycle=-1, pre_ping=True)
    factory = EngineFactory(db_url, pool=config)
    engine = factory.create_async_engine()
    twin = factory.create_engine()
    try:
        pool, twin_pool = engine.sync_engine.pool, twin.pool
        assert isinstance(twin_pool, QueuePool)
        assert isinstance(pool, QueuePool)
        assert twin_pool.size() == pool.size()
        assert twin_pool._max_overflow == pool._max_overflow
        assert twin_pool._timeout == pool._timeout
        assert twin_pool._recycle == pool._recycle
        assert twin_pool._pre_ping == pool._pre_ping
        if backend == "sqlite-memory":
            assert twin_pool.size() == 1
        if backend == "mysql":
            assert twin_pool._recycle == 3600
        with twin.connect() as connection:
            if backend.startswith("sqlite"):
                assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            if backend == "mysql":
                charset = connection.execute(text("SELECT @@character_set_client")).scalar_one()
                assert charset == "utf8mb4"
    finally:
        await engine.dispose()
        twin.dispose()


@pytest.mark.parametrize("backend", ["sqlite-file", "sqlite-memory"], indirect=True)
def test_twin_sqlite_transactions_are_real(db_url: URL) -> None:
    twin = EngineFactory(db_url).create_engine()
    try:
        with twin.begin() as connection:
            connection.execute(text("CREATE TABLE twin_probe (id INTEGER PRIMARY KEY)"))
        with twin.connect() as connection:
            transaction = connection.begin()
            connection.execute(text("INSERT INTO twin_probe (id) VALUES (1)"))
            savepoint = connection.begin_nested()
            connection.execute(text("INSERT INTO twin_probe (id) VALUES (2)"))
            savepoint.rollback()
            transaction.rollback()
        with twin.connect() as connection:  # the rollback reached the database (BEGIN is real)
            assert connection.execute(text("SELECT count(*) FROM twin_probe")).scalar_one() == 0
    finally:
        twin.dispose()


@pytest.mark.parametrize("backend", ["sqlite-memory"], indirect=True)
async def test_memory_twin_has_its_own_database_shared_by_its_connections(db_url: URL) -> None:
    factory = EngineFactory(db_url, pool=PoolConfig(timeout=5))
    engine = factory.create_async_engine()
    twin = factory.create_engine()
    try:
        with twin.begin() as connection:
            connection.execute(text("CREATE TABLE twin_only (id INTEGER PRIMARY KEY)"))
        with twin.connect() as connection:
            connection.invalidate()  # the next connection is a new one
        with twin.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM twin_only")).scalar_one() == 0
        async with engine.connect() as connection:
            tables = await connection.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'twin_only'")
            )
            assert tables.scalar_one() == 0
    finally:
        await engine.dispose()
        twin.dispose()
