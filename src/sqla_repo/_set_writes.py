"""The set-based half of ``Repository``'s writes: ``update_where`` and ``delete_where``.

One UPDATE or DELETE for every row a condition matches, never a select-then-write;
objects the session holds for those rows are kept in step (updated in place, or
removed), so no later read sees a stale copy.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast, overload

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import QueryableAttribute

from ._base import ModelT, PkT, RepositoryBase
from ._errors import InvalidFieldError
from ._materialize import refresh_values
from ._soft_delete import NO_SOFT_DELETE, SoftPlan, now
from ._statements import FieldName, Where, check_where, column_values, primary_key_fields

_FieldT = TypeVar("_FieldT", bound="str | QueryableAttribute[Any]")


class SetWrites(RepositoryBase[ModelT, PkT]):
    """``update_where`` and ``delete_where``."""

    _soft_plan: SoftPlan = NO_SOFT_DELETE

    @overload
    async def update_where(self, *where: Where, values: Mapping[FieldName, Any]) -> int: ...
    @overload
    async def update_where(self, *where: Where, values: Mapping[_FieldT, Any]) -> int: ...
    async def update_where(self, *where: Where, values: Mapping[Any, Any]) -> int:
        """Set ``values`` on every row matching ``where``; return the number of rows matched.

        ``values`` maps column names or attributes to values or SQL expressions
        (``{Product.stock: Product.stock - 1}``). One UPDATE. Objects the session
        holds for matched rows are updated in place with the stored values (never
        expired into a lazy load). No condition at all raises
        :class:`~sqla_repo.InvalidFieldError` (pass ``sqlalchemy.true()`` to mean every
        row), as do an unknown or primary-key field. Rows of a
        :class:`~sqla_repo.SoftDeleteMixin` model that are marked deleted are left
        alone. Flushes; never commits.
        """
        self._require_condition("update_where", where)
        named = column_values(self._mapper, values, primary_key_allowed=False)
        if not named:
            raise InvalidFieldError("update_where needs at least one field in values=")
        self._check_values(named)
        check_where(self._mapper, where)
        return await self._update_rows(where, named)

    async def _update_rows(self, where: Sequence[Where], named: dict[str, Any]) -> int:
        """One UPDATE of the live rows matching ``where`` (checked), held objects kept
        in step; the number of rows matched."""
        own = self._soft_plan.own
        if own is not None:
            where = (*where, own.live)
        version = self._mapper.version_id_col
        if version is not None:  # a stale copy held elsewhere must fail its own UPDATE
            name = self._attribute_of(version)
            named.setdefault(name, self._attribute(name) + 1)
        statement = (
            update(self.model)
            .where(*where)
            .values({self._attribute(name): value for name, value in named.items()})
            .execution_options(synchronize_session=False)
        )
        await self._flush()
        held = self._held()
        if held and self._dialect.update_returning:
            # every column: onupdate= defaults change more than the values given
            columns = self._stored_columns
            names = [self._attribute_of(column) for column in columns]
            key_names = primary_key_fields(self._mapper)
            with self.translate_errors():
                returned = (await self._session.execute(statement.returning(*columns))).all()
            for row in returned:
                values = dict(zip(names, row, strict=True))
                obj = held.get(tuple(values[name] for name in key_names))
                if obj is not None:
                    refresh_values(obj, values)
            return len(returned)
        with self.translate_errors():
            count = cast("Any", await self._session.execute(statement)).rowcount
        if held:
            await self._reload(held)
        return int(count)

    async def delete_where(self, *where: Where) -> int:
        """Delete every row matching ``where``; return how many were deleted.

        One DELETE (and, when the session holds objects of the model, what it takes
        to find the matched ones: those objects leave the session). Relationship
        cascades of the ORM do not run; the database's own ``ON DELETE`` rules do.
        No condition at all raises :class:`~sqla_repo.InvalidFieldError` (pass
        ``sqlalchemy.true()`` to mean every row). Flushes; never commits.

        For a :class:`~sqla_repo.SoftDeleteMixin` model the live rows matched are
        marked instead (one UPDATE setting ``deleted_at``; held objects get the mark)
        and their number returned; rows already marked are not counted again.
        """
        self._require_condition("delete_where", where)
        check_where(self._mapper, where)
        own = self._soft_plan.own
        if own is not None:
            return await self._update_rows(where, {own.key: now()})
        statement = delete(self.model).where(*where)
        await self._flush()
        synchronize = "fetch" if self._held() else False
        statement = statement.execution_options(synchronize_session=synchronize)
        with self.translate_errors():
            result = await self._session.execute(statement)
        return int(cast("Any", result).rowcount)

    # --- helpers ------------------------------------------------------------

    async def _reload(self, held: Mapping[tuple[Any, ...], Any]) -> None:
        """Read the column values of held objects again, in place (where an UPDATE cannot
        return its rows). Loaded relationships stay loaded."""
        columns = self._stored_columns
        names = [self._attribute_of(column) for column in columns]
        key_names = primary_key_fields(self._mapper)
        for condition in self._key_batches(builtins.list(held)):
            with self.translate_errors():
                rows = (await self._session.execute(select(*columns).where(condition))).all()
            for row in rows:
                values = dict(zip(names, row, strict=True))
                obj = held.get(tuple(values[name] for name in key_names))
                if obj is not None:
                    refresh_values(obj, values)

    def _held(self) -> dict[tuple[Any, ...], Any]:
        """The session's objects of this model, by primary key."""
        model = self.model
        return {
            inspect(obj).identity or (): obj
            for obj in self._session.identity_map.values()
            if isinstance(obj, model)
        }

    def _require_condition(self, method: str, where: Sequence[Where]) -> None:
        if not where:
            raise InvalidFieldError(
                f"{method}() without a condition would touch every row; "
                f"pass sqlalchemy.true() to mean that"
            )
