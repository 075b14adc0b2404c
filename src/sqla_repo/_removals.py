"""The removing half of ``Repository``: ``delete`` (a mark on soft-delete models),
``restore`` and ``purge``, and the key lookups the writes share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.orm.attributes import instance_state

from ._base import ModelT, PkT, RepositoryBase
from ._errors import NotFoundError
from ._key_writes import key_write_plan, statement_allowed
from ._soft_delete import NO_SOFT_DELETE, SoftDelete, SoftPlan, now, require_soft_delete


class Removals(RepositoryBase[ModelT, PkT]):
    """``delete``, ``restore``, ``purge``; reads by key come from ``Repository.get``."""

    _soft_plan: SoftPlan = NO_SOFT_DELETE

    if TYPE_CHECKING:

        async def get(self, pk: PkT, /, *, include_deleted: bool = False) -> ModelT | None: ...

    async def delete(self, pk: PkT, /) -> None:
        """Delete the object with primary key ``pk`` and flush.

        For a :class:`~sqla_repo.SoftDeleteMixin` model the row is marked instead
        (``deleted_at`` set; one UPDATE, no DELETE) and an object the session holds
        gets the mark too; a row already marked raises
        :class:`~sqla_repo.NotFoundError`. :meth:`purge` deletes for real.

        A missing row raises :class:`~sqla_repo.NotFoundError`. Relationship cascades
        apply as mapped: for a one-to-many without a delete cascade SQLAlchemy sets the
        children's foreign keys to NULL (a :class:`~sqla_repo.NotNullViolationError` when
        they are NOT NULL); with ``passive_deletes="all"`` the database decides, and a row
        still referenced raises :class:`~sqla_repo.ForeignKeyViolationError`. Flushes;
        never commits.

        When the session does not hold the object and the ORM has nothing else to do
        for the delete (no one-to-many or many-to-many to unlink, no delete cascade,
        no delete or flush events), one DELETE is sent and its row count decides
        :class:`~sqla_repo.NotFoundError`.
        """
        own = self._soft_plan.own
        if own is not None:
            await self._mark(pk, own)
            return
        await self._delete_row(pk, include_deleted=False)

    async def restore(self, pk: PkT, /) -> ModelT:
        """Clear the deletion mark of the row with primary key ``pk``; return its object.

        A live row comes back unchanged (nothing is written, ``updated_at``
        included). No row with that key raises :class:`~sqla_repo.NotFoundError`; a
        model without :class:`~sqla_repo.SoftDeleteMixin` raises ``TypeError``. One
        SELECT unless the session holds the object, then one UPDATE if it was
        marked. Flushes; never commits.
        """
        own = require_soft_delete(self._mapper, "restore")
        obj = await self.get(pk, include_deleted=True)
        if obj is None:
            raise self._not_found(pk)
        if await self._is_marked(obj, own):
            setattr(obj, own.key, None)
            await self._flush()
            await self._load_expired(obj)
        return obj

    async def purge(self, pk: PkT, /) -> None:
        """Delete the row with primary key ``pk`` for real, marked deleted or not.

        On a model without :class:`~sqla_repo.SoftDeleteMixin` this is :meth:`delete`.
        No row with that key raises :class:`~sqla_repo.NotFoundError`. Flushes; never
        commits.
        """
        await self._delete_row(pk, include_deleted=True)

    async def _delete_row(self, pk: PkT, *, include_deleted: bool) -> None:
        key = self._key_values(pk)
        plan = key_write_plan(self._mapper)
        if plan.deletable:
            await self._flush()  # what is pending goes first, as a read would autoflush it
            if self._writable_by_statement(key, deleting=True):
                with self.translate_errors():
                    result = await self._session.execute(*plan.delete(key))
                if cast("Any", result).rowcount == 0:
                    raise self._not_found(pk)
                return
        obj = await self._require(pk, include_deleted=include_deleted)
        with self.translate_errors():
            await self._session.delete(obj)
        await self._flush()

    async def _mark(self, pk: PkT, own: SoftDelete) -> None:
        """Soft-delete: one UPDATE of a live row (or, for an object the session holds
        or whose ORM hooks must run, the unit of work's UPDATE)."""
        key = self._key_values(pk)
        plan = key_write_plan(self._mapper)
        await self._flush()  # what is pending goes first, as a read would autoflush it
        if plan.deleted_at is not None and self._writable_by_statement(key, deleting=False):
            with self.translate_errors():
                result = await self._session.execute(*plan.mark(key, now()))
            if cast("Any", result).rowcount == 0:
                raise self._not_found(pk)
            return
        obj = await self._require(pk)
        setattr(obj, own.key, now())
        await self._flush()
        await self._load_expired(obj)

    async def _is_marked(self, obj: object, own: SoftDelete) -> bool:
        """Whether an object the session holds is marked deleted (loading the mark
        only if it was expired)."""
        values = instance_state(obj).dict
        if own.key not in values:
            with self.translate_errors():
                await self._session.refresh(obj, attribute_names=[own.key])
        return values.get(own.key) is not None

    async def _require(self, pk: PkT, *, include_deleted: bool = False) -> ModelT:
        obj = await self.get(pk, include_deleted=include_deleted)
        if obj is None:
            raise self._not_found(pk)
        return obj

    def _not_found(self, pk: object) -> NotFoundError:
        return NotFoundError(f"{self._mapper.class_.__name__} with primary key {pk!r} not found")

    def _writable_by_statement(self, key: tuple[Any, ...], *, deleting: bool) -> bool:
        """Whether the row can be written by one statement: the session does not hold
        its object, and nobody listens for what the unit of work would announce."""
        session = self._session.sync_session
        identity = self._mapper.identity_key_from_primary_key(key)
        if identity in session.identity_map:
            return False
        return statement_allowed(self._mapper, session, deleting=deleting)
