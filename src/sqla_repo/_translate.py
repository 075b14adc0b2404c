"""The one boundary where SQLAlchemy and driver errors become sqla_repo errors.

Classification reads the error's code (SQLSTATE, MySQL errno, SQLite extended
code) through the backend table; constraint names and columns come from what the
backend reports, completed from the model's ``MetaData`` where it can be resolved.
Messages never carry the values that were written, and, while the engine hides
parameters (the default), neither does any exception the raised error chains:
they are cleaned in place (:mod:`sqla_repo._scrub`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.orm import exc as orm_exc
from sqlalchemy.pool import Pool, QueuePool
from sqlalchemy.sql.schema import (
    ColumnCollectionConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)

from ._backends import BACKENDS, Backend, find_backend
from ._driver_errors import ErrorCode
from ._errors import (
    ConflictError,
    DatabaseUnavailableError,
    IntegrityViolationError,
    InvalidFieldError,
    PoolTimeoutError,
    RepositoryError,
    SerializationError,
    StaleDataError,
    StatementTimeoutError,
)
from ._scrub import PYTHON_SHAPES, Shapes, hide_values, scrub_chain

_IDENTIFIER = re.compile(r"^\w+$")


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What the boundary needs to know to translate an error well."""

    url: URL | None
    pool: Pool | None = None
    table: Table | None = None
    hide_parameters: bool = True
    """The engine's ``hide_parameters``: whether chained errors are cleaned of values."""

    @property
    def backend(self) -> Backend | None:
        return find_backend(self.url.get_backend_name()) if self.url is not None else None

    @property
    def value_shapes(self) -> Shapes:
        """The message shapes that quote values: the backend's, or every backend's."""
        backend = self.backend
        rows = (backend,) if backend is not None else BACKENDS
        return (*(shape for row in rows for shape in row.error_values), *PYTHON_SHAPES)

    @classmethod
    def of_session(cls, session: AsyncSession, mapper: Mapper[Any] | None = None) -> ErrorContext:
        table = mapper.local_table if mapper is not None else None
        table = table if isinstance(table, Table) else None
        try:
            engine = session.get_bind(mapper).engine
        except exc.UnboundExecutionError:  # never hide the error being translated
            return cls(None, None, table)
        return cls(engine.url, engine.pool, table, engine.hide_parameters)


class translate_errors:  # noqa: N801 - used like a function: ``with translate_errors(...):``
    """Re-raise SQLAlchemy and driver errors from the block as :class:`RepositoryError` subclasses.

    The original error is chained as ``__cause__``. The context is only built when an
    error needs translating, so the happy path costs nothing but the ``with``.
    """

    __slots__ = ("_mapper", "_session")

    def __init__(self, session: AsyncSession, mapper: Mapper[Any] | None = None) -> None:
        self._session = session
        self._mapper = mapper

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        err: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if err is None or isinstance(err, RepositoryError) or not isinstance(err, Exception):
            return
        translated = translate(err, lambda: ErrorContext.of_session(self._session, self._mapper))
        if translated is not None:
            raise translated from err


_FAILED_TRANSACTION = (
    "the session's transaction already failed (an earlier statement or flush raised); "
    "call `await session.rollback()` before using the session again"
)


def translate(err: Exception, context: Callable[[], ErrorContext]) -> RepositoryError | None:
    """The sqla_repo error for ``err``, or ``None`` if it is not a database error.

    When it returns an error, ``err`` and every exception it chains have been cleaned
    in place: connection secrets always, written values while the engine hides
    parameters (``hide_parameters=True``, the default).
    """
    known = functools.cache(context)
    translated = _classify(err, known)
    if translated is not None:
        hide = (
            err.hide_parameters if isinstance(err, exc.StatementError) else known().hide_parameters
        )
        scrub_chain(err, known().value_shapes, values=hide)
    return translated


def _classify(err: Exception, context: Callable[[], ErrorContext]) -> RepositoryError | None:
    if isinstance(err, exc.DBAPIError):
        return _from_dbapi_error(err, context())
    if isinstance(err, exc.PendingRollbackError):
        return RepositoryError(_FAILED_TRANSACTION)
    if isinstance(err, exc.TimeoutError):  # SQLAlchemy's own: the pool's checkout
        return PoolTimeoutError(_pool_timeout_message(context().pool))
    if isinstance(err, orm_exc.StaleDataError):
        return StaleDataError("the row was changed or deleted since it was read (optimistic lock)")
    if isinstance(err, TimeoutError) and err.errno is None and not _raised_while_connecting(err):
        # A driver's own statement timeout (asyncpg's command_timeout) is a bare
        # TimeoutError (an OSError), which SQLAlchemy does not wrap; it invalidates the
        # connection. One the OS raised carries an errno: a connection timing out.
        return StatementTimeoutError(
            "the statement was cancelled for running past its time limit: "
            "the driver's own timeout expired"
        )
    if isinstance(err, OSError):
        # asyncpg raises plain ConnectionRefusedError / socket errors on connect.
        return DatabaseUnavailableError(_unavailable_message(context().url))
    return None


def _raised_while_connecting(err: BaseException) -> bool:
    """Whether ``err`` came out of the pool opening or checking a connection.

    A bare ``TimeoutError`` has no code to tell a connect timeout (asyncpg's
    ``timeout``) from a statement's, so where it was raised decides.
    """
    frame = err.__traceback__
    while frame is not None:
        if str(frame.tb_frame.f_globals.get("__name__", "")).startswith("sqlalchemy.pool"):
            return True
        frame = frame.tb_next
    return False


