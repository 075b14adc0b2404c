"""Reading a driver's error: its code (SQLSTATE, MySQL errno, SQLite extended result
code) and the constraint and columns it names, for each backend row of
:mod:`sqla_repo._backends`. Nothing here reads or returns a value the statement wrote."""

from __future__ import annotations

import re

from ._errors import (
    CheckViolationError,
    ConflictError,
    ForeignKeyViolationError,
    NotNullViolationError,
    RepositoryError,
)

ErrorCode = str | int
Details = tuple[str | None, tuple[str, ...]]

# --- PostgreSQL ------------------------------------------------------------


# libpq prefixes an error the server sent with its severity ("FATAL:  ...").
_LIBPQ_SERVER_ERROR = re.compile(r"\b(?:FATAL|ERROR|PANIC):  ")
# ... and the server's refusals of a login, which libpq passes on without their SQLSTATE
_LIBPQ_LOGIN_REFUSED = re.compile(
    r"FATAL:  (?:.*authentication failed|no pg_hba\.conf entry|role \".*\" does not exist"
    r"|role \".*\" is not permitted to log in)|fe_sendauth: no password supplied"
)


def libpq_connect_failure(orig: BaseException) -> ErrorCode | None:
    """The SQLSTATE libpq leaves out of a failed connection attempt, from its message:
    a refused login (``28000``), no server answering (``08001``), else ``None``."""
    message = str(orig.args[0]) if orig.args else ""
    if _LIBPQ_LOGIN_REFUSED.search(message):
        return "28000"  # invalid_authorization_specification
    if not _LIBPQ_SERVER_ERROR.search(message):
        return "08001"  # sqlclient_unable_to_establish_sqlconnection
    return None


def pg_code(orig: BaseException) -> ErrorCode | None:
    code = getattr(orig, "sqlstate", None)
    if isinstance(code, str):
        return code
    # psycopg: libpq reports no SQLSTATE when a connection attempt fails (psycopg
    # keeps the failed connection on the error). No server answered, unless libpq
    # quotes the server's own error: sqlclient_unable_to_establish_sqlconnection.
    if getattr(orig, "pgconn", None) is not None:
        return libpq_connect_failure(orig)
    # asyncpg checks a value against its parameter's type itself (its DataError, a
    # ValueError without SQLSTATE), where psycopg lets the server refuse it (22P02...).
    if isinstance(orig.__cause__, ValueError) and getattr(orig.__cause__, "sqlstate", None) is None:
        return "22000"  # data_exception
    return None


# The DETAIL of a unique violation, "Key (a, b)=(...) already exists.": the column
# list only (never the values), for constraints the model's metadata does not name.
_PG_KEY_COLUMNS = re.compile(r"^Key \(([\w, ]+)\)=")


def pg_details(orig: BaseException, kind: type[RepositoryError]) -> Details:
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


def sqlstate_class(code: ErrorCode) -> ErrorCode | None:
    return code[:2] if isinstance(code, str) else None  # e.g. "08": connection exception


# --- MySQL / MariaDB -------------------------------------------------------


def mysql_code(orig: BaseException) -> ErrorCode | None:
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


def mysql_details(orig: BaseException, kind: type[RepositoryError]) -> Details:
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


# --- SQLite ----------------------------------------------------------------


def sqlite_code(orig: BaseException) -> ErrorCode | None:
    code = getattr(orig, "sqlite_errorcode", None)
    return code if isinstance(code, int) else None


_SQLITE_FAILED = re.compile(r"constraint failed: (.+)$")


def sqlite_details(orig: BaseException, kind: type[RepositoryError]) -> Details:
    message = str(orig.args[0]) if orig.args else ""
    match = _SQLITE_FAILED.search(message)
    if match is None:
        return None, ()
    named = match.group(1)
    if kind is CheckViolationError:
        return named, ()
    # "table.column, table.column"
    return None, tuple(part.strip().rpartition(".")[2] for part in named.split(","))


def sqlite_primary_code(code: ErrorCode) -> ErrorCode | None:
    return code & 0xFF if isinstance(code, int) else None  # SQLITE_BUSY_SNAPSHOT -> SQLITE_BUSY
