"""Bulk-write inputs as rows: checked once per set of fields, grouped, put back in order.

``create_many`` and the upserts take model instances and mappings. Each becomes a
:class:`Row` of column values; rows that give the same fields share one statement
(executed for many parameter sets, which SQLAlchemy batches into multi-row
INSERTs). Nothing here touches a session or a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.attributes import instance_state

from ._errors import InvalidFieldError
from ._statements import check_fields


@dataclass(frozen=True, slots=True)
class Row:
    """One input item: the instance given (or ``None``), and its column values.

    ``values`` is ``None`` when the instance holds related objects, which only the
    unit of work can link or insert.
    """

    obj: Any | None
    values: dict[str, Any] | None
    fields: frozenset[str]


class RowBuilder:
    """Turns items into rows for one mapper, checking each distinct set of fields once."""

    __slots__ = ("_checked", "_columns", "_construct", "_mapper", "_plain", "_renames", "_version")

    def __init__(self, mapper: Mapper[Any], construct: Callable[[Mapping[str, Any]], Any]) -> None:
        self._mapper = mapper
        self._construct = construct
        self._columns = frozenset(mapper.column_attrs.keys())
        self._checked: set[frozenset[str]] = set()
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

    def row(self, item: Any) -> Row:
        if self._plain and isinstance(item, Mapping):
            fields = frozenset(item)
            if fields not in self._checked:
                check_fields(self._mapper, fields, primary_key_allowed=True)
                if fields <= self._columns:
                    self._checked.add(fields)
            if fields in self._checked:
                plain = item if isinstance(item, dict) and self._version is None else dict(item)
                return Row(None, self._with_version(plain), fields)
        obj = self._construct(item)
        if not instance_state(obj).transient:
            raise InvalidFieldError(
                f"{type(obj).__name__} instances given to a bulk write must be new "
                f"(transient), not already in a session"
            )
        given = self._values_of(obj)
        return Row(obj, given, frozenset(given or ()))

    def params(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """``values`` keyed by column key, as Core statements take them."""
        if not self._renames:
            return values
        return {self._renames.get(name, name): value for name, value in values.items()}

    def column_key(self, name: str) -> str:
        return self._renames.get(name, name)

    def _values_of(self, obj: Any) -> dict[str, Any] | None:
        stored = instance_state(obj).dict
        values = {key: stored[key] for key in self._columns if key in stored}
        if any(stored.get(rel.key) not in (None, []) for rel in self._mapper.relationships):
            return None  # related objects to link or insert: the unit of work's job
        return self._with_version(values)

    def _with_version(self, values: dict[str, Any]) -> dict[str, Any]:
        if self._version is not None:
            key, generate = self._version
            if values.get(key) is None:
                values[key] = generate(None)
        return values


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
