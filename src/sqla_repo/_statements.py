"""Pure functions from a mapper and call arguments to checked fields and SQL clauses.

Nothing here touches a session or a database, so every check runs before any SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

from sqlalchemy import Column, ColumnElement
from sqlalchemy.orm import ColumnProperty, Mapper, QueryableAttribute, RelationshipProperty
from sqlalchemy.sql import visitors

from ._errors import InvalidFieldError

OrderKey: TypeAlias = "str | QueryableAttribute[Any] | ColumnElement[Any]"
"""A column name, a mapped attribute, or an expression such as ``Model.col.desc()``."""

OrderBy: TypeAlias = "OrderKey | Sequence[OrderKey]"


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


def order_clauses(mapper: Mapper[Any], order_by: OrderBy | None) -> list[ColumnElement[Any]]:
    """The ORDER BY clauses for ``order_by``; the primary key, ascending, when ``None``.

    Column names are looked up on the model (never used as SQL text); a name or
    attribute that is not one of the model's columns raises :class:`InvalidFieldError`.
    """
    if order_by is None:
        return [column.asc() for column in mapper.primary_key]
    keys: Sequence[object] = (
        order_by if isinstance(order_by, Sequence) and not isinstance(order_by, str) else [order_by]
    )
    return [_order_clause(mapper, key) for key in keys]


def _order_clause(mapper: Mapper[Any], key: object) -> ColumnElement[Any]:
    model = mapper.class_.__name__
    if isinstance(key, str):
        prop = mapper.attrs.get(key)
        if not isinstance(prop, ColumnProperty):
            raise InvalidFieldError(f"cannot order {model} by {key!r}: not a column of {model}")
        attribute: QueryableAttribute[Any] = prop.class_attribute
        return attribute.asc()
    if isinstance(key, QueryableAttribute):
        parent = key.parent
        if not (
            isinstance(key.property, ColumnProperty)
            and isinstance(parent, Mapper)
            and mapper.isa(parent)
        ):
            raise InvalidFieldError(f"cannot order {model} by {key}: not a column of {model}")
        return key.asc()
    if isinstance(key, ColumnElement):
        # an expression (``Model.col.desc()``, ``func.lower(Model.col)``) may only
        # read the model's own tables; another table would join it in silently
        tables = set(mapper.tables)
        for element in visitors.iterate(key):
            if isinstance(element, Column) and element.table not in tables:
                raise InvalidFieldError(
                    f"cannot order {model} by {element.table.name}.{element.name}: "
                    f"not a column of {model}"
                )
        return key
    raise InvalidFieldError(f"cannot order {model} by a {type(key).__name__}")


def check_window(limit: int | None, offset: int) -> None:
    """Reject a negative ``limit`` or ``offset`` before any SQL."""
    if limit is not None and limit < 0:
        raise InvalidFieldError(f"limit must be None or an integer >= 0, not {limit!r}")
    if offset < 0:
        raise InvalidFieldError(f"offset must be an integer >= 0, not {offset!r}")
