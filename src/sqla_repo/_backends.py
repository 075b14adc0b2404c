"""What differs per backend, as data.

One frozen :class:`Backend` row per database family: its async drivers, how the
pool is shaped for it, what runs on every new connection, and how its error
codes map onto :mod:`sqla_repo._errors`. Adding a backend is adding a row.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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

ErrorCode = str | int
Details = tuple[str | None, tuple[str, ...]]

# MySQL/MariaDB close connections idle longer than wait_timeout (28800 s by
# default); recycling well below it avoids "server has gone away" (2006/2013).
MYSQL_RECYCLE_CAP = 3600
_CONNECTED_AT = "sqla_repo.connected_at"
_RECYCLE_LIMIT = "sqla_repo.recycle_limit"


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """The validated pool numbers a backend receives (a plain mirror of ``PoolConfig``)."""

    size: int
    max_overflow: int
    timeout: float
    recycle: int
    pre_ping: bool


@dataclass(frozen=True, slots=True)
class Backend:
    """Everything sqla_repo knows about one database family."""

    name: str
    """SQLAlchemy's backend name, as in ``URL.get_backend_name()``."""
    drivers: Mapping[str, str]
    """Async driver name -> the extra that installs it."""
    engine_options: Callable[[URL, PoolSettings], dict[str, Any]]
    """Keyword arguments for ``create_async_engine`` (pool class and sizes)."""
    install_hooks: Callable[[Engine, URL, PoolSettings], None]
    """Adds the connection set-up events to a freshly created engine."""
    error_code: Callable[[BaseException], ErrorCode | None]
    error_classes: Mapping[ErrorCode, type[RepositoryError]]
    error_details: Callable[[BaseException, type[RepositoryError]], Details]
    aliases: tuple[str, ...] = field(default=())
    prepare_url: Callable[[URL], URL] = field(default=lambda url: url)

    def classify(self, orig: BaseException) -> type[RepositoryError] | None:
        """The error class for a driver exception, read from its code; ``None`` if unknown."""
        code = self.error_code(orig)
        if code is None:
            return None
        found = self.error_classes.get(code)
        if found is None and isinstance(code, str):
            found = self.error_classes.get(code[:2])  # SQLSTATE class, e.g. "08"
        if found is None and isinstance(code, int) and self.name == "sqlite":
            found = self.error_classes.get(code & 0xFF)  # primary result code
        return found


# --- shared pieces ---------------------------------------------------------


def _queue_pool_options(url: URL, settings: PoolSettings) -> dict[str, Any]:
    return {
        "poolclass": pool.AsyncAdaptedQueuePool,
        "pool_size": settings.size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.timeout,
        "pool_recycle": settings.recycle,
        "pool_pre_ping": settings.pre_ping,
    }


def _no_hooks(engine: Engine, url: URL, settings: PoolSettings) -> None:
    return None


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


POSTGRESQL = Backend(
    name="postgresql",
    drivers={"asyncpg": "postgres", "psycopg": "postgres"},
    engine_options=_queue_pool_options,
    install_hooks=_no_hooks,
    error_code=_pg_code,
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


def _mysql_pool_options(url: URL, settings: PoolSettings) -> dict[str, Any]:
    options = _queue_pool_options(url, settings)
    recycle = settings.recycle
    options["pool_recycle"] = MYSQL_RECYCLE_CAP if recycle < 0 else min(recycle, MYSQL_RECYCLE_CAP)
    return options


def _mysql_hooks(engine: Engine, url: URL, settings: PoolSettings) -> None:
    recycle = _mysql_pool_options(url, settings)["pool_recycle"]

    # pool_recycle is fixed when the engine is built, but a server may close idle
    # connections sooner than the cap: read its wait_timeout on each new
    # connection and retire the connection before the server would.
    @event.listens_for(engine, "connect")
    def _read_wait_timeout(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT @@SESSION.wait_timeout")
            row = cursor.fetchone()
        finally:
            cursor.close()
        wait_timeout = int(row[0]) if row else 0
        limit = float(recycle)
        if wait_timeout > 0:
            margin = max(1, min(60, wait_timeout // 10))
            limit = min(limit, float(wait_timeout - margin))
        record.info[_CONNECTED_AT] = time.monotonic()
        record.info[_RECYCLE_LIMIT] = limit

    @event.listens_for(engine, "checkout")
    def _retire_old(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        connected_at = record.info.get(_CONNECTED_AT)
        limit = record.info.get(_RECYCLE_LIMIT)
        if (
            connected_at is not None
            and limit is not None
            and time.monotonic() - connected_at >= limit
        ):
            # The pool discards this connection and retries with a new one.
            raise exc.DisconnectionError("connection is older than the server's wait_timeout")


MYSQL = Backend(
    name="mysql",
    aliases=("mariadb",),
    drivers={"aiomysql": "mysql"},
    engine_options=_mysql_pool_options,
    install_hooks=_mysql_hooks,
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


def _sqlite_pool_options(url: URL, settings: PoolSettings) -> dict[str, Any]:
    if not is_memory_database(url):
        return _queue_pool_options(url, settings)
    # An in-memory database lives and dies with its one connection: a pool of
    # exactly one connection, never recycled, makes it one database for every
    # session and makes concurrent sessions wait their turn instead of
    # interleaving their transactions on a shared connection.
    return {
        "poolclass": pool.AsyncAdaptedQueuePool,
        "pool_size": 1,
        "max_overflow": 0,
        "pool_timeout": settings.timeout,
        "pool_recycle": -1,
        "pool_pre_ping": False,
    }


def _sqlite_hooks(engine: Engine, url: URL, settings: PoolSettings) -> None:
    file_database = not is_memory_database(url)

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


SQLITE = Backend(
    name="sqlite",
    drivers={"aiosqlite": "sqlite"},
    engine_options=_sqlite_pool_options,
    install_hooks=_sqlite_hooks,
    error_code=_sqlite_code,
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
