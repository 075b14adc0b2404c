"""Bulk-write inputs as rows: checked once per set of fields, grouped, put back in order.

``create_many`` and the upserts take model instances and mappings. Each becomes a
:class:`Row` of column values; rows that give the same fields share one statement
(executed for many parameter sets, which SQLAlchemy batches into multi-row
INSERTs). Field names are checked once per set of fields, values on every row
(:mod:`sqla_repo._values`). Nothing here touches a session or a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Column, Integer, Table
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.attributes import instance_state

from ._errors import InvalidFieldError
from ._input import as_fields
from ._keys import key_factories
from ._statements import check_fields, primary_key_fields
from ._timestamps import stamped_keys
from ._values import value_check


class Row(NamedTuple):
    """One input item: the instance given (or ``None``), and its column values.

    ``values`` is ``None`` when the instance holds related objects, which only the
    unit of work can link or insert. (A named tuple: bulk writes make one per item.)
    """

    obj: Any | None
    values: dict[str, Any] | None
    fields: frozenset[str]


class RowBuilder:
    """Turns items into rows for one mapper, checking each distinct set of fields once."""

    __slots__ = (
        "_checked",
        "_columns",
        "_construct",
        "_defaulted",
        "_fill",
        "_generated",
        "_keys",
        "_mapper",
        "_plain",
        "_plans",
        "_ready",
        "_renames",
        "_values",
        "_version",
    )

    def __init__(
        self,
        mapper: Mapper[Any],
        construct: Callable[[Mapping[str, Any]], Any],
        *,
        imply: bool = True,
    ) -> None:
        """``imply=False`` leaves omitted columns omitted (an upsert updates what is given)."""
        self._mapper = mapper
        self._construct = construct
        self._columns = frozenset(mapper.column_attrs.keys())
        self._checked: set[frozenset[str]] = set()
        self._plans: dict[frozenset[str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._ready: dict[frozenset[str], tuple[str, ...]] = {}
        self._values = value_check(mapper)
        init = getattr(mapper.class_manager, "original_init", None)
        # A constructor that only assigns its keyword arguments (the declarative
        # default, no @validates hooks) need not run until the row is stored.
        self._plain = init is mapper.registry.constructor and not mapper.validators
        version = mapper.version_id_col
        generate = mapper.version_id_generator
        self._version = (
            (mapper.get_property_by_column(version).key, generate)
            if version is not None and callable(generate)
            else None
        )
        self._renames = {
            prop.key: str(prop.columns[0].key)
            for prop in mapper.column_attrs
            if prop.key != prop.columns[0].key
        }
        self._keys = primary_key_fields(mapper)
        # given as None, these are left to be generated, as the unit of work leaves them
        self._defaulted = self._keys + _stamped_fields(mapper)
        self._generated = key_factories(mapper)
        self._fill = _implied_values(mapper) if imply else {}

    def row(self, item: Any) -> Row:
        """The row of one item, its field names and values checked."""
        return self._row(item, check=True)

    def rows(self, items: Iterable[Any]) -> list[Row]:
        """The rows of many items, their values checked a column at a time."""
        rows: list[Row] = []
        append = rows.append
        ready = self._ready
        for item in items:
            if type(item) is dict and self._plain:
                # the common case: a dict whose fields were checked and imply nothing
                fields = frozenset(item)
                keys = ready.get(fields)
                if keys is not None and (not keys or all(item[k] is not None for k in keys)):
                    append(Row(None, item, fields))
                    continue
            append(self._row(item, check=False))
        groups: dict[frozenset[str], list[Mapping[str, Any]]] = {}
        for row in rows:
            if row.values is None:
                self._values.values(instance_state(row.obj).dict)
            else:
                groups.setdefault(row.fields, []).append(row.values)
        for fields, values in groups.items():
            self._values.columns(fields, values)
        return rows

    def uniform(self, items: Sequence[Any]) -> bool:
        """Whether every item is a dict giving the same fields, to be written as they are
        (checked, nothing implied to fill, no key left to the database); if so, their
        values are checked too. No :class:`Row` is made: a bulk load's fast path."""
        if not items or not self._plain or type(items[0]) is not dict:
            return False
        first = items[0]
        self._row(first, check=False)  # checks its fields and works out what they imply
        fields = frozenset(first)
        keys = self._ready.get(fields)
        if keys is None:
            return False
        shape = first.keys()
        if not all(type(item) is dict and item.keys() == shape for item in items):
            return False
        if any(item[key] is None for key in keys for item in items):
            return False
        self._values.columns(fields, items)
        return True

    def _row(self, item: Any, *, check: bool) -> Row:
        item = as_fields(item, self._mapper.class_)
        if self._plain and isinstance(item, Mapping):
            fields = frozenset(item)
            if fields not in self._checked:
                check_fields(self._mapper, fields, primary_key_allowed=True)
                if fields <= self._columns:
                    self._checked.add(fields)
            if fields in self._checked:
                if check:
                    self._values.values(item)
                return self._completed(None, item, fields)
        obj = self._construct(item)
        state = instance_state(obj)
        if not state.transient:
            raise InvalidFieldError(
                f"{type(obj).__name__} instances given to a bulk write must be new "
                f"(transient), not already in a session"
            )
        if check:
            self._values.values(state.dict)
        given = self._values_of(obj)
        if given is None:
            return Row(obj, None, frozenset())
        return self._completed(obj, given, frozenset(given))

    def params(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """``values`` keyed by column key, as Core statements take them."""
        if not self._renames:
            return values
        return {self._renames.get(name, name): value for name, value in values.items()}

    def all_params(self, values: Sequence[Any]) -> Sequence[Mapping[str, Any]]:
        """:meth:`params` of many rows' values (none of them ``None``)."""
        if not self._renames:
            return values
        return [self.params(row) for row in values]

    def column_key(self, name: str) -> str:
        return self._renames.get(name, name)

    def _values_of(self, obj: Any) -> dict[str, Any] | None:
        stored = instance_state(obj).dict
        if any(stored.get(rel.key) not in (None, []) for rel in self._mapper.relationships):
            return None  # related objects to link or insert: the unit of work's job
        return {key: stored[key] for key in self._columns if key in stored}

    def _completed(self, obj: Any, values: Mapping[str, Any], fields: frozenset[str]) -> Row:
        """The row as it is written: a key (or a ``TimestampMixin`` stamp) given as
        ``None`` is left to be generated (as the unit of work does), and values the row
        implies (NULL for an omitted nullable column, a scalar default, the discriminator,
        the first version) are written out, so that rows giving different fields still
        share a statement.
        A key the model makes in Python (``UUIDv7PrimaryKeyMixin``) is made here, row by
        row in input order, where the row leaves it out or gives ``None``."""
        if self._generated:
            values, fields = self._with_generated_keys(values, fields)
        plan = self._plans.get(fields)
        if plan is None:
            given_keys = tuple(key for key in self._defaulted if key in fields)
            plan = self._plans[fields] = (given_keys, tuple(self._fill.keys() - fields))
        given_keys, missing = plan
        if not missing and self._version is None and fields in self._checked:
            self._ready.setdefault(fields, given_keys)  # rows() takes such dicts as they are
        empty = [key for key in given_keys if values[key] is None] if given_keys else ()
        version = self._version
        unversioned = version is not None and values.get(version[0]) is None
        if not empty and not missing and not unversioned and isinstance(values, dict):
            return Row(obj, values, fields)
        completed = {key: value for key, value in values.items() if key not in empty}
        for key in missing:
            completed[key] = self._fill[key]
        if version is not None and unversioned:
            completed[version[0]] = version[1](None)
        return Row(obj, completed, frozenset(completed))

    def _with_generated_keys(
        self, values: Mapping[str, Any], fields: frozenset[str]
    ) -> tuple[Mapping[str, Any], frozenset[str]]:
        absent = [(name, make) for name, make in self._generated if values.get(name) is None]
        if not absent:
            return values, fields
        made = dict(values)
        for name, make in absent:
            made[name] = make()
        return made, frozenset(made)


def _stamped_fields(mapper: Mapper[Any]) -> tuple[str, ...]:
    """The attributes of the columns stamped on insert (``TimestampMixin``)."""
    table = mapper.local_table
    keys = stamped_keys(table) if isinstance(table, Table) else ()
    return tuple(mapper.get_property_by_column(table.c[key]).key for key in keys)


def _implied_values(mapper: Mapper[Any]) -> dict[str, Any]:
    """What a row that omits a column stores there, where that is known in advance."""
    implied: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if not isinstance(column, Column) or column.primary_key:
            continue
        if column.server_default is not None or column.server_onupdate is not None:
            continue
        default = column.default
        if default is None:
            if column.nullable:
                implied[prop.key] = None
        elif default.is_scalar:
            implied[prop.key] = getattr(default, "arg", None)
    on = mapper.polymorphic_on
    if isinstance(on, Column) and mapper.polymorphic_identity is not None:
        implied[mapper.get_property_by_column(on).key] = mapper.polymorphic_identity
    return implied


def grouped(rows: Sequence[Row]) -> Iterable[tuple[frozenset[str], list[int]]]:
    """Row indices grouped by the fields they give (one statement per group)."""
    groups: dict[frozenset[str], list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(row.fields, []).append(index)
    return groups.items()


def in_processing_order(
    rows: Sequence[Any], columns: Sequence[Column[Any]], generated_key: bool
) -> Sequence[Any]:
    """``rows`` of ``INSERT ... VALUES ... RETURNING`` in the order they were inserted.

    Every backend returns them in the order of the VALUES list, but SQLite documents
    that order as arbitrary. A key the database generated from a sequence or rowid
    grows in insertion order, so sorting by it restores the order where that matters.
    """
    keys = [i for i, column in enumerate(columns) if column.primary_key]
    if not generated_key or len(keys) != 1 or not isinstance(columns[keys[0]].type, Integer):
        return rows
    position = keys[0]
    return sorted(rows, key=lambda row: row[position])
