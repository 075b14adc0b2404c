"""What differs per backend, as data.

One frozen :class:`Backend` row per database family: its async drivers, how the
pool is shaped for it, what runs on every new connection, and how its error
codes map onto :mod:`sqla_repo._errors`. Adding a backend is adding a row.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Double, Enum, Float, Integer, cast, type_coerce
from sqlalchemy.engine import URL

from ._bulk_load import copy_rows
from ._connections import (
    SQLITE_WRITE_INTENT,
    EngineRequest,
    EngineSetup,
    TransactionSetup,
    mysql_prepare_url,
    mysql_setup,
    mysql_transaction,
    postgresql_pgbouncer,
    postgresql_transaction,
    queue_pool_setup,
    sqlite_setup,
    sqlite_transaction,
)
from ._driver_errors import (
    Details,
    ErrorCode,
    mysql_code,
    mysql_details,
    pg_code,
    pg_details,
    sqlite_code,
    sqlite_details,
    sqlite_primary_code,
    sqlstate_class,
)
from ._errors import (
    CheckViolationError,
    ConflictError,
    DatabaseUnavailableError,
    ForeignKeyViolationError,
    InvalidFieldError,
    NotNullViolationError,
    ReadOnlyError,
    RepositoryError,
    SerializationError,
    StatementTimeoutError,
)
from ._replication import MARIADB_REPLICATION, POSTGRESQL_REPLICATION, Replication
from ._scrub import MYSQL_VALUES, POSTGRESQL_VALUES
from ._upsert import (
    ON_CONFLICT_POSTGRESQL,
    ON_CONFLICT_SQLITE,
    ON_DUPLICATE_KEY,
    ConflictStatements,
)

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection


PoolerSettings = Callable[
    [URL, Mapping[str, Any], dict[str, Any]], tuple[URL, Mapping[str, Any], dict[str, Any]]
]
BulkLoad = Callable[["AsyncConnection", "Table", Sequence[Mapping[str, Any]]], Awaitable[bool]]
"""Copy rows (dicts keyed by column key, one set of keys) into a table; ``False`` if it cannot."""


@dataclass(frozen=True, slots=True)
class Backend:
    """Everything sqla_repo knows about one database family."""

    name: str
    """SQLAlchemy's backend name, as in ``URL.get_backend_name()``."""
    drivers: Mapping[str, str]
    """Async driver name -> the extra that installs it."""
    sync_drivers: Mapping[str, str]
    """Async driver name -> the driver of the synchronous twin (``create_engine``)."""
    setup: Callable[[URL, EngineRequest], EngineSetup]
    """The engine options and connection set-up for a URL, pool settings and driver arguments."""
    error_code: Callable[[BaseException], ErrorCode | None]
    """The driver error's code: SQLSTATE, MySQL errno, SQLite extended result code."""
    error_classes: Mapping[ErrorCode, type[RepositoryError]]
    error_details: Callable[[BaseException, type[RepositoryError]], Details]
    """The constraint name and columns the backend reports for an integrity error."""
    conflicts: ConflictStatements
    """Its native upsert and insert-if-absent statements."""
    max_bind_params: int
    """The most bound parameters one statement may carry (the strictest of its drivers)."""
    nulls_low: bool
    """Whether ``ORDER BY col`` puts NULLs first (NULL sorts below every value)."""
    interleaved_cursors: bool
    """Whether other statements may run on a connection while a server-side cursor is
    open. MySQL/MariaDB cannot: a query sent mid-stream silently cuts the stream short."""
    keyset_terms: Callable[[ColumnElement[Any]], KeysetTerms]
    """For an ordering key: what to read into a cursor and what to compare it with, so
    that a value read back compares as the database orders (keyset pagination)."""
    nulls_keyword: bool
    """Whether ``ORDER BY ... NULLS FIRST/LAST`` exists (not on MySQL/MariaDB)."""
    transaction_setup: Callable[[str | None, bool], TransactionSetup]
    """How a transaction starts with an isolation level and/or read-only mode."""
    write_intent: Mapping[str, Any] = field(default_factory=dict)
    """Execution options for a transaction known to write before it begins (a POST
    request's): SQLite takes its write lock at ``BEGIN``; the servers lock rows as
    they go and need nothing."""
    code_family: Callable[[ErrorCode], ErrorCode | None] = field(default=lambda code: None)
    """A broader code to look up when the exact one is not in ``error_classes``."""
    aliases: tuple[str, ...] = field(default=())
    prepare_url: Callable[[URL], URL] = field(default=lambda url: url)
    error_values: tuple[re.Pattern[str], ...] = field(default=())
    """The shapes of its error messages that quote written values: each group of a
    pattern covers a value, which is cut out of messages (see :mod:`sqla_repo._scrub`)."""
    failed_transaction_codes: frozenset[ErrorCode] = field(default=frozenset())
    """Codes saying that the transaction already failed and must be rolled back."""
    bulk_load: BulkLoad | None = None
    """Writes rows without reading them back faster than an executemany INSERT (COPY);
    returns ``False``, having sent nothing, where it cannot."""
    server_version_sql: str = "SELECT VERSION()"
    """Returns the server's version string, verbatim (``sqla-repo check``)."""
    foreign_keys_sql: str | None = None
    """Returns whether the connection enforces foreign keys; ``None``: it always does."""
    connect_failures: Mapping[ErrorCode, str] = field(default_factory=dict)
    """Error code (or its family) of a failed connection attempt -> ``"auth"`` or
    ``"unreachable"`` (``sqla-repo check``'s reasons)."""
    replication: Replication | None = None
    """Commit positions and replica probes for read replicas; ``None``: no replicas."""
    pgbouncer: PoolerSettings | None = None
    """Adapts a URL, connect arguments and engine options to a transaction pooler."""

    def classify(self, orig: BaseException) -> type[RepositoryError] | None:
        """The error class for a driver exception, read from its code; ``None`` if unknown."""
        code = self.error_code(orig)
        if code is None:
            return None
        found = self.error_classes.get(code)
        if found is None and (family := self.code_family(code)) is not None:
            found = self.error_classes.get(family)
        return found


