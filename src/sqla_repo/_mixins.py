"""Model mixins, usable on any ``DeclarativeBase``: ``VersionedMixin``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class VersionedMixin:
    """Optimistic locking: a ``version`` column that every UPDATE checks and increments.

    ``class Counter(VersionedMixin, Base): ...`` gets ``version: Mapped[int]``, 1 on
    insert and incremented by each UPDATE the session flushes (and by
    ``update_where``). An update or delete based on a copy older than the stored row
    raises :class:`~sqla_repo.StaleDataError` instead of overwriting a change it never
    saw; ``run_in_transaction`` re-runs the transaction on it.

    List the mixin before the declarative base. A ``__mapper_args__`` dict the model
    declares itself is kept and gets ``version_id_col`` added.
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    _own_mapper_args: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        own = cls.__dict__.get("__mapper_args__")
        if isinstance(own, Mapping):
            # the model's own arguments would hide the mixin's: merge them instead
            cls._own_mapper_args = dict(own)
            del cls.__mapper_args__
        super().__init_subclass__(**kwargs)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - a class-level directive
        table: Any = getattr(cls, "__table__")  # noqa: B009 - declared by the mapped class
        return {**cls._own_mapper_args, "version_id_col": table.c.version}
