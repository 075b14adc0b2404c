"""What every part of ``Repository`` shares: its session, model, backend and helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, cast
from weakref import WeakKeyDictionary

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    ColumnElement,
    Dialect,
    Select,
    Table,
    and_,
    inspect,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ColumnProperty, Mapper
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql.base import ExecutableOption
from typing_extensions import TypeVar

from ._backends import Backend, find_backend
from ._errors import InvalidFieldError
from ._input import as_fields
from ._ordering import OrderBy, SortKey, order_clauses, sort_keys
from ._statements import Where, check_fields, check_where, primary_key_fields
from ._translate import translate_errors
from ._values import value_check

ModelT = TypeVar("ModelT")
PkT = TypeVar("PkT", default=Any)

_ROW_VALUES = 1000
"""Composite keys per ``(a, b) IN (...)`` query."""

_selects: WeakKeyDictionary[Mapper[Any], Select[Any]] = WeakKeyDictionary()
"""``SELECT model`` per mapper: statements are immutable, built once."""
_default_orders: WeakKeyDictionary[Mapper[Any], dict[bool, list[ColumnElement[Any]]]] = (
    WeakKeyDictionary()
)

_constructor_fields: WeakKeyDictionary[Mapper[Any], set[frozenset[str]]] = WeakKeyDictionary()
"""Sets of field names already found to be ones the model's constructor takes."""

Options = Sequence[ExecutableOption]
"""Loader options for a read, such as ``[selectinload(Post.tags)]``."""


