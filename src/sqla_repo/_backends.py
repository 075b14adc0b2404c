"""What differs per backend, as data.

One frozen :class:`Backend` row per database family: its async drivers, how the
pool is shaped for it, what runs on every new connection, and how its error
codes map onto :mod:`sqla_repo._errors`. Adding a backend is adding a row.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, exc, pool
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry

from ._errors import (
    CheckViolationError,
    ConflictError,
    DatabaseUnavailableError,
    ForeignKeyViolationError,
    InvalidFieldError,
    NotNullViolationError,
    RepositoryError,
    SerializationError,
)

if TYPE_CHECKING:
    from ._engine import PoolConfig

ErrorCode = str | int
Details = tuple[str | None, tuple[str, ...]]

# MySQL/MariaDB close connections idle longer than wait_timeout (28800 s by
# default); recycling well below it avoids "server has gone away" (2006/2013).
MYSQL_RECYCLE_CAP = 3600
_RETIRE_AT = "sqla_repo.retire_at"


@dataclass(frozen=True, slots=True)
class EngineSetup:
    """How one engine is built for a backend: its options, and what to add once it exists."""

    options: dict[str, Any]
    """Keyword arguments for ``create_async_engine`` (pool class and sizes...)."""
    install: Callable[[Engine], None] = field(default=lambda engine: None)
    """Adds the connection set-up events to the freshly created (sync) engine."""


@dataclass(frozen=True, slots=True)
class Backend:
    """Everything sqla_repo knows about one database family."""

    name: str
    """SQLAlchemy's backend name, as in ``URL.get_backend_name()``."""
    drivers: Mapping[str, str]
    """Async driver name -> the extra that installs it."""
    setup: Callable[[URL, PoolConfig], EngineSetup]
    """The engine options and connection set-up for a URL and pool settings."""
    error_code: Callable[[BaseException], ErrorCode | None]
    """The driver error's code: SQLSTATE, MySQL errno, SQLite extended result code."""
    error_classes: Mapping[ErrorCode, type[RepositoryError]]
    error_details: Callable[[BaseException, type[RepositoryError]], Details]
    """The constraint name and columns the backend reports for an integrity error."""
    code_family: Callable[[ErrorCode], ErrorCode | None] = field(default=lambda code: None)
    """A broader code to look up when the exact one is not in ``error_classes``."""
    aliases: tuple[str, ...] = field(default=())
    prepare_url: Callable[[URL], URL] = field(default=lambda url: url)

    def classify(self, orig: BaseException) -> type[RepositoryError] | None:
        """The error class for a driver exception, read from its code; ``None`` if unknown."""
        code = self.error_code(orig)
        if code is None:
            return None
        found = self.error_classes.get(code)
        if found is None and (family := self.code_family(code)) is not None:
            found = self.error_classes.get(family)
        return found


# --- shared pieces ---------------------------------------------------------


def _queue_pool_options(config: PoolConfig) -> dict[str, Any]:
    return {
        "poolclass": pool.AsyncAdaptedQueuePool,
        "pool_size": config.size,
        "max_overflow": config.max_overflow,
        "pool_timeout": config.timeout,
        "pool_recycle": config.recycle,
        "pool_pre_ping": config.pre_ping,
    }


def _queue_pool_setup(url: URL, config: PoolConfig) -> EngineSetup:
    return EngineSetup(_queue_pool_options(config))


# --- PostgreSQL ------------------------------------------------------------


def _pg_code(orig: BaseException) -> ErrorCode | None:
    code = getattr(orig, "sqlstate", None)
    return code if isinstance(code, str) else None


# The DETAIL of a unique violation, "Key (a, b)=(...) already exists.": the column
# list only (never the values), for constraints the model's metadata does not name.
_PG_KEY_COLUMNS = re.compile(r"^Key \(([\w, ]+)\)=")


def _pg_details(orig: BaseException, kind: type[RepositoryError]) -> Details:
    # asyncpg: SQLAlchemy's adapter error chains the asyncpg exception, which
    # carries the fields; psycopg: the error's ``diag``.
    for source in (orig.__cause__, orig, getattr(orig, "diag", None)):
        if source is None:
            continue
        constraint = getattr(source, "constraint_name", None)
        column = getattr(source, "column_name", None)
        if constraint is None and column is None:
            continue
        columns: tuple[str, ...] = (column,) if column else ()
        detail = getattr(source, "detail", None) or getattr(source, "message_detail", None)
        if (
            not columns
            and kind is ConflictError
            and isinstance(detail, str)
            and (match := _PG_KEY_COLUMNS.match(detail))
        ):
            columns = tuple(name.strip() for name in match.group(1).split(","))
        return constraint, columns
    return None, ()


def _sqlstate_class(code: ErrorCode) -> ErrorCode | None:
    return code[:2] if isinstance(code, str) else None  # e.g. "08": connection exception


