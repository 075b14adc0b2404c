"""One-statement writes by primary key: ``update(pk)`` and ``delete(pk)``.

The textbook way to change one row is read-modify-write: ``session.get`` (a
SELECT), assign, flush (an UPDATE); deleting is the same SELECT, then a DELETE.
When the session does not hold the object yet, the SELECT is only there to give
the unit of work something to diff. Here the row is written in one statement:

- ``update``: ``UPDATE ... WHERE key RETURNING every column`` where the backend
  has UPDATE RETURNING, the returned row becoming the session's object exactly as
  a read would (persistent, loaded, nothing pending);
- ``delete``: ``DELETE ... WHERE key``, the row count deciding ``NotFoundError``
  (for a soft-delete model ``UPDATE ... SET deleted_at WHERE key AND deleted_at IS
  NULL``, see :meth:`KeyWritePlan.mark`; ``update`` also requires a live row).

Whenever the ORM would do more than write that one row, the caller takes the
unit-of-work path instead: the object is already in the session; the model spans
several tables or is polymorphic; mapper, session-flush or load events are
listened to; a value goes through a ``@validates`` hook or an attribute event; a
relationship loads eagerly by default (a read would load it); a column property is
not a plain column; a custom version generator; for ``delete``, a relationship
whose delete the ORM carries out (a one-to-many or many-to-many, a delete
cascade). The plan of what a model allows is worked out once per mapper; the
listener checks run on every call, since listeners can be added at any time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Column, ColumnElement, Table, and_, bindparam, delete, update
from sqlalchemy.orm import Mapper, RelationshipDirection, Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.roles import ExpressionElementRole

from ._soft_delete import soft_delete_of

_EXPRESSIONS = (ClauseElement, ExpressionElementRole)
"""Values written as SQL (an ORM attribute or expression), not as parameters."""
_EAGER = frozenset({"selectin", "joined", "subquery", "immediate"})
_FLUSH_EVENTS = ("before_flush", "after_flush", "after_flush_postexec")
_DELETE_EVENTS = ("persistent_to_deleted", "deleted_to_detached")


@dataclass(slots=True)
class KeyWritePlan:
    """What one mapper allows, worked out once, and the statements built so far (no
    reference to the mapper itself: the plans are cached by weak reference to it)."""

    table: Table
    keys: tuple[ColumnElement[Any], ...]
    """The primary-key columns, in key order."""
    updatable: bool
    deletable: bool
    columns: dict[str, Column[Any]]
    """Attribute name -> table column, for every plain column attribute."""
    version: str | None
    """The version column's attribute, incremented by the UPDATE (``None``: none, or
    the server increments it)."""
    deleted_at: Column[Any] | None = None
    """A soft-delete model's ``deleted_at``: updates and marks require it NULL."""
    _mark: Any = None
    _updates: dict[frozenset[str], tuple[Any, dict[str, str]]] = field(default_factory=dict)
    _delete: Any = None

    def update(
        self, mapper: Mapper[Any], key: tuple[Any, ...], values: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]] | None:
        """``UPDATE ... RETURNING`` every stored column and its parameters, or ``None``
        if a value needs the ORM.

        Statements for plain values are built once per set of fields, with bound
        parameters (SQL expressions among the values are built into a statement of
        their own).
        """
        columns = self.columns
        if not self.updatable or not values or not columns.keys() >= values.keys():
            return None
        manager = mapper.class_manager
        if any(manager[name].dispatch.set for name in values):
            return None  # attribute events (validators, mutable types) must see the value
        params = self._key_params(key)
        if any(isinstance(value, _EXPRESSIONS) for value in values.values()):
            return self._update_statement(values), params
        names = frozenset(values)
        built = self._updates.get(names)
        if built is None:
            # parameter names no column can have (SQLAlchemy reserves column names)
            bound = {name: f"sqla_repo_v{i}" for i, name in enumerate(sorted(names))}
            parameters = {name: bindparam(bound[name], type_=columns[name].type) for name in names}
            built = self._updates[names] = (self._update_statement(parameters), bound)
        statement, bound = built
        params.update({bound[name]: value for name, value in values.items()})
        return statement, params

    def delete(self, key: tuple[Any, ...]) -> tuple[Any, dict[str, Any]]:
        """``DELETE ... WHERE key`` and its parameters (for a :attr:`deletable` model)."""
        if self._delete is None:
            self._delete = delete(self.table).where(self._key_clause())
        return self._delete, self._key_params(key)

    def mark(self, key: tuple[Any, ...], when: Any) -> tuple[Any, dict[str, Any]]:
        """``UPDATE ... SET deleted_at = when WHERE key AND deleted_at IS NULL`` and its
        parameters (a soft delete; the version incremented, ``onupdate`` columns set)."""
        deleted_at = self.deleted_at
        if deleted_at is None:
            raise TypeError("mark() needs a soft-delete model")
        if self._mark is None:
            assigned: dict[Any, Any] = {
                deleted_at: bindparam("sqla_repo_deleted_at", type_=deleted_at.type)
            }
            if self.version is not None:
                version = self.columns[self.version]
                assigned[version] = version + 1
            self._mark = (
                update(self.table).where(self._key_clause(), deleted_at.is_(None)).values(assigned)
            )
        params = self._key_params(key)
        params["sqla_repo_deleted_at"] = when
        return self._mark, params

    def _update_statement(self, values: dict[str, Any]) -> Any:
        columns = self.columns
        assigned: dict[Any, Any] = {columns[name]: value for name, value in values.items()}
        if self.version is not None:
            version = columns[self.version]
            assigned.setdefault(version, version + 1)
        where = self._key_clause()
        if self.deleted_at is not None:
            where = and_(where, self.deleted_at.is_(None))
        return update(self.table).where(where).values(assigned).returning(*columns.values())

    def _key_clause(self) -> ColumnElement[bool]:
        return and_(
            *(
                column == bindparam(f"sqla_repo_k{i}", type_=column.type)
                for i, column in enumerate(self.keys)
            )
        )

    @staticmethod
    def _key_params(key: tuple[Any, ...]) -> dict[str, Any]:
        return {f"sqla_repo_k{i}": value for i, value in enumerate(key)}


