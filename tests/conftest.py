"""Backend fixtures: every engine and repository test runs on four backends.

- ``sqlite-file``: a SQLite file in the test's temporary directory;
- ``sqlite-memory``: an in-memory SQLite database;
- ``postgresql``: ``SQLA_REPO_TEST_POSTGRES_URL`` (default: the local server, asyncpg);
- ``mysql``: ``SQLA_REPO_TEST_MYSQL_URL`` (default: the local MariaDB, aiomysql).

Each run works in databases of its own on the servers (``sqla_repo_test_<pid>_<n>``),
created at the start and dropped at the end; databases left by a run that was killed
(its process is gone) are dropped first. Locally an unreachable server is a visible
skip; with ``CI=true`` it is a failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from sqla_repo import Base, EngineFactory, PoolConfig
from tests.models import Shop

POSTGRES_URL = os.environ.get(
    "SQLA_REPO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("SQLA_REPO_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

BACKENDS = ("sqlite-file", "sqlite-memory", "postgresql", "mysql")
SERVER_URLS = {"postgresql": POSTGRES_URL, "mysql": MYSQL_URL}
METADATAS = (Base.metadata, Shop.metadata)
_RUN_DATABASE = re.compile(r"^sqla_repo_test_(\d+)_[0-9a-f]+$")


@dataclass(frozen=True)
class ServerDatabase:
    """A database created for this run on a server, or why there is none."""

    url: URL | None
    problem: str | None = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _admin(url: URL, statements: list[str]) -> list[str]:
    """Run statements in autocommit mode; return the server's database names first."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            if url.get_backend_name() == "postgresql":
                rows = await connection.execute(text("SELECT datname FROM pg_database"))
            else:
                rows = await connection.execute(text("SHOW DATABASES"))
            names = [row[0] for row in rows]
            for statement in statements:
                await connection.execute(text(statement))
            return names
    finally:
        await engine.dispose()


def _drop_statement(backend: str, name: str) -> str:
    if backend == "postgresql":
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    return f"DROP DATABASE IF EXISTS `{name}`"


def _create_run_database(admin_url: str) -> ServerDatabase:
    url = make_url(admin_url)
    backend = url.get_backend_name()
    name = f"sqla_repo_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        existing = asyncio.run(_admin(url, []))
        leftovers = [
            old
            for old in existing
            if (match := _RUN_DATABASE.match(old)) and not _pid_alive(int(match.group(1)))
        ]
        create = (
            f'CREATE DATABASE "{name}"' if backend == "postgresql" else f"CREATE DATABASE `{name}`"
        )
        asyncio.run(_admin(url, [*(_drop_statement(backend, old) for old in leftovers), create]))
    except Exception as err:  # unreachable server, bad credentials...
        return ServerDatabase(
            None, f"{backend} at {url.host}:{url.port}: {type(err).__name__}: {err}"
        )
    return ServerDatabase(url.set(database=name))


@pytest.fixture(scope="session")
def server_databases() -> Iterator[dict[str, ServerDatabase]]:
    databases = {backend: _create_run_database(url) for backend, url in SERVER_URLS.items()}
    yield databases
    for backend, database in databases.items():
        if database.url is not None and database.url.database is not None:
            admin = make_url(SERVER_URLS[backend])
            asyncio.run(_admin(admin, [_drop_statement(backend, database.url.database)]))


def server_url(server_databases: dict[str, ServerDatabase], backend: str) -> URL:
    """The URL of this run's database on a server; skip (or fail in CI) when unreachable."""
    database = server_databases[backend]
    if database.url is None:
        message = f"{backend} server unreachable: {database.problem}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return database.url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend's id: ``sqlite-file``, ``sqlite-memory``, ``postgresql`` or ``mysql``."""
    return str(request.param)


@pytest.fixture
def driver() -> str | None:
    """The backend+driver replacing the URL's, where a test is parametrized with one
    (``tests/drivers.py``)."""
    return None


@pytest.fixture
def db_url(
    backend: str,
    tmp_path: Path,
    server_databases: dict[str, ServerDatabase],
    driver: str | None,
) -> URL:
    """A URL for an empty database of the test's backend."""
    if backend == "sqlite-file":
        return make_url(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    if backend == "sqlite-memory":
        return make_url("sqlite+aiosqlite:///:memory:")
    url = server_url(server_databases, backend)
    return url.set(drivername=driver) if driver is not None else url


@pytest.fixture
def factory(db_url: URL) -> EngineFactory:
    return EngineFactory(db_url, pool=PoolConfig(size=5, max_overflow=10, timeout=10))


@pytest.fixture
async def engine(factory: EngineFactory) -> AsyncIterator[AsyncEngine]:
    """An engine over a database holding the test models' tables, dropped afterwards."""
    engine = factory.create_async_engine()
    try:
        async with engine.begin() as connection:
            for metadata in reversed(METADATAS):
                await connection.run_sync(metadata.drop_all)
            for metadata in METADATAS:
                await connection.run_sync(metadata.create_all)
        yield engine
        async with engine.begin() as connection:
            for metadata in reversed(METADATAS):
                await connection.run_sync(metadata.drop_all)
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(factory: EngineFactory, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return factory.create_sessionmaker(engine)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the test runs.

    SQLite's explicit ``BEGIN`` (the other backends begin implicitly) is left out,
    so counts compare across backends.
    """
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement != "BEGIN":
            sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


# The replicated topologies, one of each per run, shared by every test file that asks for
# them (imported last: they use this module's helpers).
from tests.topology_mariadb import (  # noqa: E402, F401
    galera,
    maria_workspace,
    mariadb_replication,
)
from tests.topology_pg import pg_failover_pair, pg_topology, pgbouncer  # noqa: E402, F401
