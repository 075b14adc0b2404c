"""The [T] error contract: timeouts, failed transactions, unclassified and unreachable servers.

Each test asserts the exact class (``type(err) is ...``: a subclass would say something the
error is not) and what its message says. Where the PostgreSQL driver matters, the test runs
on asyncpg and psycopg both (``postgresql-asyncpg``, ``postgresql-psycopg``).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from sqla_repo import (
    DatabaseUnavailableError,
    EngineFactory,
    InvalidFieldError,
    RepositoryError,
    StatementTimeoutError,
)
from sqla_repo._backends import MYSQL, POSTGRESQL, SQLITE
from sqla_repo._translate import ErrorContext, translate, translate_errors
from tests.drivers import every_driver, server_drivers
from tests.leaks import chain, everything_shown
from tests.models import ProductRepository

SECRET = "s3cr3t-pw-T"
ROLLBACK = "await session.rollback()"


class _Statements(ProductRepository):
    """A repository subclass running statements of its own, under the repository's translation."""

    async def run(self, *statements: str) -> list[Any]:
        rows: list[Any] = []
        with self.translate_errors():
            for statement in statements:
                result = await self.session.execute(text(statement))
                rows = list(result) if statement.startswith("SELECT") else []
        return rows

    async def connection_id(self, backend: str) -> int:
        query = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
        ((found,),) = await self.run(query[backend])
        return int(found)


# --- statements cancelled for running too long ------------------------------------------------

_TOO_SLOW = {
    "postgresql": ("SET LOCAL statement_timeout = '50ms'", "SELECT pg_sleep(2)"),
    # MariaDB's max_statement_time; MySQL's max_execution_time (3024) is classified alike
    "mysql": ("SET STATEMENT max_statement_time=0.05 FOR SELECT SLEEP(2)",),
}
_TIMEOUT_CODE = {"postgresql": "57014", "mysql": "1969"}


