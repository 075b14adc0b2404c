"""Native upsert and insert-if-absent statements, one builder per SQL dialect family.

PostgreSQL and SQLite share ``INSERT ... ON CONFLICT``; MySQL/MariaDB use
``INSERT ... ON DUPLICATE KEY UPDATE``. Each statement is one atomic round trip
that returns the stored rows (``RETURNING``); nothing here selects before writing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Column, Select, Table, and_, bindparam, func, literal_column, null, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from ._statements import ConflictTarget

Returning = Sequence[Column[Any]]


@dataclass(frozen=True, slots=True)
class ConflictStatements:
    """How one SQL dialect family writes a row that may already exist."""

    clause: str
    """The SQL clause of its native upsert, as people name it."""
    upsert: Callable[[Table, ConflictTarget, Sequence[str], Returning, str | None], Insert]
    """Insert, or update the given column keys of the row the target matches; RETURNING it.
    The last argument names a version column the update increments (optimistic locking)."""
    insert_if_absent: Callable[[Table, ConflictTarget, Mapping[str, Any], Returning], Insert]
    """Insert one row (column key -> value) unless the target matches one; RETURNING it."""
    reports_existing: bool
    """Whether ``insert_if_absent`` also returns an existing row, followed by two flags:
    whether a row existed, and whether it is the one ``target`` names."""
    existed: Select[Any] | None = None
    """Reads the first flag again after the statement, for when it came back NULL."""


def _keep_key(table: Table, target: ConflictTarget) -> dict[str, Any]:
    """A no-op assignment: the statement still returns the existing row."""
    key = str(target.columns[0].key)
    return {key: table.c[key]}


_INSERTED = object()
"""Marks an ``onupdate`` that computes what the column's insert default computes."""

_on_updates: WeakKeyDictionary[Table, tuple[tuple[str, Any], ...]] = WeakKeyDictionary()


def _on_update_values(table: Table) -> tuple[tuple[str, Any], ...]:
    """What an UPDATE of ``table`` sets beyond its given values (``onupdate=``), as an
    upsert can write it: a SQL expression or a scalar as it is; a Python function that
    is also the column's insert default (``TimestampMixin.updated_at``) as the value
    the statement computed for the row it would insert. Other Python functions are
    left out: an upsert has no row context to call them with. Cached per table."""
    found = _on_updates.get(table)
    if found is None:
        values: list[tuple[str, Any]] = []
        for column in table.columns:
            on_update = column.onupdate
            if on_update is None or column.primary_key:
                continue
            if on_update.is_clause_element or on_update.is_scalar:
                values.append((str(column.key), getattr(on_update, "arg", None)))
            elif on_update.is_callable and _same_default(column.default, on_update):
                values.append((str(column.key), _INSERTED))
        found = _on_updates[table] = tuple(values)
    return found


def _same_default(default: object, on_update: object) -> bool:
    """Whether an insert default computes what ``on_update`` computes (one function)."""
    return default is not None and getattr(default, "arg", None) is getattr(on_update, "arg", 0)


def _assignments(
    table: Table, target: ConflictTarget, new: Any, update: Sequence[str], version: str | None
) -> dict[str, Any]:
    """``SET`` of an upsert: the given keys from the new row, the version incremented,
    and what the table's ``onupdate=`` defaults set (``ON CONFLICT DO UPDATE`` and
    ``ON DUPLICATE KEY UPDATE`` do not apply them by themselves): ``updated_at`` moves,
    ``created_at`` keeps its stored value unless given in ``update``."""
    assignments = {key: new[key] for key in update if key != version}
    if version is not None:
        assignments[version] = table.c[version] + 1
    on_update = _on_update_values(table)
    if on_update:
        target_keys = {str(column.key) for column in target.columns}
        for key, value in on_update:
            if key not in assignments and key not in target_keys:
                assignments[key] = new[key] if value is _INSERTED else value
    return assignments or _keep_key(table, target)


