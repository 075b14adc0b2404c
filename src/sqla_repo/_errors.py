"""The exception hierarchy every repository method raises.

Driver and SQLAlchemy errors are translated into these classes at one boundary
(:mod:`sqla_repo._translate`); nothing here talks to a database.
"""

from __future__ import annotations

from collections.abc import Iterable


class RepositoryError(Exception):
    """Base class of every error a repository raises.

    Raised as itself for a database error no subclass describes (a missing table, an
    unknown database, failed authentication): the message carries the server's own
    words with any written value cut out, and its code (``database error: relation
    "users" does not exist (code 42P01)``). Also raised, saying to call
    ``await session.rollback()``, when a repository method is called on a session
    whose transaction already failed.

    No message, neither this error's nor, while the engine hides parameters (the
    default), any exception it chains, contains the values that were written.
    """


class NotFoundError(RepositoryError, LookupError):
    """No row has the requested primary key."""


class InvalidFieldError(RepositoryError, ValueError):
    """A field name or value the model cannot take.

    Raised before any SQL is sent for unknown fields, primary-key changes and
    bad order keys; also for a value its column cannot hold when the database
    itself reports that (too long, out of range).
    """


class IntegrityViolationError(RepositoryError):
    """The database refused a write because it breaks a constraint.

    ``constraint`` is the constraint's name wherever the backend reports it (or it
    can be resolved from the model's metadata), else ``None``. ``columns`` is a
    tuple of column names, empty when unknown. The message never contains the
    values that were written.
    """

    kind = "integrity"

    def __init__(
        self,
        message: str | None = None,
        *,
        constraint: str | None = None,
        columns: Iterable[str] = (),
    ) -> None:
        self.constraint = constraint
        self.columns: tuple[str, ...] = tuple(columns)
        super().__init__(message or self._describe())

    def _describe(self) -> str:
        details = []
        if self.constraint is not None:
            details.append(f"constraint {self.constraint!r}")
        if self.columns:
            details.append(f"columns ({', '.join(self.columns)})")
        text = f"{self.kind} constraint violated"
        return f"{text}: {', '.join(details)}" if details else text


class ConflictError(IntegrityViolationError):
    """A unique or primary-key constraint was violated."""

    kind = "unique"


class ForeignKeyViolationError(IntegrityViolationError):
    """A foreign-key constraint was violated (missing parent, or a parent still referenced)."""

    kind = "foreign key"


class NotNullViolationError(IntegrityViolationError):
    """``NULL`` was written to a ``NOT NULL`` column."""

    kind = "not null"


class CheckViolationError(IntegrityViolationError):
    """A ``CHECK`` constraint was violated."""

    kind = "check"


class InvalidCursorError(RepositoryError, ValueError):
    """A pagination cursor that was not made by the same ordering."""


class NotLoadedError(RepositoryError):
    """A relationship that was not loaded was accessed (instead of ``MissingGreenlet``)."""


class StaleDataError(RepositoryError):
    """An optimistic-lock version mismatch: the row changed since it was read."""


class SerializationError(RepositoryError):
    """Serialization failure, deadlock, lock wait timeout or SQLite busy/locked.

    The whole transaction may be retried.
    """


class ReadOnlyError(RepositoryError):
    """A write was attempted in a read-only transaction."""


class StatementTimeoutError(RepositoryError):
    """A statement was cancelled for running past its time limit.

    PostgreSQL's ``statement_timeout`` (57014), MySQL's ``max_execution_time`` (3024),
    MariaDB's ``max_statement_time`` (1969) or a driver's own timeout (asyncpg's
    ``command_timeout``); never a :class:`DatabaseUnavailableError`. After a server's
    timeout the connection stays usable (PostgreSQL after a rollback: the transaction
    failed); after a driver's own, SQLAlchemy discards the connection, and the session
    needs ``rollback()`` before it connects again.
    """


class PoolTimeoutError(RepositoryError):
    """No connection could be checked out of the pool within its timeout."""


class DatabaseUnavailableError(RepositoryError):
    """The database refused the connection or the connection was lost.

    The message names the server's host and port, never the password.
    """


class CommitOutcomeUnknownError(DatabaseUnavailableError):
    """The connection was lost while ``COMMIT`` was in flight.

    The transaction may or may not have been applied: check before doing it again.
    ``run_in_transaction`` never re-runs it, since a blind retry of a transaction
    that did commit would apply it twice.
    """