POSTGRESQL = Backend(
    name="postgresql",
    drivers={"asyncpg": "postgres", "psycopg": "postgres"},
    setup=_queue_pool_setup,
    error_code=_pg_code,
    code_family=_sqlstate_class,
    error_classes={
        "23505": ConflictError,
        "23503": ForeignKeyViolationError,
        "23502": NotNullViolationError,
        "23514": CheckViolationError,
        "40001": SerializationError,  # serialization_failure
        "40P01": SerializationError,  # deadlock_detected
        "55P03": SerializationError,  # lock_not_available
        "22001": InvalidFieldError,  # string_data_right_truncation
        "22003": InvalidFieldError,  # numeric_value_out_of_range
        "22P02": InvalidFieldError,  # invalid_text_representation
        "08": DatabaseUnavailableError,  # connection_exception class
        "57P01": DatabaseUnavailableError,  # admin_shutdown
        "57P02": DatabaseUnavailableError,  # crash_shutdown
        "57P03": DatabaseUnavailableError,  # cannot_connect_now
    },
    error_details=_pg_details,
)


# --- MySQL / MariaDB -------------------------------------------------------


def _mysql_code(orig: BaseException) -> ErrorCode | None:
    code = orig.args[0] if orig.args else None
    return code if isinstance(code, int) else None


# The server names constraints only inside its message text. Only a duplicate-key
# message quotes a written value, and it puts the key name last: the key pattern is
# anchored at the end so a value can never pose as the name.
_MYSQL_KEY = re.compile(r"for key '(?:[^']*\.)?([^'.]+)'$")
_MYSQL_CONSTRAINT = re.compile(r"CONSTRAINT `([^`]+)`")
_MYSQL_FK_COLUMNS = re.compile(r"FOREIGN KEY \(([^)]*)\)")
_MYSQL_CHECK = re.compile(r"^Check constraint '([^']+)'")
_MYSQL_COLUMN = re.compile(r"^(?:Column|Field) '([^']+)'")


def _mysql_details(orig: BaseException, kind: type[RepositoryError]) -> Details:
    message = str(orig.args[1]) if len(orig.args) > 1 else ""
    if kind is ConflictError:
        key = _MYSQL_KEY.search(message)
        return (key.group(1) if key else None), ()
    if kind is NotNullViolationError:
        column = _MYSQL_COLUMN.search(message)
        return None, (column.group(1),) if column else ()
    if kind is ForeignKeyViolationError:
        constraint = _MYSQL_CONSTRAINT.search(message)
        fk_columns = _MYSQL_FK_COLUMNS.search(message)
        columns = tuple(c.strip(" `") for c in fk_columns.group(1).split(",")) if fk_columns else ()
        return (constraint.group(1) if constraint else None), columns
    if kind is CheckViolationError:
        # MariaDB 4025: "CONSTRAINT `name` failed ..."; MySQL 3819: "Check constraint 'name' ..."
        found = _MYSQL_CONSTRAINT.search(message) or _MYSQL_CHECK.search(message)
        return (found.group(1) if found else None), ()
    return None, ()


def _mysql_prepare_url(url: URL) -> URL:
    if "charset" in url.query:
        return url
    return url.update_query_dict({"charset": "utf8mb4"})


