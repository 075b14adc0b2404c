"""``Repository[ModelT, PkT]``: a typed async repository over any mapped class."""

from __future__ import annotations

import builtins
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from pydantic import BaseModel
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, RelationshipProperty

from ._base import ModelT, Options, PkT
from ._errors import NotFoundError
from ._input import as_changes
from ._key_writes import key_write_plan
from ._loading import guard_lazy_loads
from ._locking import ForUpdate, with_lock
from ._models import User
from ._ordering import OrderBy
from ._reads import Reads
from ._removals import Removals
from ._set_writes import SetWrites
from ._soft_delete import NO_SOFT_DELETE, soft_plan
from ._statements import Where, check_fields, check_window
from ._writes import Writes


class Repository(
    Reads[ModelT, PkT], Writes[ModelT, PkT], SetWrites[ModelT, PkT], Removals[ModelT, PkT]
):
    """Async CRUD, queries and bulk writes for one mapped class, read from the type parameter.

    ``class ProductRepository(Repository[Product]): ...`` needs nothing more; the
    optional second parameter types every primary-key argument
    (``Repository[Order, int]``). A subclass whose model cannot be determined (no
    type argument, or a class that is not mapped) raises ``TypeError`` when it is
    defined. A subclass that stays generic (``class Base(Repository[M], Generic[M])``)
    is allowed, and is bound by subclassing it in turn.

    Repositories flush, never commit: the caller owns the transaction. Database
    errors surface as :class:`~sqla_repo.RepositoryError` subclasses. A write that
    fails leaves the session needing ``rollback()``, as any failed flush does.
    Touching a relationship that no read loaded raises
    :class:`~sqla_repo.NotLoadedError` instead of SQLAlchemy's ``MissingGreenlet``.

    Over a :class:`~sqla_repo.SoftDeleteMixin` model, ``delete`` and ``delete_where``
    mark rows, every read leaves marked rows out unless ``include_deleted=True``, and
    :meth:`restore` and :meth:`purge` clear the mark or delete for real.
    """

    _model_slot: ClassVar[object]  # the model class, or a TypeVar while still generic
    _model: ClassVar[type[Any] | None] = None
    _model_mapper: ClassVar[Mapper[Any] | None] = None

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
            cls._model = cls._model_mapper = None  # still generic: bound by a further subclass
            return
        mapper: object = inspect(slot, raiseerr=False) if isinstance(slot, type) else None
        if not isinstance(slot, type) or not isinstance(mapper, Mapper):
            raise TypeError(
                f"{cls.__qualname__}: Repository's model must be a mapped class "
                f"(a subclass of a DeclarativeBase with a __tablename__), not {slot!r}"
            )
        cls._model = slot
        cls._model_mapper = mapper

    def __init__(self, session: AsyncSession) -> None:
        mapper = type(self)._model_mapper
        if mapper is None:
            raise TypeError(
                f"{type(self).__qualname__} is generic; subclass it with a model, "
                f"e.g. class ProductRepository({type(self).__name__}[Product]): ..."
            )
        self._session = session
        self._mapper: Mapper[Any] = mapper
        self._soft_plan = soft_plan(mapper)
        guard_lazy_loads(session)

    async def get(
        self,
        pk: PkT,
        /,
        *,
        options: Options | None = None,
        for_update: ForUpdate = False,
        include_deleted: bool = False,
    ) -> ModelT | None:
        """The object with primary key ``pk``, or ``None``.

        Looks in the session's identity map first; otherwise one SELECT. With
        ``options`` (``[selectinload(Post.tags)]``) it always reads, so what the
        options name is loaded also for an object the session already holds. A
        composite key is given as a tuple in primary-key column order.

        For a :class:`~sqla_repo.SoftDeleteMixin` model a marked row is ``None`` (an
        object the session holds marked, without SQL), as are marked rows among
        those the options load; ``include_deleted=True`` returns them. On other models
        ``include_deleted`` changes nothing.

        ``for_update=True`` always reads, with ``SELECT ... FOR UPDATE`` (the row stays
        locked until the transaction ends; the object is refreshed from the locked
        row); ``"nowait"`` raises :class:`~sqla_repo.SerializationError` at once if
        another transaction holds the lock. SQLite sends a plain SELECT: its write
        transactions already exclude each other.
        """
        if not options and not for_update:
            key = self._key_values(pk)
            with self.translate_errors():
                found = await self._session.get(self.model, key)
            own = self._soft_plan.own
            if own is None or found is None or include_deleted:
                return found
            return None if await self._is_marked(found, own) else found
        statement = self._select([], options).where(self._key_clause(pk))
        statement = self._soft_plan.select(statement, options, include_deleted)
        statement = with_lock(statement, for_update)
        with self.translate_errors():
            return (await self._session.scalars(statement)).unique().one_or_none()

    async def get_one(
        self,
        pk: PkT,
        /,
        *,
        options: Options | None = None,
        for_update: ForUpdate = False,
        include_deleted: bool = False,
    ) -> ModelT:
        """The object with primary key ``pk``; :class:`~sqla_repo.NotFoundError` if absent
        (or marked deleted, unless ``include_deleted=True``)."""
        found = await self.get(
            pk, options=options, for_update=for_update, include_deleted=include_deleted
        )
        if found is None:
            raise NotFoundError(f"{self._mapper.class_.__name__} with primary key {pk!r} not found")
        return found

    async def list(
        self,
        *where: Where,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
        options: Options | None = None,
        for_update: ForUpdate = False,
        include_deleted: bool = False,
    ) -> builtins.list[ModelT]:
        """Objects matching every ``where`` condition, in one SELECT.

        ``order_by``: a column name (``"-name"`` for descending), a mapped attribute,
        an expression such as ``Model.col.desc()``, or a sequence of them; the
        primary key is appended as the tie-breaker (ascending), so the order is always
        total. A
        key that is not the model's own raises :class:`~sqla_repo.InvalidFieldError`,
        as do a ``limit`` or ``offset`` outside 0..2**63-1 and a condition on another
        table (use ``Model.relationship.has(...)``/``.any(...)`` instead).

        ``for_update``: lock the rows read until the transaction ends (``True``, or
        ``"nowait"``: :class:`~sqla_repo.SerializationError` at once on a locked row),
        or ``"skip_locked"``: leave out rows another transaction has locked, so
        concurrent ``list(..., for_update="skip_locked", limit=n)`` calls never claim
        the same row (a job queue). SQLite sends a plain SELECT.

        Marked rows of a soft-delete model, and those the options load, are left out
        unless ``include_deleted=True``.
        """
        clauses = self._order_by(order_by)
        check_window(limit, offset)
        statement = self._select(where, options)
        if self._soft_plan is not NO_SOFT_DELETE:
            statement = self._soft_plan.select(statement, options, include_deleted)
        statement = statement.order_by(*clauses)
        if limit is not None:
            statement = statement.limit(limit)
        if offset:
            statement = statement.offset(offset)
        statement = with_lock(statement, for_update)
        with self.translate_errors():
            result = await self._session.scalars(statement)
            # joined eager loads of collections repeat rows; only options can add them
            return builtins.list(result.unique().all() if options else result.all())

    async def first(
        self,
        *where: Where,
        order_by: OrderBy | None = None,
        options: Options | None = None,
        include_deleted: bool = False,
    ) -> ModelT | None:
        """The first object matching every ``where`` condition in ``order_by`` order (the
        primary key by default), or ``None``: one ``SELECT ... LIMIT 1``.

        ``await users.first(User.email == email)`` reads one row by a unique column.
        Conditions, ordering, ``options`` and ``include_deleted`` as for :meth:`list`.
        """
        found = await self.list(
            *where, order_by=order_by, limit=1, options=options, include_deleted=include_deleted
        )
        return found[0] if found else None

    async def create(self, obj_or_mapping: ModelT | Mapping[str, Any] | BaseModel, /) -> ModelT:
        """Add a model instance, or one built from a mapping of field names or a pydantic
        model (``model_dump()``: every field, defaults included), and flush.

        The returned object has its primary key and server defaults loaded (one more
        SELECT only where the backend cannot return them with the INSERT). Unknown
        field names and values their columns cannot hold (a wrong type, text too long,
        a number out of range) raise :class:`~sqla_repo.InvalidFieldError` before any
        SQL; a constraint violation raises an
        :class:`~sqla_repo.IntegrityViolationError` subclass. Flushes; never commits.
        """
        obj = self._checked(self._instance(obj_or_mapping))
        self._session.add(obj)
        await self._flush()
        await self._load_expired(obj)
        return obj

    async def update(
        self, pk: PkT, changes: Mapping[str, Any] | BaseModel | None = None, /, **fields: Any
    ) -> ModelT:
        """Set fields of the object with primary key ``pk`` and flush; return it.

        ``changes`` and ``fields`` are merged (``fields`` win). A pydantic model as
        ``changes`` is a PATCH: it gives the fields that were set
        (``model_dump(exclude_unset=True)``), so an omitted field stays untouched and
        an explicit ``None`` writes NULL. A value may be a SQL
        expression (``stock=Product.stock - 1``), loaded back after the flush, or
        related objects for a relationship (``tags=[...]``; a collection that was not
        loaded is loaded first). Unknown fields, any primary-key field and a value its
        column cannot hold raise :class:`~sqla_repo.InvalidFieldError` before any SQL
        (a value a ``@validates`` hook receives is left to it); a missing row raises
        :class:`~sqla_repo.NotFoundError`. Flushes; never commits.

        When the session does not hold the object, one ``UPDATE ... RETURNING``
        (PostgreSQL, SQLite) writes the row and loads the object, as a read would;
        otherwise (MariaDB, an object already held, a model whose ORM hooks must see
        the change: ``@validates``, attribute or flush events, relationships
        assigned or loaded eagerly) one SELECT unless held, then one UPDATE. Either
        way the returned object is the session's, fully loaded.
        """
        changes = as_changes(changes)  # type: ignore[assignment]
        if changes is not None and not isinstance(changes, Mapping):
            raise TypeError(
                "changes must be a mapping of field names or a pydantic model, "
                f"not {type(changes).__name__}"
            )
        values = {**(changes or {}), **fields}
        check_fields(self._mapper, values, primary_key_allowed=False)
        self._check_values(values, assigned=True)
        key = self._key_values(pk)
        plan = key_write_plan(self._mapper)
        if plan.updatable and values and self._dialect.update_returning:
            await self._flush()  # what is pending goes first, as a read would autoflush it
            update = plan.update(self._mapper, key, values)
            if update is not None and self._writable_by_statement(key, deleting=False):
                with self.translate_errors():
                    row = (await self._session.execute(*update)).first()
                if row is None:
                    raise self._not_found(pk)
                return cast("ModelT", self._adopt(dict(zip(plan.columns, row, strict=True))))
        obj = await self._require(pk)
        await self._load_relationships(obj, values)
        for name, value in values.items():
            setattr(obj, name, value)
        await self._flush()
        await self._load_expired(obj)
        return obj

    async def _load_relationships(self, obj: ModelT, names: Mapping[str, Any]) -> None:
        """Load the relationships about to be assigned that are not loaded yet.

        Assigning one replaces the old value, which SQLAlchemy needs in hand (to
        unlink old children, keep backrefs right); fetching it on assignment would be
        implicit IO.
        """
        state = inspect(obj)
        unloaded = [
            name
            for name in names
            if isinstance(self._mapper.attrs[name], RelationshipProperty) and name in state.unloaded
        ]
        if unloaded and state.persistent:
            with self.translate_errors():
                await self._session.refresh(obj, attribute_names=unloaded)


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


Repository._model_slot = getattr(Repository, "__parameters__")[0]  # noqa: B009 - not in typeshed


class UserRepository(Repository[User, int]):
    """The repository for :class:`~sqla_repo.User`."""

    async def get_by_email(self, email: str, /) -> User | None:
        """The user with exactly this email, or ``None``; one SELECT."""
        return await self.first(User.email == email)