_plans: WeakKeyDictionary[Mapper[Any], KeyWritePlan] = WeakKeyDictionary()


def key_write_plan(mapper: Mapper[Any]) -> KeyWritePlan:
    """The (cached) plan of one-statement writes for ``mapper``."""
    plan = _plans.get(mapper)
    if plan is None:
        plan = _plans[mapper] = _plan(mapper)
    return plan


def statement_allowed(mapper: Mapper[Any], session: Session, *, deleting: bool) -> bool:
    """No listener of this call's events is registered (mapper, load and flush events)."""
    mapper_events = mapper.dispatch
    if deleting:
        if mapper_events.before_delete or mapper_events.after_delete:
            return False
    elif (
        mapper_events.before_update
        or mapper_events.after_update
        or mapper.class_manager.dispatch.load
        or mapper.class_manager.dispatch.refresh
    ):
        return False
    session_events = session.dispatch
    names = _FLUSH_EVENTS + (_DELETE_EVENTS if deleting else ())
    return not any(getattr(session_events, name) for name in names)


def _plan(mapper: Mapper[Any]) -> KeyWritePlan:
    table = mapper.local_table
    single = (
        len(mapper.tables) == 1
        and mapper.inherits is None
        and mapper.polymorphic_on is None
        and isinstance(table, Table)
    )
    columns: dict[str, Column[Any]] = {}
    plain = True
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if len(prop.columns) == 1 and isinstance(column, Column) and column.table is table:
            columns[prop.key] = column
        else:
            plain = False  # a SQL expression property: a read loads it, RETURNING cannot
    relationships = list(mapper.relationships)
    eager = any(rel.lazy in _EAGER for rel in relationships)
    generator = mapper.version_id_generator
    version_column = mapper.version_id_col
    version: str | None = None
    default_versions = True
    if version_column is not None and generator is not False:
        version = mapper.get_property_by_column(version_column).key
        # the mapper's own counter ((x or 0) + 1) is what ``version + 1`` computes
        default_versions = getattr(generator, "__module__", None) == Mapper.__module__
    validated = bool(mapper.validators)
    updatable = single and plain and not eager and default_versions and not validated
    deletable = single and all(_ignores_delete(rel) for rel in relationships)
    soft = soft_delete_of(mapper)
    return KeyWritePlan(
        table=cast("Table", table),
        keys=tuple(mapper.primary_key),
        updatable=updatable,
        deletable=deletable,
        columns=columns,
        version=version,
        deleted_at=soft.column if soft is not None and soft.column.table is table else None,
    )


def _ignores_delete(rel: Any) -> bool:
    """Whether the ORM does nothing to other rows when an object of this side is deleted."""
    if rel.viewonly or rel.passive_deletes == "all":
        return True
    return rel.direction is RelationshipDirection.MANYTOONE and not rel.cascade.delete
