"""A client module as an application writes it: its own models, repositories and engine.

Type-checked with ``mypy --strict`` (every public result is pinned with ``assert_type``)
and run as a CRUD walk-through: ``python client_ok.py DATABASE_URL``. It imports only
``sqla_repo``, SQLAlchemy and the standard library, so it also checks an installed wheel.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, assert_type

from sqlalchemy import Integer, String
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_repo import (
    ConflictError,
    EngineFactory,
    NotFoundError,
    PoolConfig,
    Repository,
    User,
    UserRepository,
)


class ClientBase(DeclarativeBase):
    """The application's own declarative base (not ``sqla_repo.Base``)."""


class Gadget(ClientBase):
    __tablename__ = "client_gadgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(200))


class Label(ClientBase):
    """A natural string primary key."""

    __tablename__ = "client_labels"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


class GadgetRepository(Repository[Gadget]):
    """No primary-key type: ``pk`` arguments accept anything."""

    async def by_sku(self, sku: str) -> Gadget | None:
        found = await self.list(Gadget.sku == sku, limit=1)
        return found[0] if found else None


class KeyedGadgetRepository(Repository[Gadget, int]):
    """``pk`` arguments are ``int``."""


class LabelRepository(Repository[Label, str]):
    """``pk`` arguments are ``str``."""


def pool_config() -> PoolConfig:
    config = PoolConfig(size=2, max_overflow=1, timeout=10.0, recycle=1800, pre_ping=True)
    assert_type(config.size, int)
    assert_type(config.max_overflow, int)
    assert_type(config.timeout, float)
    assert_type(config.recycle, int)
    assert_type(config.pre_ping, bool)
    assert_type(PoolConfig(), PoolConfig)
    assert_type(PoolConfig(timeout=0.5), PoolConfig)
    return config


async def find_user(session: AsyncSession, email: str) -> User | None:
    """``UserRepository`` as shipped: typed by its model and its ``int`` primary key."""
    users = UserRepository(session)
    assert_type(users.model, type[User])
    assert_type(await users.get(1), User | None)
    return assert_type(await users.get_by_email(email), User | None)


async def create_gadgets(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        gadgets = GadgetRepository(session)
        assert_type(gadgets.session, AsyncSession)
        assert gadgets.session is session
        assert_type(gadgets.model, type[Gadget])
        assert gadgets.model is Gadget

        lamp = assert_type(await gadgets.create(Gadget(sku="G-1", name="Lamp")), Gadget)
        desk = assert_type(
            await gadgets.create({"sku": "G-2", "name": "Desk", "note": "oak"}), Gadget
        )
        assert isinstance(lamp.id, int)
        assert isinstance(desk.id, int)
        assert lamp.id != desk.id
        assert (desk.sku, desk.name, desk.note) == ("G-2", "Desk", "oak")

        labels = LabelRepository(session)
        label = assert_type(await labels.create({"code": "new", "title": "New"}), Label)
        assert label.code == "new"
        return lamp.id, desk.id


async def read_and_update(sessions: async_sessionmaker[AsyncSession], lamp_id: int) -> None:
    async with sessions() as session, session.begin():
        keyed = KeyedGadgetRepository(session)
        found = assert_type(await keyed.get(lamp_id), Gadget | None)
        assert found is not None
        assert (found.sku, found.name, found.note) == ("G-1", "Lamp", None)
        assert await keyed.get(lamp_id + 1000) is None

        listed = assert_type(await keyed.list(order_by=Gadget.sku), list[Gadget])
        assert [gadget.sku for gadget in listed] == ["G-1", "G-2"]
        newest_first = assert_type(
            await keyed.list(order_by=[Gadget.sku.desc()], limit=1), list[Gadget]
        )
        assert [gadget.sku for gadget in newest_first] == ["G-2"]
        with_note = assert_type(await keyed.list(Gadget.note.is_not(None)), list[Gadget])
        assert [gadget.sku for gadget in with_note] == ["G-2"]

        by_sku = assert_type(await GadgetRepository(session).by_sku("G-2"), Gadget | None)
        assert by_sku is not None
        assert by_sku.name == "Desk"

        label = assert_type(await LabelRepository(session).get("new"), Label | None)
        assert label is not None
        assert label.title == "New"

        updated = assert_type(
            await keyed.update(lamp_id, {"note": "brass"}, name="Brass lamp"), Gadget
        )
        assert (updated.id, updated.name, updated.note) == (lamp_id, "Brass lamp", "brass")
        renamed = assert_type(await GadgetRepository(session).update(lamp_id, sku="G-1b"), Gadget)
        assert renamed is updated

        try:
            await keyed.update(lamp_id + 1000, name="nobody")
        except NotFoundError:
            pass
        else:
            raise AssertionError("update of a missing primary key did not raise NotFoundError")

    async with sessions() as session:
        stored = await KeyedGadgetRepository(session).get(lamp_id)
        assert stored is not None
        assert (stored.sku, stored.name, stored.note) == ("G-1b", "Brass lamp", "brass")


async def conflict(sessions: async_sessionmaker[AsyncSession]) -> None:
    caught: ConflictError | None = None
    async with sessions() as session:
        try:
            await GadgetRepository(session).create({"sku": "G-2", "name": "Clone"})
        except ConflictError as err:
            caught = err
        await session.rollback()
    if caught is None:
        raise AssertionError("a duplicate sku did not raise ConflictError")
    assert_type(caught.constraint, str | None)
    assert_type(caught.columns, tuple[str, ...])
    # an unnamed constraint: every backend reports the column; PostgreSQL and MySQL
    # also report the name the server gave it (SQLite gives none)
    assert caught.columns == ("sku",)
    assert caught.constraint is None or "sku" in caught.constraint

    async with sessions() as session:
        skus = [gadget.sku for gadget in await GadgetRepository(session).list()]
        assert skus == ["G-1b", "G-2"]


async def delete(sessions: async_sessionmaker[AsyncSession], desk_id: int) -> None:
    async with sessions() as session, session.begin():
        keyed = KeyedGadgetRepository(session)
        deletion = assert_type(keyed.delete(desk_id), Coroutine[Any, Any, None])
        await deletion
        try:
            await keyed.delete(desk_id)
        except NotFoundError:
            pass
        else:
            raise AssertionError("deleting a missing primary key did not raise NotFoundError")

    async with sessions() as session:
        gadgets = KeyedGadgetRepository(session)
        assert await gadgets.get(desk_id) is None
        assert [gadget.sku for gadget in await gadgets.list()] == ["G-1b"]


async def walk_through(url: str) -> None:
    """Create, get, list, update, conflict and delete on the database at ``url``.

    Drops the client's tables first (leftovers of an interrupted run) and at the end.
    """
    factory = EngineFactory(url, pool=pool_config())
    engine = assert_type(factory.create_async_engine(), AsyncEngine)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(ClientBase.metadata.drop_all)
            await connection.run_sync(ClientBase.metadata.create_all)
        try:
            sessions = assert_type(
                factory.create_sessionmaker(engine), async_sessionmaker[AsyncSession]
            )
            lamp_id, desk_id = await create_gadgets(sessions)
            await read_and_update(sessions, lamp_id)
            await conflict(sessions)
            await delete(sessions, desk_id)
        finally:
            async with engine.begin() as connection:
                await connection.run_sync(ClientBase.metadata.drop_all)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(walk_through(sys.argv[1]))
    print("client walk-through: ok")
