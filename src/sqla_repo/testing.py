"""pytest plugin: a database, its tables and a rolled-back session for each test.

Registered as the ``sqla_repo`` entry point of ``pytest11``, so installing sqla-repo with
pytest enables it (``-p no:sqla_repo`` disables it). It loads with pytest alone; the async
fixture ``sqla_session`` needs pytest-asyncio (strict or auto mode, any event-loop scope).

The URL comes from ``--sqla-url URL``, else the ``SQLA_REPO_TEST_URL`` environment variable,
else ``sqlite+aiosqlite:///:memory:``. ``DATABASE_URL`` is never read: the plugin drops tables.

Fixtures:

- ``sqla_url`` (session): the URL in use, a ``str``.
- ``sqla_metadata`` (session): ``sqla_repo.Base.metadata``. Override it in ``conftest.py``
  with a session-scoped fixture returning your models' ``MetaData``.
- ``sqla_engine`` (session): an ``AsyncEngine`` from ``EngineFactory(sqla_url)``. The
  metadata's tables are created on first use (tables of the same names left by a killed run
  are dropped first) and dropped when the run ends. Data written through it directly is not
  rolled back.
- ``sqla_session`` (function): an ``AsyncSession`` on a connection inside a transaction that
  is rolled back when the test ends, joined in savepoint mode
  (``join_transaction_mode="create_savepoint"``): the code under test may ``commit()`` (its
  data stays visible until the test ends) and ``rollback()`` (back to its last commit only).

No connection outlives a test, so one engine serves tests that run in different event
loops: a connection of a server or SQLite-file database is closed when it is returned.
An in-memory SQLite database lives on the engine's one pooled connection (SQLite drivers are
bound to no event loop) for the whole run; there a test holding ``sqla_session`` has that
connection, and another connection of the same test waits for it.
"""

from __future__ import annotations

import asyncio
import os
import types
from collections.abc import AsyncIterator, Coroutine, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import NullPool

from ._connections import is_memory_database
from ._engine import EngineFactory
from ._models import Base

_URL_VARIABLE = "SQLA_REPO_TEST_URL"
_DEFAULT_URL = "sqlite+aiosqlite:///:memory:"
_ASYNCIO_PLUGIN_MODULE = "pytest_asyncio.plugin"
_T = TypeVar("_T")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--sqla-url``."""
    group = parser.getgroup("sqla_repo", "sqla_repo test database")
    group.addoption(
        "--sqla-url",
        dest="sqla_url",
        metavar="URL",
        default=None,
        help=(
            f"database URL of the sqla_engine and sqla_session fixtures (default: "
            f"${_URL_VARIABLE}, else {_DEFAULT_URL}); its tables are created and dropped"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register ``sqla_session``: the async fixture where pytest-asyncio is active, else one
    that fails with what to install."""
    asyncio_active = any(
        getattr(plugin, "__name__", None) == _ASYNCIO_PLUGIN_MODULE
        for plugin in config.pluginmanager.get_plugins()
    )
    plugin = _asyncio_fixtures() if asyncio_active else _missing_asyncio_fixtures()
    config.pluginmanager.register(plugin, f"{__name__}.session")


@pytest.fixture(scope="session")
def sqla_url(pytestconfig: pytest.Config) -> str:
    """The database URL in use: ``--sqla-url``, else ``$SQLA_REPO_TEST_URL``, else in-memory
    SQLite. Never ``DATABASE_URL``."""
    option: str | None = pytestconfig.getoption("sqla_url")
    return option or os.environ.get(_URL_VARIABLE) or _DEFAULT_URL


@pytest.fixture(scope="session")
def sqla_metadata() -> MetaData:
    """The ``MetaData`` whose tables ``sqla_engine`` creates: ``sqla_repo.Base.metadata``.

    Override it in ``conftest.py`` with a session-scoped fixture returning your models'
    ``MetaData``.
    """
    return Base.metadata


