"""The row-writing half of ``Repository``: batched inserts, native upserts, get-or-create.

Every method here checks its field names and values before any SQL (an
:class:`~sqla_repo.InvalidFieldError` writes nothing), flushes pending objects
first, and sends one statement per batch: no select-then-write.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar, cast, overload

from pydantic import BaseModel
from sqlalchemy import Column, insert, select
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.orm.attributes import instance_state

from ._base import ModelT, PkT, RepositoryBase
from ._errors import ConflictError, InvalidFieldError, SerializationError
from ._materialize import adopt_loaded, new_instance, register_written
from ._rows import Row, RowBuilder, grouped, in_processing_order
from ._soft_delete import soft_delete_of
from ._statements import (
    FieldName,
    check_fields,
    conflict_target,
    field_name,
    primary_key_fields,
)
from ._timestamps import stamp_rows

_FieldT = TypeVar("_FieldT", bound="str | QueryableAttribute[Any]")

_GET_OR_CREATE_ATTEMPTS = 3


class Writes(RepositoryBase[ModelT, PkT]):
    """``create_many``, ``upsert``, ``upsert_many`` and ``get_or_create``."""

    @overload
    async def create_many(
        self,
        items: Iterable[ModelT | Mapping[str, Any] | BaseModel],
        /,
        *,
        returning: Literal[True] = True,
    ) -> builtins.list[ModelT]: ...
    @overload
    async def create_many(
        self,
        items: Iterable[ModelT | Mapping[str, Any] | BaseModel],
        /,
        *,
        returning: Literal[False],
    ) -> int: ...
    @overload
    async def create_many(
        self, items: Iterable[ModelT | Mapping[str, Any] | BaseModel], /, *, returning: bool
    ) -> builtins.list[ModelT] | int: ...
    async def create_many(
        self, items: Iterable[ModelT | Mapping[str, Any] | BaseModel], /, *, returning: bool = True
    ) -> builtins.list[ModelT] | int:
        """Insert model instances or mappings in batched multi-row INSERTs; return them stored.

        The objects come back in input order, persistent in the session with their
        primary keys and every default the database filled in (``RETURNING``). Batches
        stay under the driver's bound-parameter limit, on every backend (SQLite
        included: never one INSERT per row). Omitted columns whose value is known in
        advance (NULL, a scalar default) are written out, so rows that give different
        fields still share a statement. ``[]`` sends no SQL. Instances that carry
        related objects to link or insert, and joined-table inheritance, are handed
        to the unit of work instead (which on SQLite inserts row by row). Flushes;
        never commits.

        ``returning=False`` loads rows without reading them back: it returns the number
        of rows written and adds nothing to the session (instances given stay
        transient). PostgreSQL through asyncpg copies them in (``COPY``, binary), other
        backends send one executemany INSERT per set of fields. Items must hold column
        values only (related objects raise :class:`~sqla_repo.InvalidFieldError`).
        """
        builder = RowBuilder(self._mapper, self._instance)
        if not returning:
            return await self._load_rows(builder, items)
        rows = builder.rows(items)
        if not rows:
            return []
        if any(row.values is None for row in rows) or not await self._core_writes():
            return await self._insert_by_unit_of_work(rows)
        key_names = set(primary_key_fields(self._mapper))
        written: list[Any] = [None] * len(rows)
        for fields, members in grouped(rows):
            read_back = [
                column
                for column in self._stored_columns
                if column.primary_key or self._attribute_of(column) not in fields
            ]
            statement = insert(self._table).returning(*read_back)
            params = [builder.params(cast("dict[str, Any]", rows[i].values)) for i in members]
            with self.translate_errors():
                returned = (await self._session.execute(statement, params)).all()
            returned = in_processing_order(returned, read_back, not key_names & fields)
            stored = self._register([self._object(rows[i]) for i in members], read_back, returned)
            for i, obj in zip(members, stored, strict=True):
                written[i] = obj
        return written

    async def upsert(
        self,
        item: ModelT | Mapping[str, Any] | BaseModel,
        /,
        *,
        on: Sequence[FieldName] | FieldName | None = None,
        update: Sequence[FieldName] | None = None,
    ) -> ModelT:
        """Insert ``item``, or update the row it clashes with on ``on``; return the stored row.

        One atomic statement (PostgreSQL/SQLite ``ON CONFLICT ... DO UPDATE``,
        MySQL/MariaDB ``ON DUPLICATE KEY UPDATE``), never select-then-write; concurrent
        upserts of one key leave one row and raise nothing. ``on`` names exactly the
        primary key (the default), one unique constraint or one unique index, as names
        or attributes; anything else raises :class:`~sqla_repo.InvalidFieldError`
        before any SQL. ``update`` defaults to every column given in ``item`` except
        the primary key and the ``on`` columns; columns with an ``onupdate=`` default
        are set as an UPDATE sets them (``TimestampMixin``: ``updated_at`` moves,
        ``created_at`` stays unless given). MySQL/MariaDB update on a clash with
        any unique key of the table. An object the session already holds for the row
        is updated in place and returned. Flushes; never commits.
        """
        return (await self.upsert_many([item], on=on, update=update))[0]

    async def upsert_many(
        self,
        items: Iterable[ModelT | Mapping[str, Any] | BaseModel],
        /,
        *,
        on: Sequence[FieldName] | FieldName | None = None,
        update: Sequence[FieldName] | None = None,
    ) -> builtins.list[ModelT]:
        """:meth:`upsert` for many items, in batched statements; the rows in input order.

        ``[]`` sends no SQL. Two items with the same ``on`` values raise
        :class:`~sqla_repo.InvalidFieldError`. Concurrent batches that lock rows in
        different orders can deadlock: that raises :class:`~sqla_repo.SerializationError`,
        which ``run_in_transaction`` retries.
        """
        target = conflict_target(
            self._mapper, on if on is not None else primary_key_fields(self._mapper)
        )
        chosen = None if update is None else self._update_names(update)
        builder = RowBuilder(self._mapper, self._instance, imply=False)
        rows = builder.rows(items)
        if not rows:
            return []
        self._check_conflict_values(rows, target.attributes)
        await self._require_core_writes("upsert")
        returning = self._stored_columns
        skip = set(target.attributes) | set(primary_key_fields(self._mapper))
        version = self._mapper.version_id_col
        version_key = str(version.key) if version is not None else None
        written: list[Any] = [None] * len(rows)
        for fields, members in grouped(rows):
            names = chosen if chosen is not None else [k for k in fields if k not in skip]
            statement = self._backend.conflicts.upsert(
                self._table,
                target,
                [builder.column_key(name) for name in names],
                returning,
                version_key,
            )
            params = [builder.params(cast("dict[str, Any]", rows[i].values)) for i in members]
            with self.translate_errors():
                returned = (await self._session.execute(statement, params)).all()
            objects = [self._object(rows[i]) for i in members]
            for i, obj in zip(members, self._register(objects, returning, returned), strict=True):
                written[i] = obj
        return written

    async def get_or_create(
        self,
        values: Mapping[str, Any],
        /,
        *,
        on: Sequence[FieldName] | FieldName | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> tuple[ModelT, bool]:
        """The row matching ``values`` on the ``on`` columns, created if absent.

        Returns ``(obj, created)``, ``created`` true when this call inserted the row
        (from ``values`` and ``defaults``; ``defaults`` are never used to match). One
        atomic insert-if-absent statement, then, only when nothing was inserted, one
        read that sees the latest committed row (MySQL/MariaDB return it from the
        statement itself, under a row lock). Concurrent calls for one key all
        succeed and exactly one reports ``created``; no error is caught on the way.
        ``on`` is checked as for :meth:`upsert` (the primary key by default). Flushes;
        never commits.

        Never returns a row marked deleted (:class:`~sqla_repo.SoftDeleteMixin`): when
        the matching row is marked and a unique key still covers it, this raises
        :class:`~sqla_repo.ConflictError` (restore it, or keep the column unique among
        live rows only, as the README shows).
        """
        target = conflict_target(
            self._mapper, on if on is not None else primary_key_fields(self._mapper)
        )
        builder = RowBuilder(self._mapper, self._instance)
        given = builder.row({**(defaults or {}), **values})
        if given.values is None:
            raise InvalidFieldError("get_or_create takes column values, not related objects")
        missing = [name for name in target.attributes if name not in values]
        if missing:
            raise InvalidFieldError(f"values must give the on= fields; missing {missing}")
        await self._require_core_writes("get_or_create")
        conflicts = self._backend.conflicts
        returning = self._stored_columns
        statement = conflicts.insert_if_absent(
            self._table, target, builder.params(given.values), returning
        )
        match = [self._attribute(name) == values[name] for name in target.attributes]
        if (partial := target.index_where.get(self._dialect.name)) is not None:
            match.append(partial)  # the row the partial unique index covers
        read = select(*returning).where(*match)
        names = [self._attribute_of(column) for column in returning]
        soft = soft_delete_of(self._mapper)
        marked = None if soft is None else names.index(soft.key)
        for _ in range(_GET_OR_CREATE_ATTEMPTS):
            with self.translate_errors():
                returned = (await self._session.execute(statement)).all()
            if conflicts.reports_existing:
                *stored, existed, named = returned[0]
                if existed is None and conflicts.existed is not None:
                    with self.translate_errors():
                        existed = (await self._session.execute(conflicts.existed)).scalar()
                existed = _flag(existed)
                if existed and not _flag(named):
                    raise ConflictError(
                        f"the values clash with another unique key of {self.model.__name__}"
                    )
                if existed:
                    if marked is not None and stored[marked] is not None:
                        raise self._marked_conflict()
                    return self._adopt(dict(zip(names, stored, strict=True))), False
                return self._register([self._object(given)], returning, [stored])[0], True
            if returned:
                return self._register([self._object(given)], returning, returned)[0], True
            with self.translate_errors():
                found = (await self._session.execute(read)).first()
            if found is not None:
                if marked is not None and found[marked] is not None:
                    raise self._marked_conflict()
                return self._adopt(dict(zip(names, found, strict=True))), False
        raise SerializationError(
            f"the {self.model.__name__} row matching the on= values was deleted while "
            f"get_or_create was reading it, {_GET_OR_CREATE_ATTEMPTS} times; retry the transaction"
        )

    # Two signatures with one result: a Mapping's key type is invariant, so a dict
    # built beforehand (dict[str, ...], dict[InstrumentedAttribute[int], ...]) needs
    # the TypeVar, while a literal mixing names and attributes needs the union.
    # --- helpers ------------------------------------------------------------

    def _marked_conflict(self) -> ConflictError:
        model = self.model.__name__
        return ConflictError(
            f"the {model} row matching the on= values is marked deleted and a unique key "
            f"still covers it: restore it, or keep the column unique among live rows only"
        )

    def _adopt(self, values: Mapping[str, Any]) -> Any:
        return adopt_loaded(self._session.sync_session, self._mapper, values)

    def _object(self, row: Row) -> Any:
        """The instance a row is stored in: the one given (holding every value written),
        or a new one from its values."""
        if row.obj is None:
            return new_instance(self._mapper, row.values or {})
        instance_state(row.obj).dict.update(row.values or {})
        return row.obj

    async def _load_rows(
        self, builder: RowBuilder, items: Iterable[ModelT | Mapping[str, Any] | BaseModel]
    ) -> int:
        """Write ``items`` without reading them back; the number written."""
        given = items if isinstance(items, builtins.list) else builtins.list(items)
        if not given:
            return 0
        batches: builtins.list[Sequence[Mapping[str, Any]]]
        if builder.uniform(given):
            batches = [builder.all_params(given)]
        else:
            rows = builder.rows(given)
            if any(row.values is None for row in rows):
                raise InvalidFieldError(
                    "create_many(returning=False) writes column values, not related objects: "
                    "link them with returning=True"
                )
            batches = [
                builder.all_params([rows[i].values for i in members])
                for _, members in grouped(rows)
            ]
        await self._flush()
        if len(self._mapper.tables) != 1:
            raise NotImplementedError(
                "create_many(returning=False) writes one table: joined-table inheritance "
                "needs returning=True"
            )
        load = self._backend.bulk_load
        table = self._table
        if load is not None:  # COPY runs no Python-side default: stamp the rows here
            batches = builtins.list(stamp_rows(table, batches))
        with self.translate_errors():
            connection = await self._session.connection(bind_arguments={"mapper": self._mapper})
            for params in batches:
                if load is None or not await load(connection, table, params):
                    await connection.execute(insert(table), params)
        return len(given)

    async def _insert_by_unit_of_work(self, rows: Sequence[Row]) -> builtins.list[ModelT]:
        objects = [
            row.obj if row.obj is not None else self._instance(row.values or {}) for row in rows
        ]
        self._session.add_all(objects)
        await self._flush()
        for obj in objects:
            await self._load_expired(obj)
        return objects

    def _register(
        self, objects: Sequence[Any], columns: Sequence[Column[Any]], rows: Sequence[Any]
    ) -> builtins.list[Any]:
        keys = [self._attribute_of(column) for column in columns]
        return register_written(self._session.sync_session, self._mapper, objects, keys, rows)

    def _update_names(self, update: Sequence[FieldName]) -> builtins.list[str]:
        items: Sequence[object] = [update] if isinstance(update, str) else update
        names = [field_name(self._mapper, item) for item in items]
        check_fields(self._mapper, names, primary_key_allowed=False)
        return names

    def _check_conflict_values(self, rows: Sequence[Row], on: Sequence[str]) -> None:
        seen: set[tuple[Any, ...]] = set()
        for row in rows:
            values = row.values
            if values is None:
                raise InvalidFieldError("upsert takes column values, not related objects")
            missing = [name for name in on if values.get(name) is None]
            if missing:
                raise InvalidFieldError(f"every upserted item must give the on= fields {missing}")
            key = tuple(values[name] for name in on)
            if key in seen:
                raise InvalidFieldError(
                    f"two upserted items share the on= values of one row ({list(on)})"
                )
            seen.add(key)

    async def _core_writes(self) -> bool:
        """Flush, then tell whether rows can be written by Core statements.

        Needs ``INSERT ... RETURNING`` (PostgreSQL, SQLite 3.35+, MariaDB 10.5+; the
        dialect knows once connected) and a model on one table (single-table
        inheritance at most: joined tables are the unit of work's job).
        """
        await self._flush()
        with self.translate_errors():
            await self._session.connection(bind_arguments={"mapper": self._mapper})
        mapper = self._mapper
        on = mapper.polymorphic_on
        return (
            bool(self._dialect.insert_returning)
            and len(mapper.tables) == 1  # single-table inheritance at most
            and (on is None or (isinstance(on, Column) and on.table is mapper.local_table))
        )

    async def _require_core_writes(self, method: str) -> None:
        if not await self._core_writes():
            raise NotImplementedError(
                f"{method} needs INSERT ... RETURNING (PostgreSQL, SQLite 3.35+, "
                f"MariaDB 10.5+) and a model on one table (joined-table inheritance is not)"
            )


def _flag(value: object) -> bool:
    """A flag the server returned: an integer, or its text when the type is not known."""
    if isinstance(value, bytes | str):
        return int(value) != 0
    return bool(value)