def _from_dbapi_error(err: exc.DBAPIError, context: ErrorContext) -> RepositoryError:
    orig = err.orig
    backend = context.backend
    code = backend.error_code(orig) if backend is not None and orig is not None else None
    if backend is not None and code is not None and code in backend.failed_transaction_codes:
        return RepositoryError(f"{_FAILED_TRANSACTION} (code {code})")
    found = backend.classify(orig) if backend is not None and orig is not None else None
    if found is None:
        if err.connection_invalidated or isinstance(orig, OSError):
            found = DatabaseUnavailableError
        elif isinstance(err, exc.IntegrityError):
            found = IntegrityViolationError
        elif isinstance(err, exc.DataError):
            found = InvalidFieldError
        else:
            found = RepositoryError
    if issubclass(found, IntegrityViolationError):
        constraint, columns = (
            backend.error_details(orig, found)
            if backend is not None and orig is not None
            else (None, ())
        )
        table = _written_table(err.statement, context.table)
        constraint, columns = _resolve_constraint(table, found, constraint, columns)
        return found(constraint=constraint, columns=columns)
    if found is DatabaseUnavailableError:
        return DatabaseUnavailableError(_unavailable_message(context.url))
    if found is SerializationError:
        return SerializationError(
            "the transaction could not be serialized (serialization failure, deadlock, "
            "lock timeout or database busy); it may be retried"
        )
    if found is InvalidFieldError:
        return InvalidFieldError(
            "a value does not fit its column (wrong type, too long or out of range)"
        )
    said = _server_says(orig, code, context.value_shapes)
    if found is StatementTimeoutError:
        return StatementTimeoutError(
            f"the statement was cancelled for running past its time limit: {said}"
        )
    return found(f"database error: {said}")


def _server_says(orig: BaseException | None, code: ErrorCode | None, shapes: Shapes) -> str:
    """The first line of the server's message, values cut out, and its code."""
    if orig is None:
        return "unknown database error"
    texts = [arg for arg in orig.args if isinstance(arg, str)]
    lines = hide_values(texts[-1], shapes).strip().splitlines() if texts else []
    words = lines[0].strip() if lines else type(orig).__name__
    return f"{words} (code {code})" if code is not None else words


# The target of the statement SQLAlchemy sent (its own SQL text, never a value).
_DML_TABLE = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[`\"]?(\w+)[`\"]?(?:\.[`\"]?(\w+)[`\"]?)?",
    re.IGNORECASE,
)


def _written_table(statement: str | None, table: Table | None) -> Table | None:
    """The table the failing statement wrote to (a flush may write several), else ``table``."""
    if table is None or statement is None or not (match := _DML_TABLE.match(statement)):
        return table
    schema, name = (match.group(1), match.group(2)) if match.group(2) else (None, match.group(1))
    key = f"{schema}.{name}" if schema else name
    written = table.metadata.tables.get(key)
    return written if written is not None else table


def _resolve_constraint(
    table: Table | None,
    kind: type[IntegrityViolationError],
    constraint: str | None,
    columns: tuple[str, ...],
) -> tuple[str | None, tuple[str, ...]]:
    """Complete a reported constraint name or column list from the model's metadata."""
    if constraint is not None and not _IDENTIFIER.match(constraint):
        constraint = None  # SQLite reports an unnamed CHECK by its expression text
    if table is None:
        return constraint, columns
    metadata = table.metadata
    primary_key_name = table.primary_key.name
    if constraint == "PRIMARY" and isinstance(primary_key_name, str):
        # MySQL/MariaDB call every primary key PRIMARY
        constraint = primary_key_name
    if constraint is not None and not columns:
        columns = _columns_of(metadata, constraint) or _unnamed_unique_columns(table, constraint)
    if constraint is None and columns and kind is ConflictError:
        constraint = _unique_named_by_columns(table, columns)
    return constraint, columns


def _columns_of(metadata: MetaData, name: str) -> tuple[str, ...]:
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, ColumnCollectionConstraint) and constraint.name == name:
                return tuple(column.name for column in constraint.columns)
        for index in table.indexes:
            if index.name == name:
                return tuple(column.name for column in index.columns)
    return ()


def _unnamed_unique_columns(table: Table, name: str) -> tuple[str, ...]:
    """Columns of an unnamed unique constraint the server named after its first column.

    MySQL/MariaDB name the index of an unnamed ``UNIQUE`` after its first column.
    """
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and not isinstance(constraint.name, str):
            columns = tuple(column.name for column in constraint.columns)
            if columns and columns[0] == name:
                return columns
    return ()


def _unique_named_by_columns(table: Table, columns: tuple[str, ...]) -> str | None:
    """The name of the primary key, unique constraint or unique index over exactly ``columns``."""
    wanted = set(columns)
    candidates: list[PrimaryKeyConstraint | UniqueConstraint | Index] = [
        table.primary_key,
        *(c for c in table.constraints if isinstance(c, UniqueConstraint)),
        *(i for i in table.indexes if i.unique),
    ]
    for candidate in candidates:
        if {column.name for column in candidate.columns} == wanted and isinstance(
            candidate.name, str
        ):
            return candidate.name
    return None


def _pool_timeout_message(pool: Pool | None) -> str:
    if isinstance(pool, QueuePool):
        return (
            f"no connection became available within the pool timeout of {pool.timeout():g} s "
            f"(pool size {pool.size()}, all connections in use)"
        )
    return "no connection became available within the pool's timeout"


def _unavailable_message(url: URL | None) -> str:
    if url is None:
        return "the database is unavailable (connection refused or lost)"
    if url.get_backend_name() == "sqlite":
        return f"database {url.database or ':memory:'!r} is unavailable"
    port = f":{url.port}" if url.port is not None else ""
    host = url.host or "localhost"
    return f"database server {host}{port} is unavailable (connection refused or lost)"
