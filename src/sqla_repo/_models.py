"""``Base`` (a ``DeclarativeBase`` with a constraint naming convention) and ``User``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from sqlalchemy import BigInteger, Integer, MetaData, String
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION: Mapping[str, str] = MappingProxyType(
    {
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
"""Constraint names that are the same on every backend (and diff-free under Alembic); read-only.

An application that keeps its own ``DeclarativeBase`` gets the same names with
``MetaData(naming_convention=NAMING_CONVENTION)``.
"""


class Base(AsyncAttrs, DeclarativeBase):
    """Declarative base whose ``MetaData`` names every constraint by :data:`NAMING_CONVENTION`.

    It mixes in SQLAlchemy's ``AsyncAttrs``: ``await obj.awaitable_attrs.posts`` loads a
    relationship that was not loaded, without implicit IO.
    """

    metadata: ClassVar[MetaData] = MetaData(naming_convention=NAMING_CONVENTION)


# BIGINT where the backend has it; SQLite's rowid alias must be exactly "INTEGER PRIMARY KEY".
_BigIntPk = BigInteger().with_variant(Integer(), "sqlite")


class User(Base):
    """A user: ``id`` big-integer key, unique ``email``, optional ``name``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(_BigIntPk, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(String(120), nullable=True)

    def __repr__(self) -> str:
        # Only what is loaded: a repr must never trigger IO (an expired attribute
        # would need a lazy load, which fails under asyncio).
        loaded = self.__dict__
        fields = ", ".join(f"{key}={loaded.get(key)!r}" for key in ("id", "email", "name"))
        return f"User({fields})"
