"""Pure functions from a mapper and call arguments to checked fields and SQL clauses.

Nothing here touches a session or a database, so every check runs before any SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Index,
    TextClause,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import ColumnProperty, Mapper, QueryableAttribute, RelationshipProperty
from sqlalchemy.sql.selectable import FromClause

from ._errors import InvalidFieldError

Where: TypeAlias = "ColumnExpressionArgument[bool] | TextClause"
"""A condition: any SQLAlchemy boolean expression, ``text("...")`` included."""

FieldName: TypeAlias = "str | QueryableAttribute[Any]"
"""A field named by its attribute name (``"sku"``) or its mapped attribute (``Product.sku``)."""

MAX_WINDOW = 2**63 - 1
"""The largest ``limit`` or ``offset`` every backend accepts (a signed 64-bit integer)."""

MAX_BATCH = 2**31 - 1
"""The largest ``batch_size`` of a stream (drivers fetch with a signed 32-bit count)."""


def primary_key_fields(mapper: Mapper[Any]) -> tuple[str, ...]:
    """Attribute names of the primary-key columns, in key order (fixed once mapped)."""
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def check_fields(mapper: Mapper[Any], names: Iterable[str], *, primary_key_allowed: bool) -> None:
    """Raise :class:`InvalidFieldError` for a name the model cannot take.

    Unknown names always fail; primary-key names fail unless ``primary_key_allowed``
    (a create may set a natural key; an update may never change one).
    """
    keys = () if primary_key_allowed else primary_key_fields(mapper)
    model = mapper.class_.__name__
    attrs = mapper.attrs
    for name in names:
        if not isinstance(name, str):
            raise InvalidFieldError(
                f"{model} field names must be strings, not {type(name).__name__}"
            )
        # mapped columns and relationships; never plain attributes, hybrids or methods
        if not isinstance(attrs.get(name), ColumnProperty | RelationshipProperty):
            raise InvalidFieldError(f"{model} has no field {name!r}")
        if name in keys:
            raise InvalidFieldError(
                f"{model}.{name} is part of the primary key and cannot be changed"
            )


def field_name(mapper: Mapper[Any], item: object) -> str:
    """The attribute name of a column given by name or mapped attribute of this model."""
    model = mapper.class_.__name__
    if isinstance(item, QueryableAttribute):
        parent = item.parent
        if not (isinstance(parent, Mapper) and mapper.isa(parent)):
            raise InvalidFieldError(f"{item} is not a field of {model}")
        item = item.key
    if not isinstance(item, str):
        raise InvalidFieldError(f"{model} fields are named by strings or attributes, not {item!r}")
    if not isinstance(mapper.attrs.get(item), ColumnProperty):
        raise InvalidFieldError(f"{model} has no column {item!r}")
    return item


def column_values(
    mapper: Mapper[Any], values: Mapping[Any, Any], *, primary_key_allowed: bool
) -> dict[str, Any]:
    """``values`` keyed by attribute name, checked to be columns of the model.

    Keys may be names or mapped attributes; relationships are refused, since bulk
    statements write columns only.
    """
    named = {field_name(mapper, key): value for key, value in values.items()}
    check_fields(mapper, named, primary_key_allowed=primary_key_allowed)
    return named


def _column_property(mapper: Mapper[Any], name: str) -> ColumnProperty[Any]:
    return cast("ColumnProperty[Any]", mapper.attrs[name])  # field_name() checked it


def check_window(limit: int | None, offset: int) -> None:
    """Reject a ``limit`` or ``offset`` outside 0..2**63-1 before any SQL."""
    if limit is not None and not _in_window(limit):
        raise InvalidFieldError(f"limit must be None or an integer in 0..{MAX_WINDOW}")
    if not _in_window(offset):
        raise InvalidFieldError(f"offset must be an integer in 0..{MAX_WINDOW}")


def check_positive(name: str, value: int, *, maximum: int = MAX_WINDOW) -> None:
    """Reject a page size or batch size outside 1..``maximum`` before any SQL."""
    if not _in_window(value) or not 1 <= value <= maximum:
        raise InvalidFieldError(f"{name} must be an integer in 1..{maximum}")


def _in_window(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_WINDOW


def check_where(mapper: Mapper[Any], where: Sequence[Where]) -> None:
    """Refuse conditions that would add another table to the FROM clause.

    ``Pets.list(Owner.name == "ann")`` would otherwise cross-join every owner into
    the result. Correlated subqueries (``Pet.owner.has(...)``) add no FROM entry.
    """
    if not where:
        return
    # What the conditions add to FROM, read off the clause itself (what SQLAlchemy's
    # own FROM list is built from): Select.get_final_froms() would compile the whole
    # ORM statement, hundreds of microseconds, on every call.
    froms = and_(*where)._from_objects
    own = set(mapper.tables) | {mapper.selectable, mapper.persist_selectable}
    extra = [f for f in froms if f not in own]
    if extra:
        model = mapper.class_.__name__
        names = ", ".join(sorted(_from_name(f) for f in extra))
        raise InvalidFieldError(
            f"a condition on {model} refers to another table ({names}), which would join "
            f"every one of its rows: use a relationship comparison such as "
            f"{model}.<relationship>.has(...) or .any(...), or write a custom query"
        )


def _from_name(clause: FromClause) -> str:
    return str(getattr(clause, "name", None) or getattr(clause, "description", None) or clause)


@dataclass(frozen=True, slots=True)
class ConflictTarget:
    """The columns of the primary key, unique constraint or unique index an upsert names."""

    columns: tuple[ColumnElement[Any], ...]
    attributes: tuple[str, ...]
    index_where: dict[str, Any] = field(default_factory=dict)
    """A partial unique index's condition, per dialect name (``{"postgresql": ...}``)."""


def conflict_target(mapper: Mapper[Any], on: Sequence[FieldName] | FieldName) -> ConflictTarget:
    """Resolve ``on`` to exactly the primary key, one unique constraint or one unique index.

    A subset, a superset, an unknown name or another model's attribute raises
    :class:`InvalidFieldError`.
    """
    model = mapper.class_.__name__
    items: object = [on] if isinstance(on, str | QueryableAttribute) else on
    if not isinstance(items, Sequence) or not items:
        raise InvalidFieldError(f"on= must name the columns of a unique key of {model}")
    names = tuple(field_name(mapper, item) for item in items)
    columns = {column for name in names for column in _column_property(mapper, name).columns}
    table = mapper.local_table
    candidates: list[tuple[Iterable[ColumnElement[Any]], dict[str, Any]]] = [
        (mapper.primary_key, {})
    ]
    candidates += [
        (constraint.columns, {})
        for constraint in getattr(table, "constraints", ())
        if isinstance(constraint, UniqueConstraint)
    ]
    candidates += [
        (index.columns, _index_where(index))
        for index in getattr(table, "indexes", ())
        if index.unique and len(index.expressions) == len(index.columns)
    ]
    for candidate, where in candidates:
        ordered = tuple(candidate)
        if set(ordered) == columns and len(ordered) == len(columns):
            return ConflictTarget(ordered, tuple(dict.fromkeys(names)), where)
    raise InvalidFieldError(
        f"on={list(names)} is not the primary key, a unique constraint or a unique index "
        f"of {model}: an upsert's conflict target must match one exactly"
    )


def _index_where(index: Index) -> dict[str, Any]:
    found = {}
    for dialect in ("postgresql", "sqlite"):
        where = index.dialect_kwargs.get(f"{dialect}_where")
        if where is not None:
            found[dialect] = where
    return found