@server_drivers
async def test_a_statement_past_the_server_time_limit_is_a_statement_timeout(
    backend: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        repo = _Statements(session)
        before = await repo.connection_id(backend)
        with pytest.raises(StatementTimeoutError) as raised:
            await repo.run(*_TOO_SLOW[backend])
        err = raised.value
        assert type(err) is StatementTimeoutError
        assert not isinstance(err, DatabaseUnavailableError)
        assert str(err).startswith("the statement was cancelled for running past its time limit: ")
        assert f"(code {_TIMEOUT_CODE[backend]})" in str(err)
        assert isinstance(err.__cause__, exc.DBAPIError)
        assert not err.__cause__.connection_invalidated
        # the connection stays: after a rollback (PostgreSQL aborted the transaction)
        # the same server session serves the next call
        await session.rollback()
        assert await repo.connection_id(backend) == before
        assert await repo.list() == []


def test_statement_timeout_codes_are_classified() -> None:
    assert POSTGRESQL.classify(_DriverError(sqlstate="57014")) is StatementTimeoutError
    assert MYSQL.classify(_DriverError(3024, "maximum statement execution time exceeded")) is (
        StatementTimeoutError
    )
    assert MYSQL.classify(_DriverError(1969, "max_statement_time exceeded")) is (
        StatementTimeoutError
    )


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_asyncpg_command_timeout_is_a_statement_timeout(
    db_url: URL, engine: AsyncEngine
) -> None:
    # EngineFactory takes no connect args yet: a plain engine, with the repository's
    # translation (a subclass method) and the bare boundary
    timed = create_async_engine(
        db_url.set(drivername="postgresql+asyncpg"), connect_args={"command_timeout": 0.1}
    )
    try:
        async with async_sessionmaker(timed)() as session:
            repo = _Statements(session)
            before = await repo.connection_id("postgresql")
            with pytest.raises(StatementTimeoutError) as raised:
                await repo.run("SELECT pg_sleep(2)")
            err = raised.value
            assert type(err) is StatementTimeoutError
            assert str(err) == (
                "the statement was cancelled for running past its time limit: "
                "the driver's own timeout expired"
            )
            assert type(err.__cause__) is TimeoutError  # asyncpg's, not wrapped by SQLAlchemy
            # SQLAlchemy discards a connection a timeout interrupted: the session must
            # roll back first, and then works on a new connection
            with pytest.raises(RepositoryError) as refused:
                await repo.list()
            assert type(refused.value) is RepositoryError
            assert ROLLBACK in str(refused.value)
            await session.rollback()
            assert await repo.connection_id("postgresql") != before
            with pytest.raises(StatementTimeoutError), translate_errors(session):
                await session.execute(text("SELECT pg_sleep(2)"))
            await session.rollback()
            assert await repo.list() == []
        assert timed.pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool's
    finally:
        await timed.dispose()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


async def test_a_connect_timeout_is_unavailable_not_a_statement_timeout(silent_port: int) -> None:
    url = f"postgresql+asyncpg://app:{SECRET}@127.0.0.1:{silent_port}/app"
    timed = create_async_engine(url, connect_args={"timeout": 0.2}, poolclass=NullPool)
    try:
        async with AsyncSession(timed) as session:
            with pytest.raises(DatabaseUnavailableError) as raised, translate_errors(session):
                await session.execute(text("SELECT 1"))
    finally:
        await timed.dispose()
    assert type(raised.value) is DatabaseUnavailableError
    assert f"127.0.0.1:{silent_port}" in str(raised.value)
    assert type(raised.value.__cause__) is TimeoutError
    assert SECRET not in everything_shown(raised.value)


# --- a transaction that already failed ---------------------------------------------------------


@every_driver
async def test_a_failed_flush_asks_for_a_rollback(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await ProductRepository(session).create({"id": 1, "sku": "SKU-1", "name": "Lamp"})
    async with sessions() as session:
        products = ProductRepository(session)
        with pytest.raises(RepositoryError):
            await products.create({"id": 2, "sku": "SKU-1", "name": "Twin"})
        attempts: list[Callable[[], Awaitable[object]]] = [
            lambda: products.get(1),
            lambda: products.list(),
            lambda: products.create({"id": 3, "sku": "SKU-3", "name": "Desk"}),
        ]
        for attempt in attempts:
            with pytest.raises(RepositoryError) as refused:
                await attempt()
            err = refused.value
            assert type(err) is RepositoryError
            assert str(err) == (
                "the session's transaction already failed (an earlier statement or flush "
                "raised); call `await session.rollback()` before using the session again"
            )
            assert isinstance(err.__cause__, exc.PendingRollbackError)
        # SQLAlchemy warns that the object the refused create added is discarded
        with pytest.warns(SAWarning, match="non-active transaction"):
            await session.rollback()
        assert [p.sku for p in await products.list()] == ["SKU-1"]
        await products.create({"id": 3, "sku": "SKU-3", "name": "Desk"})
        assert [p.sku for p in await products.list()] == ["SKU-1", "SKU-3"]


@every_driver
async def test_after_a_failed_statement_postgresql_asks_for_a_rollback(
    backend: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        repo = _Statements(session)
        await repo.create({"sku": "SKU-1", "name": "Lamp"})
        with pytest.raises(RepositoryError):
            await repo.run("SELECT * FROM missing_table")
        if backend == "postgresql":
            # the server refuses every statement until the transaction ends (25P02)
            with pytest.raises(RepositoryError) as refused:
                await repo.list()
            assert type(refused.value) is RepositoryError
            assert ROLLBACK in str(refused.value)
            assert str(refused.value).endswith("(code 25P02)")
            await session.rollback()
            assert await repo.list() == []
        else:
            # MariaDB and SQLite keep the transaction going after a failed statement
            assert [p.sku for p in await repo.list()] == ["SKU-1"]


# --- errors the tree has no class for ------------------------------------------------------


def _missing_table_words(backend: str, db_url: URL) -> str:
    if backend == "postgresql":
        return 'relation "missing_table" does not exist (code 42P01)'
    if backend == "mysql":
        return f"Table '{db_url.database}.missing_table' doesn't exist (code 1146)"
    return "no such table: missing_table (code 1)"


@every_driver
async def test_a_missing_table_is_a_repository_error_in_the_server_words(
    backend: str, db_url: URL, session: AsyncSession
) -> None:
    with pytest.raises(RepositoryError) as raised:
        await _Statements(session).run("SELECT * FROM missing_table")
    assert type(raised.value) is RepositoryError
    assert str(raised.value) == f"database error: {_missing_table_words(backend, db_url)}"
    assert isinstance(raised.value.__cause__, exc.DBAPIError)


async def _repo_error_on_connect(url: URL | str) -> RepositoryError:
    """What a repository call raises when connecting to ``url`` fails (through the factory)."""
    factory = EngineFactory(url)
    engine = factory.create_async_engine()
    try:
        async with factory.create_sessionmaker(engine)() as session:
            with pytest.raises(RepositoryError) as raised:
                await ProductRepository(session).list()
            return raised.value
    finally:
        await engine.dispose()


@server_drivers
async def test_an_unknown_database_is_a_repository_error_in_the_server_words(
    backend: str, db_url: URL
) -> None:
    err = await _repo_error_on_connect(db_url.set(database="sqla_repo_no_such_db"))
    assert type(err) is RepositoryError
    if backend == "mysql":
        assert str(err) == "database error: Unknown database 'sqla_repo_no_such_db' (code 1049)"
    elif db_url.get_driver_name() == "asyncpg":
        assert str(err) == (
            'database error: database "sqla_repo_no_such_db" does not exist (code 3D000)'
        )
    else:
        # libpq gives no SQLSTATE for a failed connection: the server's words it quotes
        assert str(err).startswith("database error: connection failed: ")
        assert str(err).endswith('FATAL:  database "sqla_repo_no_such_db" does not exist')


async def test_an_unopenable_sqlite_file_is_a_repository_error(tmp_path: Path) -> None:
    err = await _repo_error_on_connect(f"sqlite+aiosqlite:///{tmp_path / 'no' / 'dir.db'}")
    # aiosqlite stops its worker thread after a failed connect without waiting for it:
    # let the thread finish while the event loop still runs
    for _ in range(200):
        if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            break
        await asyncio.sleep(0.01)
    assert type(err) is RepositoryError
    assert str(err) == "database error: unable to open database file (code 14)"


@server_drivers
async def test_failed_authentication_is_a_repository_error_without_the_password(
    backend: str, db_url: URL
) -> None:
    err = await _repo_error_on_connect(db_url.set(username="sqla_repo_nobody", password=SECRET))
    assert type(err) is RepositoryError
    if backend == "mysql":
        assert re.fullmatch(
            r"database error: Access denied for user 'sqla_repo_nobody'@'[^']+'"
            r"( \(using password: YES\))? \(code (1045|1698)\)",
            str(err),
        )
    elif db_url.get_driver_name() == "asyncpg":
        assert str(err) == 'database error: role "sqla_repo_nobody" does not exist (code 28000)'
    else:
        assert str(err).endswith('FATAL:  role "sqla_repo_nobody" does not exist (code 28000)')
    assert SECRET not in everything_shown(err)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+asyncpg://u:{SECRET}@127.0.0.1:1/db",
        f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/db",
        f"mysql+aiomysql://u:{SECRET}@127.0.0.1:1/db",
    ],
    ids=["postgresql-asyncpg", "postgresql-psycopg", "mysql"],
)
async def test_a_refused_connection_is_unavailable_naming_host_and_port(url: str) -> None:
    err = await _repo_error_on_connect(url)
    assert type(err) is DatabaseUnavailableError
    assert str(err) == "database server 127.0.0.1:1 is unavailable (connection refused or lost)"
    assert SECRET not in everything_shown(err)
    # psycopg keeps the failed connection on its error, and its repr shows the password
    assert all(getattr(each, "pgconn", None) is None for each in chain(err))


# --- without a database -------------------------------------------------------------------


class _DriverError(Exception):
    """A driver exception of any shape: attributes are set from keywords."""

    def __init__(self, *args: object, **attributes: object) -> None:
        super().__init__(*args)
        for name, value in attributes.items():
            setattr(self, name, value)


def _translated(orig: BaseException, url: str) -> RepositoryError | None:
    err = exc.DBAPIError("SELECT 1", None, orig, hide_parameters=True)
    return translate(err, lambda: ErrorContext(make_url(url)))


def test_an_unclassified_error_keeps_the_server_words_without_values() -> None:
    orig = _DriverError('invalid input value for enum color: "leak-7f3a"', sqlstate="22P99")
    translated = _translated(orig, "postgresql+asyncpg://db/app")
    assert type(translated) is RepositoryError
    assert str(translated) == (
        'database error: invalid input value for enum color: "<hidden>" (code 22P99)'
    )
    orig = _DriverError(1292, "Truncated incorrect DOUBLE value: 'leak-7f3a'")
    translated = _translated(orig, "mariadb+aiomysql://db/app")
    assert str(translated) == (
        "database error: Truncated incorrect DOUBLE value: '<hidden>' (code 1292)"
    )


def test_an_error_without_a_message_is_named_by_its_class() -> None:
    translated = _translated(_DriverError(sqlstate="42501"), "postgresql+asyncpg://db/app")
    assert str(translated) == "database error: _DriverError (code 42501)"


def test_a_failed_psycopg_connection_is_unavailable_unless_the_server_answered() -> None:
    refused = _DriverError("connection failed: ... port 1 failed: Connection refused", pgconn=1)
    assert POSTGRESQL.error_code(refused) == "08001"
    assert POSTGRESQL.classify(refused) is DatabaseUnavailableError
    answered = _DriverError(
        'connection failed: ... failed: FATAL:  database "x" does not exist', pgconn=1
    )
    assert POSTGRESQL.error_code(answered) is None
    assert POSTGRESQL.classify(answered) is None


def test_asyncpg_own_value_check_is_an_invalid_field() -> None:
    adapter = _DriverError("invalid input for query argument $1: 'x' (not an int)")
    adapter.__cause__ = ValueError("invalid input for query argument $1: 'x' (not an int)")
    assert POSTGRESQL.classify(adapter) is InvalidFieldError


def test_failed_transaction_code_asks_for_a_rollback() -> None:
    translated = _translated(_DriverError(sqlstate="25P02"), "postgresql+psycopg://db/app")
    assert type(translated) is RepositoryError
    assert ROLLBACK in str(translated)
    assert SQLITE.failed_transaction_codes == MYSQL.failed_transaction_codes == frozenset()


def test_a_bare_os_timeout_is_unavailable() -> None:
    # a socket timing out carries an errno: the connection, not the statement
    translated = translate(
        TimeoutError(110, "Connection timed out"),
        lambda: ErrorContext(make_url("postgresql+asyncpg://db:5432/app")),
    )
    assert type(translated) is DatabaseUnavailableError