KeysetTerms = tuple["ColumnElement[Any]", "ColumnElement[Any]"]
"""(the expression a cursor reads, the expression its value is compared with)."""


def _as_ordered(expression: ColumnElement[Any]) -> KeysetTerms:
    return expression, expression


# --- PostgreSQL ------------------------------------------------------------


POSTGRESQL = Backend(
    name="postgresql",
    drivers={"asyncpg": "postgres", "psycopg": "postgres"},
    sync_drivers={"asyncpg": "psycopg", "psycopg": "psycopg"},
    setup=queue_pool_setup,
    error_code=pg_code,
    code_family=sqlstate_class,
    error_classes={
        "23505": ConflictError,
        "23503": ForeignKeyViolationError,
        "23502": NotNullViolationError,
        "23514": CheckViolationError,
        "40001": SerializationError,  # serialization_failure
        "40P01": SerializationError,  # deadlock_detected
        "55P03": SerializationError,  # lock_not_available
        "57014": StatementTimeoutError,  # query_canceled (statement_timeout)
        "25006": ReadOnlyError,  # read_only_sql_transaction
        "22001": InvalidFieldError,  # string_data_right_truncation
        "22003": InvalidFieldError,  # numeric_value_out_of_range
        "22P02": InvalidFieldError,  # invalid_text_representation
        "22000": InvalidFieldError,  # data_exception (also asyncpg's own value check)
        "08": DatabaseUnavailableError,  # connection_exception class
        "57P01": DatabaseUnavailableError,  # admin_shutdown
        "57P02": DatabaseUnavailableError,  # crash_shutdown
        "57P03": DatabaseUnavailableError,  # cannot_connect_now
    },
    error_details=pg_details,
    error_values=POSTGRESQL_VALUES,
    failed_transaction_codes=frozenset({"25P02"}),  # in_failed_sql_transaction
    conflicts=ON_CONFLICT_POSTGRESQL,
    max_bind_params=32767,  # asyncpg (psycopg allows 65535)
    nulls_low=False,
    interleaved_cursors=True,
    keyset_terms=_as_ordered,
    nulls_keyword=True,
    transaction_setup=postgresql_transaction,
    bulk_load=copy_rows,
    server_version_sql="SHOW server_version",
    connect_failures={"28": "auth", "08": "unreachable"},  # SQLSTATE classes
    replication=POSTGRESQL_REPLICATION,
    pgbouncer=postgresql_pgbouncer,
)


# --- MySQL / MariaDB -------------------------------------------------------