@pytest.fixture(scope="session")
def sqla_engine(sqla_url: str, sqla_metadata: MetaData) -> Iterator[AsyncEngine]:
    """An ``AsyncEngine`` from ``EngineFactory(sqla_url)`` over the metadata's tables.

    The tables are created when a test first asks for the engine, after dropping those the
    database already has (a killed run's), and dropped when the run ends. Both run on an
    event loop of their own, so the engine suits tests in any event loop.
    """
    factory = EngineFactory(sqla_url)
    engine = factory.create_async_engine()
    if not is_memory_database(factory.url):
        _close_on_return(engine)
    try:
        _run(_create_tables(engine, sqla_metadata))
        try:
            yield engine
        finally:
            _run(_drop_tables(engine, sqla_metadata))
    finally:
        _run(engine.dispose())


async def _sqla_session(sqla_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """An ``AsyncSession`` inside a transaction rolled back when the test ends.

    The session joins the transaction in savepoint mode: ``commit()`` releases a savepoint
    (the data stays visible to the test), ``rollback()`` returns to the last commit. It is
    made as ``EngineFactory.create_sessionmaker`` makes sessions (``expire_on_commit=False``).
    """
    sessionmaker = EngineFactory(sqla_engine.url).create_sessionmaker(sqla_engine)
    async with sqla_engine.connect() as connection:
        transaction = await connection.begin()
        session = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            try:
                await session.close()
            finally:
                if transaction.is_active:
                    await transaction.rollback()


def _asyncio_fixtures() -> types.ModuleType:
    import pytest_asyncio

    def test_loop_scope(request: pytest.FixtureRequest) -> str | None:
        item = request.node
        if not isinstance(item, pytest.Function) or not pytest_asyncio.is_async_test(item):
            return None
        marker = item.get_closest_marker("asyncio")
        kwargs = marker.kwargs if marker is not None else {}
        scope = kwargs.get("loop_scope") or kwargs.get("scope")
        return str(scope or item.config.getini("asyncio_default_test_loop_scope") or "function")

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(
        fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        if fixturedef.func is _sqla_session:
            # The session's connection belongs to the loop it was opened in: open it in the
            # test's loop, whatever loop scope async fixtures get by default. pytest-asyncio
            # reads the loop scope from the attribute its ``fixture(loop_scope=...)`` sets.
            vars(_sqla_session)["_loop_scope"] = test_loop_scope(request)
        return (yield)

    plugin = types.ModuleType(f"{__name__}.session")
    vars(plugin).update(
        sqla_session=pytest_asyncio.fixture(_sqla_session, name="sqla_session"),
        pytest_fixture_setup=pytest_fixture_setup,
    )
    return plugin


def _missing_asyncio_fixtures() -> types.ModuleType:
    @pytest.fixture(name="sqla_session")
    def sqla_session() -> None:
        pytest.fail(
            "the sqla_session fixture needs the pytest-asyncio plugin: "
            "pip install 'sqla-repo[testing]' (and do not disable it with -p no:asyncio)",
            pytrace=False,
        )

    plugin = types.ModuleType(f"{__name__}.session")
    vars(plugin).update(sqla_session=sqla_session)
    return plugin


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` to completion on a new event loop in a thread of its own.

    The calling thread may have an event loop of its own (set, even running) that must not
    be replaced or closed.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqla_repo.testing") as executor:
        return executor.submit(asyncio.run, coroutine).result()


async def _create_tables(engine: AsyncEngine, metadata: MetaData) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)


async def _drop_tables(engine: AsyncEngine, metadata: MetaData) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)


def _close_on_return(engine: AsyncEngine) -> None:
    """Replace the engine's pool with one that closes each connection when it is returned.

    A pooled connection of asyncpg or aiomysql belongs to the event loop that opened it and
    fails in the next test's loop. The new pool keeps the engine's connection set-up: its
    creator, dialect and the listeners the factory installed.
    """
    sync_engine = engine.sync_engine
    pooled = sync_engine.pool
    sync_engine.pool = NullPool(
        pooled._creator,
        recycle=pooled._recycle,
        echo=pooled.echo,
        logging_name=pooled._orig_logging_name,
        reset_on_return=pooled._reset_on_return,
        pre_ping=False,  # a connection is always new
        _dispatch=pooled.dispatch,
        dialect=pooled._dialect,
    )
