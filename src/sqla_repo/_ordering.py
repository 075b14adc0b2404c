"""Orderings as data: sort keys, their ORDER BY clauses and keyset predicates.

Pure functions from a mapper and the caller's ``order_by`` to :class:`SortKey`
rows. Names are looked up on the model and never compiled as SQL text; nothing
here touches a session or a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast

from sqlalchemy import Column, ColumnElement, TextClause, and_, false, or_
from sqlalchemy.orm import ColumnProperty, Mapper, QueryableAttribute
from sqlalchemy.orm import exc as orm_exc
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import ColumnClause, UnaryExpression

from ._errors import InvalidFieldError

if TYPE_CHECKING:
    # what desc(Model.attr) is typed to return since SQLAlchemy 2.1
    from sqlalchemy.sql.elements import OrderByList

OrderKey: TypeAlias = "str | QueryableAttribute[Any] | ColumnElement[Any] | OrderByList"
"""A column name (``"-name"`` for descending), a mapped attribute, or an expression
such as ``Model.col.desc()``."""

OrderBy: TypeAlias = "OrderKey | Sequence[OrderKey]"
"""One :data:`OrderKey` or a sequence of them."""

Nulls = Literal["first", "last"]

_DIRECTIONS: dict[Any, bool] = {operators.asc_op: False, operators.desc_op: True}
_NULLS: dict[Any, Nulls] = {operators.nulls_first_op: "first", operators.nulls_last_op: "last"}


@dataclass(frozen=True, slots=True)
class SortKey:
    """One term of an ordering: what is compared, in which direction, where NULLs go."""

    expression: ColumnElement[Any]
    descending: bool = False
    nulls: Nulls | None = None
    """NULL placement the caller asked for; ``None``: the backend's own."""
    attribute: str | None = None
    """The model attribute when the key is one of its columns."""
    nullable: bool = True

    def clauses(self, *, nulls_keyword: bool = True) -> list[ColumnElement[Any]]:
        """The ORDER BY terms: one, or two where NULL placement has no keyword (MySQL)."""
        term = self.expression.desc() if self.descending else self.expression.asc()
        if self.nulls is None:
            return [term]
        if nulls_keyword:
            return [term.nulls_first() if self.nulls == "first" else term.nulls_last()]
        is_null = self.expression.is_(None)
        return [is_null.desc() if self.nulls == "first" else is_null.asc(), term]

    def nulls_come_first(self, nulls_low: bool) -> bool:
        """Whether NULLs precede every value, on a backend where NULL sorts low or high."""
        if self.nulls is not None:
            return self.nulls == "first"
        return nulls_low != self.descending

    def describe(self) -> str:
        """A stable text for the key, used to bind cursors to their ordering."""
        what = self.attribute if self.attribute is not None else str(self.expression)
        return f"{what}:{'desc' if self.descending else 'asc'}:{self.nulls or ''}"


def sort_keys(mapper: Mapper[Any], order_by: OrderBy | None) -> list[SortKey]:
    """The keys of ``order_by`` followed by the primary-key columns it lacks, ascending.

    The primary key makes every ordering total, so pages never overlap or skip
    rows that share a value. A name, attribute or expression that is not the
    model's own raises :class:`InvalidFieldError` before any SQL.
    """
    if order_by is None:
        given: list[SortKey] = []
    else:
        items: Sequence[object] = (
            order_by
            if isinstance(order_by, Sequence) and not isinstance(order_by, str)
            else [order_by]
        )
        given = [_sort_key(mapper, item) for item in items]
    named = {key.attribute for key in given}
    for column in mapper.primary_key:
        prop = cast("ColumnProperty[Any]", mapper.get_property_by_column(column))
        if prop.key not in named:
            given.append(_column_key(prop, descending=False, nulls=None))
    return given


def order_clauses(
    keys: Sequence[SortKey], *, nulls_keyword: bool = True
) -> list[ColumnElement[Any]]:
    return [term for key in keys for term in key.clauses(nulls_keyword=nulls_keyword)]


def after_clause(
    keys: Sequence[SortKey], values: Sequence[object], *, nulls_low: bool
) -> ColumnElement[bool]:
    """The rows that come strictly after a row whose key values are ``values``.

    Expanded as ``k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...`` (each comparison turned
    for descending keys, NULLs placed as the backend sorts them), with a leading
    range on the first key so an index on it can serve the query.
    """
    branches: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for key, value in zip(keys, values, strict=True):
        beyond = _beyond(key, value, nulls_low)
        if beyond is not None:
            branches.append(and_(*equal, beyond))
        equal.append(key.expression.is_(None) if value is None else key.expression == value)
    if not branches:
        return false()
    condition = or_(*branches)
    if len(keys) > 1 and (bound := _leading_bound(keys[0], values[0], nulls_low)) is not None:
        return and_(bound, condition)
    return condition


def ordering_signature(mapper: Mapper[Any], keys: Sequence[SortKey]) -> str:
    """What a cursor is bound to: the model and its ordering's columns and directions."""
    table = mapper.local_table
    name = getattr(table, "fullname", mapper.class_.__name__)
    return f"{mapper.class_.__name__}@{name}|" + "|".join(key.describe() for key in keys)


