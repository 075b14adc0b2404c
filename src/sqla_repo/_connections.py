"""How engines are built per backend: pool options and what runs on each new connection.

The rows of :mod:`sqla_repo._backends` point here for their ``setup``; nothing in
this module knows about repositories or errors.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, exc, pool
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry

from ._upsert import FOUND_FLAG

if TYPE_CHECKING:
    from ._engine import PoolConfig

# MySQL/MariaDB close connections idle longer than wait_timeout (28800 s by
# default); recycling well below it avoids "server has gone away" (2006/2013).
MYSQL_RECYCLE_CAP = 3600
_RETIRE_AT = "sqla_repo.retire_at"


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """What the factory asks of a backend's set-up: pool, driver arguments, sync or async."""

    pool: PoolConfig
    connect_args: Mapping[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the driver's connect call."""
    synchronous: bool = False
    """For ``create_engine`` (the sync twin) rather than ``create_async_engine``."""


@dataclass(frozen=True, slots=True)
class EngineSetup:
    """How one engine is built for a backend: its options, and what to add once it exists."""

    options: dict[str, Any]
    """Keyword arguments for ``create_async_engine``/``create_engine`` (pool class and sizes...)."""
    install: Callable[[Engine], None] = field(default=lambda engine: None)
    """Adds the connection set-up events to the freshly created (sync) engine."""


@dataclass(frozen=True, slots=True)
class TransactionSetup:
    """How a transaction starts with an isolation level or read-only mode."""

    execution_options: dict[str, Any]
    """For the session's connection, before the transaction begins."""
    statement: str | None = None
    """Sent first in the transaction, before any other statement."""


def postgresql_transaction(isolation_level: str | None, read_only: bool) -> TransactionSetup:
    # Both drivers put these into the BEGIN itself; the pool resets them on return.
    options: dict[str, Any] = {}
    if isolation_level is not None:
        # PostgreSQL runs READ UNCOMMITTED as READ COMMITTED anyway
        options["isolation_level"] = (
            "READ COMMITTED" if isolation_level == "READ UNCOMMITTED" else isolation_level
        )
    if read_only:
        options["postgresql_readonly"] = True
    return TransactionSetup(options)


def mysql_transaction(isolation_level: str | None, read_only: bool) -> TransactionSetup:
    # SET TRANSACTION (no SESSION) applies to the next transaction only: nothing to
    # reset afterwards, and one round trip for both settings.
    settings = [f"ISOLATION LEVEL {isolation_level}"] if isolation_level is not None else []
    if read_only:
        settings.append("READ ONLY")
    return TransactionSetup({}, f"SET TRANSACTION {', '.join(settings)}")


_QUERY_ONLY = "sqla_repo_read_only"
_IMMEDIATE = "sqla_repo_immediate"
SQLITE_WRITE_INTENT = MappingProxyType({_IMMEDIATE: True})
"""A transaction that will write begins ``BEGIN IMMEDIATE``: it takes the write lock at
once (waiting its turn behind another writer) instead of reading first and failing to
upgrade its snapshot when another transaction wrote in between."""


def sqlite_transaction(isolation_level: str | None, read_only: bool) -> TransactionSetup:
    # SQLite transactions are always SERIALIZABLE; read-only is PRAGMA query_only,
    # which the BEGIN hook below sets and clears per transaction.
    return TransactionSetup({_QUERY_ONLY: True} if read_only else {})


PGBOUNCER = "sqla_repo_pgbouncer"
"""Engine execution option: connections go through a transaction pooler (no COPY)."""


def _statement_name() -> str:
    return f"__sqla_repo_{uuid.uuid4().hex}__"


def postgresql_pgbouncer(
    url: URL, connect_args: Mapping[str, Any], options: dict[str, Any]
) -> tuple[URL, Mapping[str, Any], dict[str, Any]]:
    """Driver settings for PgBouncer's transaction pooling, where consecutive
    transactions of one client connection may run on different server connections, so
    no prepared statement may outlive its transaction: asyncpg caches none and names
    each one uniquely (its binary COPY, which prepares under a counter name, is not
    used); psycopg never prepares on the server."""
    if url.get_driver_name() == "asyncpg":
        added: dict[str, Any] = {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _statement_name,
        }
    else:
        added = {"prepare_threshold": None}
    execution = dict(options.get("execution_options") or {})
    execution[PGBOUNCER] = True
    return url, {**connect_args, **added}, {**options, "execution_options": execution}


def queue_pool_options(request: EngineRequest) -> dict[str, Any]:
    config = request.pool
    options: dict[str, Any] = {
        "poolclass": pool.QueuePool if request.synchronous else pool.AsyncAdaptedQueuePool,
        "pool_size": config.size,
        "max_overflow": config.max_overflow,
        "pool_timeout": config.timeout,
        "pool_recycle": config.recycle,
        "pool_pre_ping": config.pre_ping,
    }
    if request.connect_args:
        options["connect_args"] = dict(request.connect_args)
    return options


def queue_pool_setup(url: URL, request: EngineRequest) -> EngineSetup:
    return EngineSetup(queue_pool_options(request))


def mysql_prepare_url(url: URL) -> URL:
    if "charset" in url.query:
        return url
    return url.update_query_dict({"charset": "utf8mb4"})


def mysql_setup(url: URL, request: EngineRequest) -> EngineSetup:
    config = request.pool
    options = queue_pool_options(request)
    recycle = MYSQL_RECYCLE_CAP if config.recycle < 0 else min(config.recycle, MYSQL_RECYCLE_CAP)
    options["pool_recycle"] = recycle

    def install(engine: Engine) -> None:
        # pool_recycle is fixed when the engine is built, but a server may close idle
        # connections sooner: read its wait_timeout on each new connection and retire
        # the connection at checkout before the server would close it. The same
        # round trip declares the session variable get_or_create reads.
        @event.listens_for(engine, "connect")
        def _read_wait_timeout(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"SELECT @@SESSION.wait_timeout, ({FOUND_FLAG} := 0)")
                row = cursor.fetchone()
            finally:
                cursor.close()
            wait_timeout = float(row[0]) if row else 0.0
            if wait_timeout > 0:
                limit = wait_timeout - min(60.0, wait_timeout / 10)
                if limit < recycle:
                    record.info[_RETIRE_AT] = time.monotonic() + limit

        @event.listens_for(engine, "checkout")
        def _retire_old(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
            retire_at = record.info.get(_RETIRE_AT)
            if retire_at is not None and time.monotonic() >= retire_at:
                # The pool discards this connection and retries with a new one.
                raise exc.DisconnectionError("connection is older than the server's wait_timeout")

    return EngineSetup(options, install)


def is_memory_database(url: URL) -> bool:
    """Whether a SQLite URL names an in-memory database (every spelling SQLite accepts)."""
    database = url.database or ""
    return (
        database in ("", ":memory:") or ":memory:" in database or url.query.get("mode") == "memory"
    )


class _MemoryDatabase:
    """A named in-memory database that outlives any one connection to it.

    SQLite drops a memory database with its last connection, so a pooled connection
    that is invalidated (a cancelled task, an error) would take every table with it.
    Connections go to a named shared-cache database instead, and one extra idle
    connection holds it open until the engine is disposed or collected.
    """

    def __init__(self, connect_args: Mapping[str, Any]) -> None:
        self.uri = f"file:sqla_repo_{uuid.uuid4().hex}?mode=memory&cache=shared"
        self._connect_args = dict(connect_args)
        self._keeper: sqlite3.Connection | None = None

    def _keep(self) -> None:
        if self._keeper is None:
            self._keeper = sqlite3.connect(self.uri, uri=True, check_same_thread=False)

    async def connect(self) -> Any:
        import aiosqlite  # the driver is optional: imported only when connecting

        self._keep()
        return await aiosqlite.connect(self.uri, uri=True, **self._connect_args)

    def connect_sync(self) -> sqlite3.Connection:
        # pooled connections move between threads; the pool hands each to one at a time
        self._keep()
        arguments = {"check_same_thread": False, **self._connect_args}
        connection: sqlite3.Connection = sqlite3.connect(self.uri, uri=True, **arguments)
        return connection

    def close(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.close()


def sqlite_setup(url: URL, request: EngineRequest) -> EngineSetup:
    if not is_memory_database(url):
        return EngineSetup(queue_pool_options(request), _sqlite_hooks(file_database=True))
    # Each engine (the sync twin too) gets a database of its own, shared by its connections.
    database = _MemoryDatabase(request.connect_args)
    # One connection at a time: concurrent sessions wait their turn instead of
    # interleaving their transactions on a shared connection (which loses writes).
    options = queue_pool_options(request)
    options.pop("connect_args", None)  # the creator passes them
    options.update(pool_size=1, max_overflow=0, pool_recycle=-1, pool_pre_ping=False)
    if request.synchronous:
        options["creator"] = database.connect_sync
    else:
        options["async_creator"] = database.connect
    install_pragmas = _sqlite_hooks(file_database=False)

    def install(engine: Engine) -> None:
        install_pragmas(engine)
        event.listen(engine, "engine_disposed", lambda _: database.close())
        weakref.finalize(engine, database.close)

    return EngineSetup(options, install)


def _sqlite_hooks(*, file_database: bool) -> Callable[[Engine], None]:
    def install(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            # Turn off the sqlite3 module's own transaction handling so that
            # SQLAlchemy's BEGIN (below) starts every transaction: savepoints and
            # DDL then take part in the enclosing transaction.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA foreign_keys=ON")
                if file_database:
                    cursor.execute("PRAGMA journal_mode=WAL")
            finally:
                cursor.close()

        @event.listens_for(engine, "handle_error")
        def _close_cut_off_cursor(context: ExceptionContext) -> None:
            # A cancellation (not an Exception) cut a statement off: SQLAlchemy discards
            # the connection, but sqlite3 keeps a closed connection's transaction and
            # locks while a statement of it is unfinished. Close that statement now.
            if isinstance(context.original_exception, Exception):
                return
            cursor = getattr(context.execution_context, "cursor", None)
            if cursor is not None:
                with contextlib.suppress(Exception):
                    cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            options = connection.get_execution_options()
            if options.get("isolation_level") != "AUTOCOMMIT":
                connection.exec_driver_sql(
                    "BEGIN IMMEDIATE" if options.get(_IMMEDIATE) else "BEGIN"
                )
            # query_only stays set on the pooled connection until a transaction that
            # wants otherwise begins on it: a statement only when the mode changes
            read_only = bool(options.get(_QUERY_ONLY, False))
            info = connection.connection.info
            if info.get(_QUERY_ONLY, False) != read_only:
                connection.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")
                info[_QUERY_ONLY] = read_only

    return install