def _on_conflict_upsert(
    insert: Callable[[Table], Any], dialect: str
) -> Callable[[Table, ConflictTarget, Sequence[str], Returning, str | None], Insert]:
    def build(
        table: Table,
        target: ConflictTarget,
        update: Sequence[str],
        returning: Returning,
        version: str | None,
    ) -> Insert:
        statement = insert(table)
        assignments = _assignments(table, target, statement.excluded, update, version)
        built: Insert = statement.on_conflict_do_update(
            index_elements=list(target.columns),
            index_where=target.index_where.get(dialect),
            set_=assignments,
        )
        return built.returning(*returning)

    return build


def _on_conflict_insert_if_absent(
    insert: Callable[[Table], Any], dialect: str
) -> Callable[[Table, ConflictTarget, Mapping[str, Any], Returning], Insert]:
    def build(
        table: Table, target: ConflictTarget, values: Mapping[str, Any], returning: Returning
    ) -> Insert:
        built: Insert = (
            insert(table)
            .values(dict(values))
            .on_conflict_do_nothing(
                index_elements=list(target.columns),
                index_where=target.index_where.get(dialect),
            )
        )
        return built.returning(*returning)

    return build


ON_CONFLICT_POSTGRESQL = ConflictStatements(
    clause="ON CONFLICT",
    upsert=_on_conflict_upsert(postgresql.insert, "postgresql"),
    insert_if_absent=_on_conflict_insert_if_absent(postgresql.insert, "postgresql"),
    reports_existing=False,
)
ON_CONFLICT_SQLITE = ConflictStatements(
    clause="ON CONFLICT",
    upsert=_on_conflict_upsert(sqlite.insert, "sqlite"),
    insert_if_absent=_on_conflict_insert_if_absent(sqlite.insert, "sqlite"),
    reports_existing=False,
)


def _duplicate_key_upsert(
    table: Table,
    target: ConflictTarget,
    update: Sequence[str],
    returning: Returning,
    version: str | None,
) -> Insert:
    statement = mysql.insert(table)
    assignments = _assignments(table, target, statement.inserted, update, version)
    built: Insert = statement.on_duplicate_key_update(assignments)
    return built.returning(*returning)


# ON DUPLICATE KEY UPDATE reports one affected row both for an insert and for an
# unchanged duplicate under CLIENT_FOUND_ROWS (which SQLAlchemy's MySQL dialects
# set), so the statement marks a duplicate itself: the first inserted value resets
# a session variable, the no-op assignment of the key to itself sets it, and
# RETURNING reads it, all within the one statement. A second flag tells whether
# the row that clashed is the one the target names: MySQL/MariaDB update on a
# clash with any unique key of the table. MariaDB reads a variable the connection
# has never set as NULL for the whole statement: engines from EngineFactory declare
# it on connect; on others the first use reads it again afterwards.
FOUND_FLAG = "@sqla_repo_found"


def _duplicate_key_insert_if_absent(
    table: Table, target: ConflictTarget, values: Mapping[str, Any], returning: Returning
) -> Insert:
    first, *_ = values
    marked = dict(values)
    marked[first] = func.IF(
        literal_column(f"({FOUND_FLAG} := FALSE)"),
        null(),
        bindparam(None, values[first], type_=table.c[first].type),
    )
    key = str(target.columns[0].key)
    statement = mysql.insert(table).values(marked)
    built: Insert = statement.on_duplicate_key_update(
        {key: func.IF(literal_column(f"({FOUND_FLAG} := TRUE)"), table.c[key], table.c[key])}
    )
    named = and_(
        *(
            column.is_not_distinct_from(bindparam(None, values[str(column.key)], type_=column.type))
            for column in target.columns
        )
    )
    return built.returning(*returning, literal_column(FOUND_FLAG), named)


ON_DUPLICATE_KEY = ConflictStatements(
    clause="ON DUPLICATE KEY UPDATE",
    upsert=_duplicate_key_upsert,
    insert_if_absent=_duplicate_key_insert_if_absent,
    reports_existing=True,
    existed=select(literal_column(FOUND_FLAG)),
)