def _beyond(key: SortKey, value: object, nulls_low: bool) -> ColumnElement[bool] | None:
    """``key`` strictly after ``value``; ``None`` when nothing can be."""
    expression = key.expression
    nulls_first = key.nulls_come_first(nulls_low)
    if value is None:
        return expression.is_not(None) if nulls_first and key.nullable else None
    compared = expression < value if key.descending else expression > value
    if not nulls_first and key.nullable:
        return or_(compared, expression.is_(None))
    return compared


def _leading_bound(key: SortKey, value: object, nulls_low: bool) -> ColumnElement[bool] | None:
    expression = key.expression
    nulls_first = key.nulls_come_first(nulls_low)
    if value is None:
        return None if nulls_first else expression.is_(None)
    bound = expression <= value if key.descending else expression >= value
    if not nulls_first and key.nullable:
        return or_(bound, expression.is_(None))
    return bound


def _sort_key(mapper: Mapper[Any], item: object) -> SortKey:
    model = mapper.class_.__name__
    if isinstance(item, str):
        descending = item.startswith("-")
        return _column_key(_named_column(mapper, item[1:] if descending else item), descending)
    if isinstance(item, QueryableAttribute):
        return _column_key(_attribute_column(mapper, item), descending=False)
    if isinstance(item, UnaryExpression):
        return _unary_key(mapper, item)
    if isinstance(item, ColumnElement):
        return _expression_key(mapper, item, descending=False, nulls=None)
    raise InvalidFieldError(f"cannot order {model} by a {type(item).__name__}")


def _unary_key(mapper: Mapper[Any], item: UnaryExpression[Any]) -> SortKey:
    """``col.desc()``, ``desc("name")``, ``col.asc().nulls_last()`` and the like."""
    descending = False
    nulls: Nulls | None = None
    element: object = item
    while isinstance(element, UnaryExpression):
        modifier = element.modifier
        if modifier in _NULLS:
            nulls = _NULLS[modifier]
        elif modifier in _DIRECTIONS:
            descending = _DIRECTIONS[modifier]
        else:
            break
        element = element.element
    if isinstance(element, ColumnElement):
        return _expression_key(mapper, element, descending=descending, nulls=nulls)
    raise InvalidFieldError(f"cannot order {mapper.class_.__name__} by a {type(element).__name__}")


def _expression_key(
    mapper: Mapper[Any], element: ColumnElement[Any], *, descending: bool, nulls: Nulls | None
) -> SortKey:
    name = _bare_name(element)
    if name is not None:  # desc("name"), literal_column("name"): a name, looked up
        return _column_key(_named_column(mapper, name), descending, nulls)
    if isinstance(element, Column):
        return _column_key(_table_column(mapper, element), descending, nulls)
    model = mapper.class_.__name__
    tables = set(mapper.tables)
    for part in visitors.iterate(element):
        if isinstance(part, TextClause) or _bare_name(part) is not None:
            raise InvalidFieldError(
                f"cannot order {model} by SQL text: name a column of {model} instead"
            )
        if isinstance(part, Column) and part.table not in tables:
            raise InvalidFieldError(
                f"cannot order {model} by {part.table.name}.{part.name}: not a column of {model}"
            )
    return SortKey(element, descending, nulls)


def _bare_name(element: object) -> str | None:
    """The name inside ``desc("name")``, ``literal_column("name")`` or ``column("name")``."""
    if isinstance(element, ColumnClause) and element.table is None:
        return str(element.name)
    inner = getattr(element, "element", None)
    if isinstance(element, ColumnElement) and isinstance(inner, str):
        return inner  # the textual label reference that desc("name") builds
    return None


def _column_key(prop: ColumnProperty[Any], descending: bool, nulls: Nulls | None = None) -> SortKey:
    attribute: QueryableAttribute[Any] = prop.class_attribute
    nullable = any(getattr(column, "nullable", True) for column in prop.columns)
    return SortKey(attribute.expression, descending, nulls, prop.key, nullable)


def _named_column(mapper: Mapper[Any], name: str) -> ColumnProperty[Any]:
    prop = mapper.attrs.get(name)
    if not isinstance(prop, ColumnProperty):
        model = mapper.class_.__name__
        raise InvalidFieldError(f"cannot order {model} by {name!r}: not a column of {model}")
    return prop


def _attribute_column(mapper: Mapper[Any], item: QueryableAttribute[Any]) -> ColumnProperty[Any]:
    parent = item.parent
    if not (
        isinstance(item.property, ColumnProperty)
        and isinstance(parent, Mapper)
        and mapper.isa(parent)
    ):
        model = mapper.class_.__name__
        raise InvalidFieldError(f"cannot order {model} by {item}: not a column of {model}")
    return item.property


def _table_column(mapper: Mapper[Any], column: Column[Any]) -> ColumnProperty[Any]:
    model = mapper.class_.__name__
    if column.table in set(mapper.tables):
        try:
            prop = mapper.get_property_by_column(column)
        except orm_exc.UnmappedColumnError:
            pass
        else:
            if isinstance(prop, ColumnProperty):
                return prop
    raise InvalidFieldError(
        f"cannot order {model} by {column.table.name}.{column.name}: not a column of {model}"
    )
