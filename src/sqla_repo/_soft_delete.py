"""Soft deletion: ``SoftDeleteMixin`` and what the repository needs to honour it.

A model with the mixin keeps its rows when they are deleted: ``deleted_at`` is set
instead, and every read of the repository leaves such marked rows out. What a
mapper needs is worked out once and cached per mapper (:func:`soft_plan`), so
models without the mixin pay one attribute check per read and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Column, ColumnElement, Select
from sqlalchemy.orm import Mapped, Mapper, mapped_column, with_loader_criteria
from sqlalchemy.sql.base import ExecutableOption

from ._timestamps import TIMESTAMP_SORT_ORDER, UTCDateTime


class SoftDeleteMixin:
    """Soft deletion: ``deleted_at: Mapped[datetime | None]``, NULL while the row is live.

    ``class Article(SoftDeleteMixin, Base): ...`` on any ``DeclarativeBase``. A
    :class:`~sqla_repo.Repository` over such a model marks rows instead of deleting
    them (``delete``, ``delete_where``), leaves marked rows out of every read unless
    ``include_deleted=True`` is passed, and adds ``restore`` (clear the mark) next to
    ``purge`` (delete for real). ``deleted_at`` is timezone-aware UTC on every backend.
    Combines in any order with the other mixins.
    """

    deleted_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, default=None, sort_order=TIMESTAMP_SORT_ORDER
    )


def _live(cls: Any) -> ColumnElement[bool]:
    return cls.deleted_at.is_(None)  # type: ignore[no-any-return]  # any soft-delete class


LIVE_CRITERIA: ExecutableOption = with_loader_criteria(
    SoftDeleteMixin, _live, include_aliases=True, track_closure_variables=False
)
"""Leaves marked rows of every soft-delete class out of a statement and of the
relationship loads its options start (``selectinload``, ``joinedload``)."""


@dataclass(frozen=True, slots=True)
class SoftDelete:
    """The ``deleted_at`` of one soft-delete model."""

    key: str
    """The attribute name (``deleted_at``)."""
    column: Column[Any]
    """The table column, for Core statements."""
    live: ColumnElement[bool]
    """``Model.deleted_at IS NULL``, for ORM statements."""
    table_live: ColumnElement[bool]
    """``table.deleted_at IS NULL``, for Core statements."""


@dataclass(frozen=True, slots=True)
class SoftPlan:
    """How reads of one model leave marked rows out."""

    own: SoftDelete | None
    """The model's own ``deleted_at``; ``None`` for a model without the mixin."""
    criteria: ExecutableOption | None
    """The loader criteria to add when a read has loader options: ``None`` when no
    soft-delete class can be reached through the model's relationships."""

    def select(self, statement: Select[Any], options: object, include_deleted: bool) -> Select[Any]:
        """``statement`` leaving marked rows out (its own, and those its options load)."""
        if include_deleted:
            return statement
        if self.own is not None:
            statement = statement.where(self.own.live)
        if options and self.criteria is not None:
            statement = statement.options(self.criteria)
        return statement


NO_SOFT_DELETE = SoftPlan(None, None)
"""The plan of a model that neither has the mixin nor reaches one that has."""

_plans: WeakKeyDictionary[Mapper[Any], SoftPlan] = WeakKeyDictionary()


def soft_plan(mapper: Mapper[Any]) -> SoftPlan:
    """The (cached) soft-delete plan of ``mapper``."""
    plan = _plans.get(mapper)
    if plan is None:
        plan = _plans[mapper] = _build(mapper)
    return plan


def soft_delete_of(mapper: Mapper[Any]) -> SoftDelete | None:
    """The model's own ``deleted_at``, or ``None`` without the mixin."""
    return soft_plan(mapper).own


def now() -> datetime:
    """The mark a delete sets: the current time, aware UTC."""
    return datetime.now(UTC)


def require_soft_delete(mapper: Mapper[Any], method: str) -> SoftDelete:
    """The model's ``deleted_at``; ``TypeError`` naming the mixin without it."""
    own = soft_delete_of(mapper)
    if own is None:
        model = mapper.class_.__name__
        raise TypeError(
            f"{method}() needs a soft-delete model: {model} does not have SoftDeleteMixin "
            f"(class {model}(SoftDeleteMixin, Base): ...)"
        )
    return own


def _build(mapper: Mapper[Any]) -> SoftPlan:
    own: SoftDelete | None = None
    if issubclass(mapper.class_, SoftDeleteMixin):
        prop = mapper.attrs["deleted_at"]
        attribute: Any = prop.class_attribute
        column: Column[Any] = mapper.columns["deleted_at"]
        own = SoftDelete(prop.key, column, attribute.is_(None), column.is_(None))
    if own is None and not _reaches_soft_delete(mapper):
        return NO_SOFT_DELETE
    return SoftPlan(own, LIVE_CRITERIA)


def _reaches_soft_delete(mapper: Mapper[Any]) -> bool:
    """Whether a soft-delete class is among the classes the mapper's relationships
    reach, directly or through others."""
    seen: set[Mapper[Any]] = set()
    todo = [mapper]
    while todo:
        current = todo.pop()
        for each in current.self_and_descendants:
            if each in seen:
                continue
            seen.add(each)
            if issubclass(each.class_, SoftDeleteMixin):
                return True
            todo.extend(rel.mapper for rel in each.relationships)
    return False