def _mysql_keyset_terms(expression: ColumnElement[Any]) -> KeysetTerms:
    kind = expression.type
    if isinstance(kind, Float):
        # The text protocol sends a single-precision FLOAT rounded to 6 digits, which no
        # longer equals the stored value; read as DOUBLE it is exact.
        return cast(expression, Double(asdecimal=False)), expression
    if isinstance(kind, Enum) and kind.native_enum:
        # ORDER BY sorts an ENUM by its position in the declaration, while comparing it
        # with a string compares labels: compare positions (the ENUM as a number).
        position = type_coerce(expression, Integer) + 0
        return position, position
    return expression, expression


MYSQL = Backend(
    name="mysql",
    aliases=("mariadb",),
    drivers={"aiomysql": "mysql"},
    sync_drivers={"aiomysql": "pymysql"},
    setup=mysql_setup,
    prepare_url=mysql_prepare_url,
    error_code=mysql_code,
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
        1205: SerializationError,  # lock wait timeout (MariaDB's NOWAIT too)
        3024: StatementTimeoutError,  # MySQL: max_execution_time exceeded
        1969: StatementTimeoutError,  # MariaDB: max_statement_time exceeded
        3572: SerializationError,  # MySQL: NOWAIT on a locked row
        1792: ReadOnlyError,  # statement not allowed in a READ ONLY transaction
        1406: InvalidFieldError,  # data too long
        1264: InvalidFieldError,  # out of range
        1366: InvalidFieldError,  # incorrect value for column
        1927: DatabaseUnavailableError,  # MariaDB: connection killed
        2002: DatabaseUnavailableError,
        2003: DatabaseUnavailableError,
        2006: DatabaseUnavailableError,  # server has gone away
        2013: DatabaseUnavailableError,  # lost connection during query
        2055: DatabaseUnavailableError,
        1047: DatabaseUnavailableError,  # Galera: node not ready (no quorum)
        1180: DatabaseUnavailableError,  # Galera: error during COMMIT (quorum lost)
    },
    error_details=mysql_details,
    error_values=MYSQL_VALUES,
    conflicts=ON_DUPLICATE_KEY,
    max_bind_params=65535,
    nulls_low=True,
    interleaved_cursors=False,
    keyset_terms=_mysql_keyset_terms,
    nulls_keyword=False,
    transaction_setup=mysql_transaction,
    foreign_keys_sql="SELECT @@foreign_key_checks",
    replication=MARIADB_REPLICATION,
    connect_failures={
        1044: "auth",  # ER_DBACCESS_DENIED_ERROR
        1045: "auth",  # ER_ACCESS_DENIED_ERROR: wrong user or password
        1698: "auth",  # ER_ACCESS_DENIED_NO_PASSWORD_ERROR
        2002: "unreachable",  # no socket
        2003: "unreachable",  # cannot connect (refused, unknown host)
        2005: "unreachable",  # unknown host
        2006: "unreachable",  # server has gone away
        2013: "unreachable",  # lost connection
    },
)


# --- SQLite ----------------------------------------------------------------


SQLITE = Backend(
    name="sqlite",
    drivers={"aiosqlite": "sqlite"},
    sync_drivers={"aiosqlite": "pysqlite"},
    setup=sqlite_setup,
    error_code=sqlite_code,
    code_family=sqlite_primary_code,
    error_classes={
        2067: ConflictError,  # SQLITE_CONSTRAINT_UNIQUE
        1555: ConflictError,  # SQLITE_CONSTRAINT_PRIMARYKEY
        787: ForeignKeyViolationError,  # SQLITE_CONSTRAINT_FOREIGNKEY
        1299: NotNullViolationError,  # SQLITE_CONSTRAINT_NOTNULL
        275: CheckViolationError,  # SQLITE_CONSTRAINT_CHECK
        5: SerializationError,  # SQLITE_BUSY (and its extended codes)
        6: SerializationError,  # SQLITE_LOCKED (and its extended codes)
        8: ReadOnlyError,  # SQLITE_READONLY (PRAGMA query_only)
    },
    error_details=sqlite_details,
    conflicts=ON_CONFLICT_SQLITE,
    max_bind_params=32766,  # SQLITE_MAX_VARIABLE_NUMBER since 3.32
    nulls_low=True,
    interleaved_cursors=True,
    keyset_terms=_as_ordered,
    nulls_keyword=True,
    transaction_setup=sqlite_transaction,
    write_intent=SQLITE_WRITE_INTENT,
    server_version_sql="SELECT sqlite_version()",
    foreign_keys_sql="PRAGMA foreign_keys",
    connect_failures={14: "unreachable"},  # SQLITE_CANTOPEN
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
