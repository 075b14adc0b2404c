"""Points in time stored alike on every backend: ``UTCDateTime`` and ``TimestampMixin``.

PostgreSQL keeps a time zone (``TIMESTAMP WITH TIME ZONE``); MySQL/MariaDB
(``DATETIME(6)``) and SQLite (text) do not. :class:`UTCDateTime` stores UTC on all
of them, with microseconds, and reads back timezone-aware datetimes in UTC, so the
same value comes back whatever the backend or driver (psycopg returns the
session's zone: it is converted).

:class:`TimestampMixin` stamps rows with Python-side column defaults: one clock
(the application's), microseconds everywhere, nothing for the database to compute
and no extra round trip to read the value back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import DateTime, Dialect, Table
from sqlalchemy.dialects import mysql
from sqlalchemy.engine.interfaces import ExecutionContext
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

TIMESTAMP_SORT_ORDER = 1000
"""Where the mixins' timestamp columns go in ``CREATE TABLE``: after the model's own."""

_NOW = "_sqla_repo_statement_time"


def naive_problem(value: object) -> str | None:
    """What keeps ``value`` from being stored by :class:`UTCDateTime` (``None``: nothing)."""
    if not isinstance(value, datetime):
        return "expects a timezone-aware datetime"
    if value.utcoffset() is None:
        return (
            "expects a timezone-aware datetime, not a naive one (its zone is unknown): "
            "use datetime.now(UTC) or attach a tzinfo"
        )
    return None


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware point in time, stored in UTC with microsecond precision.

    PostgreSQL: ``TIMESTAMP WITH TIME ZONE``; MySQL/MariaDB: ``DATETIME(6)`` and
    SQLite: text, both holding the UTC wall time. Values of any zone are converted to
    UTC when written; every value read comes back aware, in UTC (``tzinfo`` is
    :data:`datetime.UTC`). A naive datetime is refused, since its zone is unknown:
    repositories raise :class:`~sqla_repo.InvalidFieldError` before any SQL, and
    SQLAlchemy statements raise ``ValueError`` (wrapped in its ``StatementError``)
    when binding it. ``None`` is NULL.
    """

    impl: TypeEngine[Any] | type[TypeEngine[Any]] = DateTime(timezone=True)
    cache_ok: bool | None = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        problem = naive_problem(value)
        if problem is not None:
            raise ValueError(f"UTCDateTime {problem}")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


def statement_time(context: ExecutionContext | None) -> datetime:
    """The current time, aware in UTC, read once per statement execution.

    Every timestamp column of every row one statement writes gets this same instant
    (``created_at == updated_at`` on insert, one value for a whole batch).
    """
    if context is None:
        return datetime.now(UTC)
    stored = context.__dict__
    now: datetime | None = stored.get(_NOW)
    if now is None:
        now = stored[_NOW] = datetime.now(UTC)
    return now


_stamped: WeakKeyDictionary[Table, tuple[str, ...]] = WeakKeyDictionary()


def stamped_keys(table: Table) -> tuple[str, ...]:
    """The keys of ``table``'s columns stamped with :func:`statement_time` on insert
    (cached per table)."""
    found = _stamped.get(table)
    if found is None:
        found = _stamped[table] = tuple(
            str(column.key)
            for column in table.columns
            if getattr(column.default, "arg", None) is statement_time
        )
    return found


def stamp_rows(
    table: Table, batches: Sequence[Sequence[Mapping[str, Any]]]
) -> Sequence[Sequence[Mapping[str, Any]]]:
    """``batches`` of rows (column key -> value) with the columns stamped on insert filled
    in where a row leaves them out, all with one instant; the rows given are not changed.

    For writers that run no Python-side default (PostgreSQL's COPY).
    """
    keys = stamped_keys(table)
    if not keys:
        return batches
    now = datetime.now(UTC)
    stamps = dict.fromkeys(keys, now)
    return [
        [row if all(key in row for key in keys) else {**stamps, **row} for row in batch]
        for batch in batches
    ]


class TimestampMixin:
    """``created_at`` and ``updated_at``: when a row was inserted and last updated.

    ``class Article(TimestampMixin, Base): ...`` gets two NOT NULL :class:`UTCDateTime`
    columns, read back aware in UTC with microseconds on every backend. On insert
    (``create``, ``create_many``, an upsert that inserts, ``session.add`` and a flush)
    both are set to the same instant. Every update (``update``, ``update_where``, an
    upsert that finds the row, a flush of a modified object) sets ``updated_at`` to the
    current time and leaves ``created_at`` alone. A value given explicitly, on insert
    or on update, is written as given (a backfill). Naive datetimes are refused.

    The values are Python-side column defaults (``insert_default``/``onupdate``),
    taken from the application's clock once per statement: no database function, no
    extra round trip. Works on any ``DeclarativeBase``, in any order with the other
    mixins; the columns come after the model's own in ``CREATE TABLE``.
    """

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        nullable=False,
        insert_default=statement_time,
        sort_order=TIMESTAMP_SORT_ORDER,
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        nullable=False,
        insert_default=statement_time,
        onupdate=statement_time,
        sort_order=TIMESTAMP_SORT_ORDER,
    )