class RepositoryBase(Generic[ModelT, PkT]):
    """The state and helpers the repository's methods are built on."""

    _session: AsyncSession
    _mapper: Mapper[Any]
    _backend_row: Backend | None = None

    @property
    def session(self) -> AsyncSession:
        """The session this repository works in."""
        return self._session

    @property
    def model(self) -> type[ModelT]:
        """The mapped class this repository stores."""
        return cast("type[ModelT]", self._mapper.class_)

    def translate_errors(self) -> AbstractContextManager[None]:
        """A context manager that raises the repository's error types for its block.

        For subclass methods that run their own statements::

            with self.translate_errors():
                result = await self.session.execute(custom_query)

        Driver and SQLAlchemy errors raised inside become :class:`~sqla_repo.RepositoryError`
        subclasses (the original chained as ``__cause__``); other exceptions pass unchanged.
        """
        return translate_errors(self._session, self._mapper)

    _translate_errors = translate_errors  # the name 0.1.0 documented

    @property
    def _dialect(self) -> Dialect:
        """The SQLAlchemy dialect of the database the model's table lives in."""
        with self.translate_errors():
            return self._session.get_bind(self._mapper).dialect

    @property
    def _backend(self) -> Backend:
        """The backend row of the database the model's table lives in."""
        if self._backend_row is None:
            name = self._dialect.name
            backend = find_backend(name)
            if backend is None:  # pragma: no cover - EngineFactory only builds supported ones
                raise TypeError(f"sqla_repo does not support the {name} dialect")
            self._backend_row = backend
        return self._backend_row

    def _order(self, keys: Sequence[SortKey]) -> list[ColumnElement[Any]]:
        """The ORDER BY terms of ``keys`` as this backend writes them."""
        return order_clauses(keys, nulls_keyword=self._backend.nulls_keyword)

    def _order_by(self, order_by: OrderBy | None) -> list[ColumnElement[Any]]:
        """The ORDER BY terms of ``order_by``, the primary key appended (the default
        ordering, by the primary key alone, is built once per model and backend)."""
        if order_by is not None:
            return self._order(sort_keys(self._mapper, order_by))
        nulls_keyword = self._backend.nulls_keyword
        orders = _default_orders.setdefault(self._mapper, {})
        found = orders.get(nulls_keyword)
        if found is None:
            found = orders[nulls_keyword] = self._order(sort_keys(self._mapper, None))
        return found

    def _key_batches(self, keys: Sequence[tuple[Any, ...]]) -> Iterator[ColumnElement[bool]]:
        """``key IN (...)`` conditions covering ``keys``, each under the driver's
        bound-parameter limit (composite keys in smaller batches: PostgreSQL's parser
        runs out of stack on tens of thousands of row values)."""
        columns = self._key_columns
        single = len(columns) == 1
        target: ColumnElement[Any] = columns[0] if single else tuple_(*columns)
        limit = min(self._backend.max_bind_params, self._dialect.insertmanyvalues_max_parameters)
        batch = max(1, limit) if single else max(1, min(_ROW_VALUES, limit // len(columns)))
        for start in range(0, len(keys), batch):
            chunk = keys[start : start + batch]
            yield target.in_([key[0] for key in chunk] if single else chunk)

    async def _by_keys(
        self, keys: Sequence[tuple[Any, ...]], options: Options | None = None
    ) -> list[ModelT]:
        """The objects with these primary keys, in as few ``IN`` queries as the driver allows."""
        found: list[ModelT] = []
        for condition in self._key_batches(keys):
            statement = self._select([], options).where(condition)
            with self.translate_errors():
                result = await self._session.scalars(statement)
                found.extend(result.unique() if options else result)
        return found

    @property
    def _stored_columns(self) -> list[Column[Any]]:
        """The table's columns that map to an attribute of the model, in table order."""
        mapped = {column for prop in self._mapper.column_attrs for column in prop.columns}
        return [column for column in self._table.columns if column in mapped]

    @property
    def _table(self) -> Table:
        """The model's table (bulk writes reach only models mapped to one)."""
        return cast("Table", self._mapper.local_table)

    def _attribute(self, name: str) -> Any:
        """The mapped attribute of a column field, for ORM statements."""
        return cast("ColumnProperty[Any]", self._mapper.attrs[name]).class_attribute

    def _attribute_of(self, column: Any) -> str:
        """The attribute name a column of the model's table is mapped to."""
        return self._mapper.get_property_by_column(column).key

    def _select(self, where: Sequence[Where], options: Options | None = None) -> Select[Any]:
        """``SELECT model WHERE ...`` with the conditions checked and the options applied."""
        statement = _selects.get(self._mapper)
        if statement is None:
            statement = _selects[self._mapper] = select(self.model)
        if where:
            check_where(self._mapper, where)
            statement = statement.where(*where)
        if options:
            statement = statement.options(*options)
        return statement

    def _key_values(self, pk: object) -> tuple[Any, ...]:
        """``pk`` as a tuple in primary-key column order; the wrong arity, and a value
        its column cannot hold (``2**70`` or ``"abc"`` for an ``Integer``), are refused."""
        width = len(self._mapper.primary_key)
        if width == 1 and not isinstance(pk, tuple):
            key = (pk,)
            value_check(self._mapper).key(key)
            return key
        if isinstance(pk, tuple) and len(pk) == width:
            value_check(self._mapper).key(pk)
            return pk
        model = self._mapper.class_.__name__
        names = ", ".join(primary_key_fields(self._mapper))
        raise InvalidFieldError(
            f"{model}'s primary key is ({names}): pass "
            + ("one value" if width == 1 else f"a tuple of {width} values")
        )

    def _key_clause(self, pk: object) -> ColumnElement[bool]:
        """``pk_column = value`` for each primary-key column."""
        values = self._key_values(pk)
        pairs = zip(self._key_columns, values, strict=True)
        return and_(*(column == value for column, value in pairs))

    @property
    def _key_columns(self) -> list[ColumnElement[Any]]:
        """The primary-key columns as the model's attributes (for ORM statements)."""
        return [
            self._mapper.get_property_by_column(column).class_attribute.expression
            for column in self._mapper.primary_key
        ]

    async def _flush(self) -> None:
        with self.translate_errors():
            await self._session.flush()

    async def _load_expired(self, obj: ModelT) -> None:
        # Values the database computed and the flush could not bring back (server
        # defaults without RETURNING, SQL expressions assigned to fields) are expired;
        # load them now, since a lazy load on attribute access fails under asyncio.
        expired = inspect(obj).expired_attributes
        if expired:
            with self.translate_errors():
                await self._session.refresh(obj, attribute_names=expired)

    def _instance(self, obj_or_mapping: ModelT | Mapping[str, Any] | BaseModel) -> ModelT:
        """The instance given, or one built from a mapping of field names or a pydantic
        model (checked to be fields its constructor takes); its values are not checked
        here."""
        model = self.model
        if isinstance(obj_or_mapping, model):
            return obj_or_mapping
        obj_or_mapping = as_fields(obj_or_mapping, model)  # type: ignore[assignment]
        if isinstance(obj_or_mapping, Mapping):
            accepted = _constructor_fields.setdefault(self._mapper, set())
            fields = frozenset(obj_or_mapping)
            if fields not in accepted:
                check_fields(self._mapper, fields, primary_key_allowed=True)
                value_check(self._mapper).constructor(fields)
                accepted.add(fields)
            return cast("Callable[..., ModelT]", model)(**obj_or_mapping)
        raise TypeError(
            f"expected a {model.__name__}, a mapping of its fields or a pydantic model, "
            f"not {type(obj_or_mapping).__name__}"
        )

    def _checked(self, obj: ModelT) -> ModelT:
        """``obj``, once every column value it holds is one its column can hold."""
        value_check(self._mapper).values(instance_state(obj).dict)
        return obj

    def _check_values(self, values: Mapping[str, Any], *, assigned: bool = False) -> None:
        """Refuse a value its column cannot hold; with ``assigned`` (values about to be set
        on an object), those a ``@validates`` hook receives are left to it."""
        if assigned:
            value_check(self._mapper).changes(values)
        else:
            value_check(self._mapper).values(values)