def _mysql_setup(url: URL, config: PoolConfig) -> EngineSetup:
    options = _queue_pool_options(config)
    recycle = MYSQL_RECYCLE_CAP if config.recycle < 0 else min(config.recycle, MYSQL_RECYCLE_CAP)
    options["pool_recycle"] = recycle

    def install(engine: Engine) -> None:
        # pool_recycle is fixed when the engine is built, but a server may close idle
        # connections sooner: read its wait_timeout on each new connection and retire
        # the connection at checkout before the server would close it.
        @event.listens_for(engine, "connect")
        def _read_wait_timeout(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT @@SESSION.wait_timeout")
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


MYSQL = Backend(
    name="mysql",
    aliases=("mariadb",),
    drivers={"aiomysql": "mysql"},
    setup=_mysql_setup,
    prepare_url=_mysql_prepare_url,
    error_code=_mysql_code,
    error_classes={
        1062: ConflictError,  # ER_DUP_ENTRY
        1586: ConflictError,  # ER_DUP_ENTRY_WITH_KEY_NAME
        1451: ForeignKeyViolationError,  # row is referenced
        1452: ForeignKeyViolationError,  # no parent row
        1216: ForeignKeyViolationError,
        1217: ForeignKeyViolationError,
        1048: NotNullViolationError,  # column cannot be null
        1364: NotNullViolationError,  # field has no default value
        3819: CheckViolationError,  # MySQL
        4025: CheckViolationError,  # MariaDB, raised as an OperationalError
        1213: SerializationError,  # deadlock
        1205: SerializationError,  # lock wait timeout
        1406: InvalidFieldError,  # data too long
        1264: InvalidFieldError,  # out of range
        1366: InvalidFieldError,  # incorrect value for column
        1927: DatabaseUnavailableError,  # MariaDB: connection killed
        2002: DatabaseUnavailableError,
        2003: DatabaseUnavailableError,
        2006: DatabaseUnavailableError,  # server has gone away
        2013: DatabaseUnavailableError,  # lost connection during query
        2055: DatabaseUnavailableError,
    },
    error_details=_mysql_details,
)


# --- SQLite ----------------------------------------------------------------


def is_memory_database(url: URL) -> bool:
    """Whether a SQLite URL names an in-memory database (every spelling SQLite accepts)."""
    database = url.database or ""
    return (
        database in ("", ":memory:") or ":memory:" in database or url.query.get("mode") == "memory"
    )


def _sqlite_code(orig: BaseException) -> ErrorCode | None:
    code = getattr(orig, "sqlite_errorcode", None)
    return code if isinstance(code, int) else None


_SQLITE_FAILED = re.compile(r"constraint failed: (.+)$")


def _sqlite_details(orig: BaseException, kind: type[RepositoryError]) -> Details:
    message = str(orig.args[0]) if orig.args else ""
    match = _SQLITE_FAILED.search(message)
    if match is None:
        return None, ()
    named = match.group(1)
    if kind is CheckViolationError:
        return named, ()
    # "table.column, table.column"
    return None, tuple(part.strip().rpartition(".")[2] for part in named.split(","))


class _MemoryDatabase:
    """A named in-memory database that outlives any one connection to it.

    SQLite drops a memory database with its last connection, so a pooled connection
    that is invalidated (a cancelled task, an error) would take every table with it.
    Connections go to a named shared-cache database instead, and one extra idle
    connection holds it open until the engine is disposed or collected.
    """

    def __init__(self) -> None:
        self.uri = f"file:sqla_repo_{uuid.uuid4().hex}?mode=memory&cache=shared"
        self._keeper: sqlite3.Connection | None = None

    async def connect(self) -> Any:
        import aiosqlite  # the driver is optional: imported only when connecting

        if self._keeper is None:
            self._keeper = sqlite3.connect(self.uri, uri=True, check_same_thread=False)
        return await aiosqlite.connect(self.uri, uri=True)

    def close(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.close()


def _sqlite_setup(url: URL, config: PoolConfig) -> EngineSetup:
    if not is_memory_database(url):
        return EngineSetup(_queue_pool_options(config), _sqlite_hooks(file_database=True))
    database = _MemoryDatabase()
    # One connection at a time: concurrent sessions wait their turn instead of
    # interleaving their transactions on a shared connection (which loses writes).
    options = {
        "poolclass": pool.AsyncAdaptedQueuePool,
        "pool_size": 1,
        "max_overflow": 0,
        "pool_timeout": config.timeout,
        "pool_recycle": -1,
        "pool_pre_ping": False,
        "async_creator": database.connect,
    }
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

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                connection.exec_driver_sql("BEGIN")

    return install


def _sqlite_primary_code(code: ErrorCode) -> ErrorCode | None:
    return code & 0xFF if isinstance(code, int) else None  # SQLITE_BUSY_SNAPSHOT -> SQLITE_BUSY


SQLITE = Backend(
    name="sqlite",
    drivers={"aiosqlite": "sqlite"},
    setup=_sqlite_setup,
    error_code=_sqlite_code,
    code_family=_sqlite_primary_code,
    error_classes={
        2067: ConflictError,  # SQLITE_CONSTRAINT_UNIQUE
        1555: ConflictError,  # SQLITE_CONSTRAINT_PRIMARYKEY
        787: ForeignKeyViolationError,  # SQLITE_CONSTRAINT_FOREIGNKEY
        1299: NotNullViolationError,  # SQLITE_CONSTRAINT_NOTNULL
        275: CheckViolationError,  # SQLITE_CONSTRAINT_CHECK
        5: SerializationError,  # SQLITE_BUSY (and its extended codes)
        6: SerializationError,  # SQLITE_LOCKED (and its extended codes)
    },
    error_details=_sqlite_details,
)


BACKENDS: tuple[Backend, ...] = (POSTGRESQL, MYSQL, SQLITE)

SUPPORTED_URLS: tuple[str, ...] = tuple(
    f"{backend.name}+{driver}" for backend in BACKENDS for driver in backend.drivers
)


def find_backend(name: str) -> Backend | None:
    """The row for a SQLAlchemy backend name (``"postgresql"``, ``"mariadb"``...)."""
    for backend in BACKENDS:
        if name == backend.name or name in backend.aliases:
            return backend
    return None
