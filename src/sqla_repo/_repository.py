"""``Repository[ModelT, PkT]``: a typed async repository over any mapped class."""

from __future__ import annotations

import builtins
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, cast

from sqlalchemy import SQLColumnExpression, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from typing_extensions import TypeVar

from ._errors import NotFoundError
from ._models import User
from ._statements import OrderBy, check_fields, check_window, order_clauses
from ._translate import translate_errors

ModelT = TypeVar("ModelT")
PkT = TypeVar("PkT", default=Any)


class Repository(Generic[ModelT, PkT]):
    """Async CRUD for one mapped class, read from the type parameter.

    ``class ProductRepository(Repository[Product]): ...`` needs nothing more; the
    optional second parameter types every primary-key argument
    (``Repository[Order, int]``). A subclass whose model cannot be determined (no
    type argument, or a class that is not mapped) raises ``TypeError`` when it is
    defined. A subclass that stays generic (``class Base(Repository[M], Generic[M])``)
    is allowed, and is bound by subclassing it in turn.

    Repositories flush, never commit: the caller owns the transaction. Database
    errors surface as :class:`~sqla_repo.RepositoryError` subclasses. A write that
    fails leaves the session needing ``rollback()``, as any failed flush does.
    """

    _model_slot: ClassVar[object]  # the model class, or a TypeVar while still generic
    _model: ClassVar[type[Any] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        slot = _model_argument(cls)
        cls._model_slot = slot
        if isinstance(slot, typing.TypeVar):
            if slot not in getattr(cls, "__parameters__", ()):
                raise TypeError(
                    f"{cls.__qualname__} does not say which model it stores: "
                    f"subclass Repository[YourModel], e.g. "
                    f"class {cls.__name__}(Repository[Product]): ..."
                )
            cls._model = None  # still generic: bound by a further subclass
            return
        if not isinstance(slot, type) or inspect(slot, raiseerr=False) is None:
            raise TypeError(
                f"{cls.__qualname__}: Repository's model must be a mapped class "
                f"(a subclass of a DeclarativeBase with a __tablename__), not {slot!r}"
            )
        cls._model = slot

    def __init__(self, session: AsyncSession) -> None:
        model = type(self)._model
        if model is None:
            raise TypeError(
                f"{type(self).__qualname__} is generic; subclass it with a model, "
                f"e.g. class ProductRepository({type(self).__name__}[Product]): ..."
            )
        self._session = session
        self._mapper: Mapper[Any] = inspect(model)

    @property
    def session(self) -> AsyncSession:
        """The session this repository works in."""
        return self._session

    @property
    def model(self) -> type[ModelT]:
        """The mapped class this repository stores."""
        return cast("type[ModelT]", self._mapper.class_)

    def _translate_errors(self) -> translate_errors:
        """``with self._translate_errors():`` gives custom queries the repository's error types."""
        return translate_errors(self._session, self._mapper)

    async def get(self, pk: PkT, /) -> ModelT | None:
        """The object with primary key ``pk``, or ``None``.

        Looks in the session's identity map first; otherwise one SELECT. A composite
        key is given as a tuple in primary-key column order.
        """
        with self._translate_errors():
            return await self._session.get(self.model, pk)

    async def list(
        self,
        *where: SQLColumnExpression[bool],
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[ModelT]:
        """Objects matching every ``where`` expression, in one SELECT.

        ``order_by``: a column name, a mapped attribute, an expression such as
        ``Model.col.desc()``, or a sequence of them; the primary key by default. A
        name or attribute that is not a column of the model raises
        :class:`~sqla_repo.InvalidFieldError`, as do a negative ``limit`` or ``offset``.
        """
        clauses = order_clauses(self._mapper, order_by)
        check_window(limit, offset)
        statement = select(self.model).where(*where).order_by(*clauses)
        if limit is not None:
            statement = statement.limit(limit)
        if offset:
            statement = statement.offset(offset)
        with self._translate_errors():
            result = await self._session.scalars(statement)
            return builtins.list(result.all())

    async def create(self, obj_or_mapping: ModelT | Mapping[str, Any], /) -> ModelT:
        """Add a model instance, or one built from a mapping of field names, and flush.

        The returned object has its primary key and server defaults loaded (one more
        SELECT only where the backend cannot return them with the INSERT). Unknown
        field names raise :class:`~sqla_repo.InvalidFieldError` before any SQL; a
        constraint violation raises an :class:`~sqla_repo.IntegrityViolationError`
        subclass. Flushes; never commits.
        """
        obj = self._instance(obj_or_mapping)
        self._session.add(obj)
        await self._flush()
        await self._load_expired(obj)
        return obj

    async def update(
        self, pk: PkT, changes: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> ModelT:
        """Set fields of the object with primary key ``pk`` and flush; return it.

        ``changes`` and ``fields`` are merged (``fields`` win); a value may be a SQL
        expression (``stock=Product.stock - 1``), loaded back after the flush. Unknown
        fields and any primary-key field raise :class:`~sqla_repo.InvalidFieldError`
        before any SQL; a missing row raises :class:`~sqla_repo.NotFoundError`. One
        SELECT (unless the object is in the session) and one UPDATE. Flushes; never
        commits.
        """
        if changes is not None and not isinstance(changes, Mapping):
            raise TypeError(
                f"changes must be a mapping of field names, not {type(changes).__name__}"
            )
        values = {**(changes or {}), **fields}
        check_fields(self._mapper, values, primary_key_allowed=False)
        obj = await self._require(pk)
        for name, value in values.items():
            setattr(obj, name, value)
        await self._flush()
        await self._load_expired(obj)
        return obj

    async def delete(self, pk: PkT, /) -> None:
        """Delete the object with primary key ``pk`` and flush.

        A missing row raises :class:`~sqla_repo.NotFoundError`. Relationship cascades
        apply as mapped: for a one-to-many without a delete cascade SQLAlchemy sets the
        children's foreign keys to NULL (a :class:`~sqla_repo.NotNullViolationError` when
        they are NOT NULL); with ``passive_deletes="all"`` the database decides, and a row
        still referenced raises :class:`~sqla_repo.ForeignKeyViolationError`. Flushes;
        never commits.
        """
        obj = await self._require(pk)
        with self._translate_errors():
            await self._session.delete(obj)
        await self._flush()

    async def _require(self, pk: PkT) -> ModelT:
        obj = await self.get(pk)
        if obj is None:
            raise NotFoundError(f"{self._mapper.class_.__name__} with primary key {pk!r} not found")
        return obj

    async def _load_expired(self, obj: ModelT) -> None:
        # Values the database computed and the flush could not bring back (server
        # defaults without RETURNING, SQL expressions assigned to fields) are expired;
        # load them now, since a lazy load on attribute access fails under asyncio.
        expired = inspect(obj).expired_attributes
        if expired:
            with self._translate_errors():
                await self._session.refresh(obj, attribute_names=expired)

    async def _flush(self) -> None:
        with self._translate_errors():
            await self._session.flush()

    def _instance(self, obj_or_mapping: ModelT | Mapping[str, Any]) -> ModelT:
        model = self.model
        if isinstance(obj_or_mapping, model):
            return obj_or_mapping
        if isinstance(obj_or_mapping, Mapping):
            check_fields(self._mapper, obj_or_mapping, primary_key_allowed=True)
            return cast("Callable[..., ModelT]", model)(**obj_or_mapping)
        raise TypeError(
            f"expected a {model.__name__} or a mapping of its fields, "
            f"not {type(obj_or_mapping).__name__}"
        )


Repository._model_slot = getattr(Repository, "__parameters__")[0]  # noqa: B009 - not in typeshed


def _model_argument(cls: type) -> object:
    """The model a Repository subclass names: a class, or a TypeVar while still generic."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = typing.get_origin(base)
        if isinstance(origin, type) and issubclass(origin, Repository):
            slot = origin._model_slot
            if isinstance(slot, typing.TypeVar):
                parameters = getattr(origin, "__parameters__", ())
                arguments = typing.get_args(base)
                if slot in parameters and parameters.index(slot) < len(arguments):
                    return arguments[parameters.index(slot)]
            return slot
    for plain_base in cls.__bases__:
        if issubclass(plain_base, Repository):
            return plain_base._model_slot
    return Repository._model_slot


class UserRepository(Repository[User, int]):
    """The repository for :class:`~sqla_repo.User`."""

    async def get_by_email(self, email: str, /) -> User | None:
        """The user with exactly this email, or ``None``; one SELECT."""
        found = await self.list(User.email == email, limit=1)
        return found[0] if found else None
