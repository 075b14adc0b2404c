"""Bulk loading without ``RETURNING``: PostgreSQL's COPY through asyncpg.

``create_many(items, returning=False)`` writes rows it does not read back. On
PostgreSQL through asyncpg they go in with ``COPY ... FROM STDIN`` in asyncpg's
binary format (``copy_records_to_table``), inside the session's transaction;
elsewhere, and for rows COPY cannot write as an INSERT would, one executemany
INSERT per set of fields.

COPY skips what SQLAlchemy does to an INSERT's values, so a set of rows is copied
only when nothing is lost: every value goes through its column type's bind
processor (``TypeDecorator.process_bind_param`` included), no column type wraps
its parameter in SQL (``bind_expression``), and every column the rows leave out
is filled by the server (a server default, a sequence or identity, NULL), never
by a Python-side default. Driver errors are raised as SQLAlchemy would raise
them, so the repository translates them like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeGuard

from sqlalchemy import Column, Dialect, Table, exc
from sqlalchemy.ext.asyncio import AsyncConnection

from ._connections import PGBOUNCER

if TYPE_CHECKING:
    from asyncpg import Connection


def copyable(table: Table, given: Sequence[str]) -> bool:
    """Whether rows giving the columns ``given`` (column keys) can be copied as inserted."""
    names = set(given)
    for column in table.columns:
        if column.type._has_bind_expression:
            return False
        if column.key not in names and column.default is not None:
            return False  # a Python-side default or a client-side sequence
    return True


async def copy_rows(
    connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> bool:
    """COPY ``rows`` (dicts keyed by column key, all with the same keys) into ``table``.

    Returns ``False``, having sent nothing, when the connection's driver is not
    asyncpg or the rows cannot be copied as an INSERT would write them.
    """
    if not rows:
        return True
    if (
        connection.sync_connection is not None
        and connection.sync_connection.get_execution_options().get(PGBOUNCER)
    ):
        return False  # asyncpg's COPY prepares a named statement: not through a pooler
    keys = list(rows[0])
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if not _is_asyncpg(driver) or not copyable(table, keys):
        return False
    dialect = connection.dialect
    columns: list[Column[Any]] = [table.c[key] for key in keys]
    processors = [column.type.bind_processor(dialect) for column in columns]
    get = itemgetter(*keys)
    records: list[tuple[Any, ...]] = (
        [(value,) for value in map(get, rows)] if len(keys) == 1 else list(map(get, rows))
    )
    if any(process is not None for process in processors):  # a type converts its values
        steps = [_unchanged if process is None else process for process in processors]
        records = [
            tuple([step(v) for step, v in zip(steps, record, strict=True)]) for record in records
        ]
    if not driver.is_in_transaction():
        # the adapter begins lazily, at its first statement: begin before copying, so the
        # rows stay inside the session's transaction (in autocommit mode this just reads)
        await connection.exec_driver_sql("SELECT 1")
    try:
        await driver.copy_records_to_table(
            table.name,
            records=records,
            columns=[column.name for column in columns],
            schema_name=table.schema,
        )
    except Exception as error:
        raise _as_dbapi_error(raw.dbapi_connection, dialect, table, error) from error
    return True


def _unchanged(value: Any) -> Any:
    return value


def _is_asyncpg(driver: object) -> TypeGuard[Connection]:
    try:
        from asyncpg import Connection
    except ImportError:  # pragma: no cover - the postgres extra installs it
        return False
    return isinstance(driver, Connection)


def _as_dbapi_error(adapted: Any, dialect: Dialect, table: Table, error: Exception) -> Exception:
    """The error SQLAlchemy raises for ``error`` from a statement it sent itself."""
    try:
        adapted._handle_exception(error)  # raises the driver error as its DB-API type
    except Exception as translated:  # the adapter raises what it translated
        base: type[Exception] = dialect.loaded_dbapi.Error
        if not isinstance(translated, base):
            return translated  # not a database error (a cancellation, a bug): unchanged
        return exc.DBAPIError.instance(
            f"COPY {table.fullname} FROM STDIN",
            None,
            translated,
            base,
            hide_parameters=True,
            dialect=dialect,
        )
    return error  # pragma: no cover - the adapter always raises
