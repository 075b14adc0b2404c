# pyright: strict
"""A client module as an application writes it: its own models, repositories and engine.

Type-checked with ``mypy --strict`` and pyright in strict mode (every public result is
pinned with ``assert_type``) and run as a walk-through of every repository method:
``python client_ok.py DATABASE_URL``. It imports only ``sqla_repo``, its core dependencies
(SQLAlchemy, pydantic, ``typing_extensions``) and the standard library, so it also checks an
installed wheel without extras. The integrations (FastAPI, Alembic) are checked by
``client_integrations.py``.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncGenerator, Awaitable, Coroutine
from contextlib import AbstractContextManager, aclosing
from datetime import datetime
from typing import Any, assert_type

from pydantic import BaseModel, ConfigDict, SecretStr
from sqlalchemy import (
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    asc,
    desc,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncAttrs, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from sqla_repo import (
    NAMING_CONVENTION,
    Cluster,
    ConflictError,
    CursorPage,
    DatabaseSettings,
    EngineFactory,
    InvalidCursorError,
    InvalidFieldError,
    NotFoundError,
    NotLoadedError,
    NotNullViolationError,
    OrderBy,
    Page,
    PoolConfig,
    ReadOnlyError,
    Repository,
    RoutingConfig,
    SoftDeleteMixin,
    StaleDataError,
    TimestampMixin,
    User,
    UserRepository,
    UUIDv7PrimaryKeyMixin,
    VersionedMixin,
    run_in_transaction,
    unit_of_work,
    uuid7,
)


class ClientBase(AsyncAttrs, DeclarativeBase):
    """The application's own declarative base (not ``sqla_repo.Base``), with the same
    constraint names and ``awaitable_attrs``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Gadget(ClientBase):
    __tablename__ = "client_gadgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(200))
    stock: Mapped[int] = mapped_column(Integer, default=0)

    parts: Mapped[list[Part]] = relationship(back_populates="gadget", order_by="Part.id")


class Part(ClientBase):
    __tablename__ = "client_parts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gadget_id: Mapped[int] = mapped_column(ForeignKey("client_gadgets.id"))
    name: Mapped[str] = mapped_column(String(100))

    gadget: Mapped[Gadget] = relationship(back_populates="parts")


class Label(ClientBase):
    """A natural string primary key."""

    __tablename__ = "client_labels"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


class Meter(VersionedMixin, ClientBase):
    """Optimistic locking: ``version`` is checked and bumped by every UPDATE."""

    __tablename__ = "client_meters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reading: Mapped[int] = mapped_column(Integer, default=0)


class Note(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, ClientBase):
    """Every mixin of the model toolkit at once."""

    __tablename__ = "client_notes"

    title: Mapped[str] = mapped_column(String(50))


class NoteRepository(Repository[Note, uuid.UUID]):
    pass


class MeterRepository(Repository[Meter, int]):
    pass


class GadgetRepository(Repository[Gadget]):
    """No primary-key type: ``pk`` arguments accept anything."""

    async def by_sku(self, sku: str) -> Gadget | None:
        found = await self.list(Gadget.sku == sku, limit=1)
        return found[0] if found else None

    async def skus(self) -> list[str]:
        """A statement of its own, with the repository's error translation."""
        with self.translate_errors():
            result = await self.session.scalars(select(Gadget.sku).order_by(Gadget.sku))
        return list(result)


class KeyedGadgetRepository(Repository[Gadget, int]):
    """``pk`` arguments are ``int``."""


class LabelRepository(Repository[Label, str]):
    """``pk`` arguments are ``str``."""


class PartRepository(Repository[Part, int]):
    pass


class GadgetIn(BaseModel):
    """An input schema: ``create``, ``create_many`` and ``upsert`` take its ``model_dump()``."""

    sku: str
    name: str
    note: str | None = None
    stock: int = 0


class GadgetPatch(BaseModel):
    """A PATCH body: ``update`` writes only the fields that were set, ``None`` as NULL."""

    name: str | None = None
    note: str | None = None


class GadgetOut(BaseModel):
    """An output schema read from the ORM object's attributes."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    note: str | None


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


def settings_from_keywords(url: str) -> DatabaseSettings:
    """Keywords by field name, typed without the pydantic mypy plugin."""
    settings = DatabaseSettings(url=url, pool_size=2, pool_timeout=10.0)
    assert_type(settings.url, SecretStr)
    assert_type(settings.pool_size, int)
    assert_type(settings.max_overflow, int)
    assert_type(settings.pool_timeout, float)
    assert_type(settings.pool_recycle, int)
    assert_type(settings.pool_pre_ping, bool)
    assert_type(settings.echo, bool)
    assert url not in repr(settings)
    assert settings.url.get_secret_value() == url
    assert (settings.pool_size, settings.pool_timeout) == (2, 10.0)
    assert_type(DatabaseSettings(url=SecretStr(url)), DatabaseSettings)
    return settings


def settings_from_environment() -> tuple[DatabaseSettings, DatabaseSettings, EngineFactory]:
    """The environment's spellings; type-checked, not run (they read ``DATABASE_*``)."""
    from_environment = assert_type(DatabaseSettings(), DatabaseSettings)
    from_dotenv = assert_type(DatabaseSettings(_env_file=".env"), DatabaseSettings)
    factory = assert_type(EngineFactory.from_settings(), EngineFactory)
    return from_environment, from_dotenv, factory


def tuned_factory(url: str) -> EngineFactory:
    """What the factory does not model: driver and engine keyword arguments."""
    return EngineFactory(
        url,
        pool=PoolConfig(size=2),
        connect_args={"timeout": 10},
        engine_options={"isolation_level": "READ COMMITTED"},
    )


def sync_twin(url: str) -> None:
    """``from_settings`` and the synchronous twin of the async engine."""
    factory = assert_type(EngineFactory.from_settings(settings_from_keywords(url)), EngineFactory)
    assert factory.pool == PoolConfig(size=2, timeout=10.0)
    engine = assert_type(factory.create_engine(), Engine)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


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
        # mypy calls the coroutine object Coroutine, pyright CoroutineType: both assign
        deletion: Coroutine[Any, Any, None] = keyed.delete(desk_id)
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


GADGET_NAMES = ["Stool", "Shelf", "Lamp shade", "Brass lamp", "Big table", "Bench", "Armchair"]
"""Every gadget's name after ``bulk_writes``, in descending order."""


async def bulk_writes(sessions: async_sessionmaker[AsyncSession], lamp_id: int) -> None:
    async with sessions() as session, session.begin():
        gadgets = KeyedGadgetRepository(session)
        assert assert_type(await gadgets.create_many([]), list[Gadget]) == []
        assert assert_type(await gadgets.create_many([], returning=False), int) == 0
        assert assert_type(await gadgets.create_many([], returning=True), list[Gadget]) == []
        created = assert_type(
            await gadgets.create_many(
                [
                    Gadget(sku="G-3", name="Chair"),
                    {"sku": "G-4", "name": "Table", "note": "pine"},
                    {"sku": "G-5", "name": "Shelf"},
                ]
            ),
            list[Gadget],
        )
        assert [gadget.sku for gadget in created] == ["G-3", "G-4", "G-5"]
        assert len({gadget.id for gadget in created}) == 3
        chair = created[0]

        armchair = assert_type(
            await gadgets.upsert({"sku": "G-3", "name": "Armchair"}, on=["sku"]), Gadget
        )
        assert (armchair.id, armchair.sku, armchair.name) == (chair.id, "G-3", "Armchair")
        stool = assert_type(
            await gadgets.upsert(Gadget(sku="G-6", name="Stool"), on=[Gadget.sku]), Gadget
        )
        assert isinstance(stool.id, int)
        assert stool.id not in {gadget.id for gadget in created}

        upserted = assert_type(
            await gadgets.upsert_many(
                [{"sku": "G-4", "name": "Big table"}, {"sku": "G-7", "name": "Bench"}],
                on=Gadget.sku,
                update=["name"],
            ),
            list[Gadget],
        )
        assert [(g.sku, g.name, g.note) for g in upserted] == [
            ("G-4", "Big table", "pine"),
            ("G-7", "Bench", None),
        ]
        assert upserted[0].id == created[1].id
        assert assert_type(await gadgets.upsert_many([]), list[Gadget]) == []

        shade, inserted = assert_type(
            await gadgets.get_or_create(
                {"sku": "G-8"}, on=["sku"], defaults={"name": "Lamp shade"}
            ),
            tuple[Gadget, bool],
        )
        assert inserted
        assert (shade.sku, shade.name) == ("G-8", "Lamp shade")
        again, inserted_again = await gadgets.get_or_create(
            {"sku": "G-8"}, on="sku", defaults={"name": "Not used"}
        )
        assert not inserted_again
        assert (again.id, again.name) == (shade.id, "Lamp shade")

        parts = assert_type(
            await PartRepository(session).create_many(
                [{"gadget_id": lamp_id, "name": "Bulb"}, {"gadget_id": lamp_id, "name": "Cord"}]
            ),
            list[Part],
        )
        assert [part.name for part in parts] == ["Bulb", "Cord"]


async def queries(sessions: async_sessionmaker[AsyncSession], lamp_id: int) -> None:
    async with sessions() as session:
        gadgets = KeyedGadgetRepository(session)
        lamp = assert_type(await gadgets.get_one(lamp_id), Gadget)
        assert lamp.sku == "G-1b"
        try:
            await gadgets.get_one(lamp_id + 1000)
        except NotFoundError:
            pass
        else:
            raise AssertionError("get_one of a missing primary key did not raise NotFoundError")

        by_key = assert_type(await gadgets.get_many([lamp_id, lamp_id + 1000]), dict[int, Gadget])
        assert list(by_key) == [lamp_id]
        assert by_key[lamp_id] is lamp
        assert assert_type(await gadgets.get_many([]), dict[int, Gadget]) == {}
        labels = assert_type(
            await LabelRepository(session).get_many(("new", "old")), dict[str, Label]
        )
        assert list(labels) == ["new"]

        assert assert_type(await gadgets.count(), int) == 7
        assert await gadgets.count(Gadget.note.is_not(None)) == 2
        assert await gadgets.count(text("1 = 1")) == 7
        assert assert_type(await gadgets.exists(Gadget.sku == "G-5"), bool)
        assert not await gadgets.exists(Gadget.sku == "G-404")
        assert not await gadgets.exists(text("1 = 0"))

        everything = assert_type(await gadgets.list(text("1 = 1")), list[Gadget])
        assert len(everything) == 7
        by_name = assert_type(await gadgets.list(order_by="-name"), list[Gadget])
        assert [gadget.name for gadget in by_name] == GADGET_NAMES
        by_desc = await gadgets.list(order_by=[desc(Gadget.name), asc(Gadget.sku)])
        assert [gadget.name for gadget in by_desc] == GADGET_NAMES
        ordering: OrderBy = ["-stock", Gadget.sku]
        assert [g.sku for g in await gadgets.list(order_by=ordering, limit=2, offset=1)] == [
            "G-3",
            "G-4",
        ]

        first = assert_type(await gadgets.page(order_by="sku", limit=3), Page[Gadget])
        assert_type(first.items, list[Gadget])
        assert_type(first.total, int)
        assert_type(first.limit, int)
        assert_type(first.offset, int)
        assert [gadget.sku for gadget in first.items] == ["G-1b", "G-3", "G-4"]
        assert (first.total, first.limit, first.offset) == (7, 3, 0)
        past_the_end = await gadgets.page(Gadget.note.is_not(None), limit=10, offset=5)
        assert (past_the_end.items, past_the_end.total) == ([], 2)

        names: list[str] = []
        after: str | None = None
        pages = 0
        while True:
            chunk = assert_type(
                await gadgets.paginate(order_by=Gadget.name.desc(), limit=3, after=after),
                CursorPage[Gadget],
            )
            assert_type(chunk.items, list[Gadget])
            assert_type(chunk.next_cursor, str | None)
            assert_type(chunk.has_next, bool)
            names += [gadget.name for gadget in chunk.items]
            pages += 1
            if not chunk.has_next:
                assert chunk.next_cursor is None
                break
            after = chunk.next_cursor
        assert (names, pages) == (GADGET_NAMES, 3)
        try:
            await gadgets.paginate(after="")
        except InvalidCursorError:
            pass
        else:
            raise AssertionError("an empty cursor did not raise InvalidCursorError")

        stream = assert_type(
            gadgets.stream(Gadget.sku != "G-1b", order_by="sku", batch_size=2),
            AsyncGenerator[Gadget, None],
        )
        streamed: list[str] = []
        async for gadget in stream:
            assert_type(gadget, Gadget)
            streamed.append(gadget.sku)
        assert streamed == ["G-3", "G-4", "G-5", "G-6", "G-7", "G-8"]
        async with aclosing(gadgets.stream(batch_size=2)) as early:
            async for gadget in early:
                assert gadget.sku == "G-1b"
                break
        assert await gadgets.count() == 7  # the session is still usable

        skus = assert_type(await GadgetRepository(session).skus(), list[str])
        assert skus == ["G-1b", "G-3", "G-4", "G-5", "G-6", "G-7", "G-8"]


async def loading(sessions: async_sessionmaker[AsyncSession], lamp_id: int) -> None:
    """``options=`` on reads, ``NotLoadedError`` and ``awaitable_attrs``."""
    user = User(email="ann@example.com", name="Ann")
    email = await assert_type(user.awaitable_attrs.email, Awaitable[Any])
    assert email == "ann@example.com"

    not_loaded: NotLoadedError | None = None
    async with sessions() as session:
        lamp = await KeyedGadgetRepository(session).get_one(lamp_id)
        try:
            print(lamp.parts)
        except NotLoadedError as err:
            not_loaded = err
        if not_loaded is None:
            raise AssertionError("an unloaded relationship did not raise NotLoadedError")
        assert "Gadget.parts" in str(not_loaded)
        parts = await assert_type(lamp.awaitable_attrs.parts, Awaitable[Any])
        assert [part.name for part in parts] == ["Bulb", "Cord"]

    with_parts = [selectinload(Gadget.parts)]
    async with sessions() as session:
        gadgets = KeyedGadgetRepository(session)
        found = assert_type(await gadgets.get(lamp_id, options=with_parts), Gadget | None)
        assert found is not None
        assert [part.name for part in found.parts] == ["Bulb", "Cord"]
        one = assert_type(await gadgets.get_one(lamp_id, options=with_parts), Gadget)
        assert one is found
        many = assert_type(
            await gadgets.get_many([lamp_id], options=[selectinload(Gadget.parts)]),
            dict[int, Gadget],
        )
        assert [part.name for part in many[lamp_id].parts] == ["Bulb", "Cord"]

    async with sessions() as session:
        gadgets = KeyedGadgetRepository(session)
        listed = await gadgets.list(Gadget.sku.in_(["G-1b", "G-3"]), options=with_parts)
        assert [len(gadget.parts) for gadget in listed] == [2, 0]
    async with sessions() as session:
        gadgets = KeyedGadgetRepository(session)
        page = await gadgets.page(Gadget.sku.in_(["G-1b", "G-3"]), options=with_parts)
        assert [len(gadget.parts) for gadget in page.items] == [2, 0]
    async with sessions() as session:
        gadgets = KeyedGadgetRepository(session)
        cursor_page = await gadgets.paginate(Gadget.id == lamp_id, options=with_parts)
        assert [len(gadget.parts) for gadget in cursor_page.items] == [2]
    async with sessions() as session:
        gadgets = KeyedGadgetRepository(session)
        counts = [
            len(gadget.parts)
            async for gadget in gadgets.stream(
                Gadget.sku.in_(["G-1b", "G-3"]), batch_size=1, options=with_parts
            )
        ]
        assert counts == [2, 0]


async def translated_errors(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A statement of the client's own, with the repository's errors."""
    caught: ConflictError | None = None
    async with sessions() as session:
        gadgets = GadgetRepository(session)
        assert_type(gadgets.translate_errors(), AbstractContextManager[None])
        try:
            with gadgets.translate_errors():
                await session.execute(insert(Gadget).values(sku="G-1b", name="Twin"))
        except ConflictError as err:
            caught = err
        await session.rollback()
    if caught is None:
        raise AssertionError("a duplicate sku in a custom statement did not raise ConflictError")
    assert caught.columns == ("sku",)


async def set_based_writes(sessions: async_sessionmaker[AsyncSession], lamp_id: int) -> None:
    async with sessions() as session, session.begin():
        gadgets = KeyedGadgetRepository(session)
        lamp = await gadgets.get_one(lamp_id)
        matched = assert_type(
            await gadgets.update_where(
                Gadget.sku.in_(["G-1b", "G-5"]),
                values={"note": "sale", Gadget.stock: Gadget.stock + 5},
            ),
            int,
        )
        assert matched == 2
        assert (lamp.note, lamp.stock) == ("sale", 5)  # updated in place, no lazy load
        assert await gadgets.update_where(text("1 = 0"), values={"note": "never"}) == 0
        try:
            await gadgets.update_where(values={"note": "everything"})
        except InvalidFieldError:
            pass
        else:
            raise AssertionError("update_where() without a condition did not raise")

        deleted = assert_type(await gadgets.delete_where(Gadget.sku.in_(["G-7", "G-8"])), int)
        assert deleted == 2
        assert await gadgets.delete_where(text("1 = 0")) == 0
        try:
            await gadgets.delete_where()
        except InvalidFieldError:
            pass
        else:
            raise AssertionError("delete_where() without a condition did not raise")

    async with sessions() as session:
        gadgets = KeyedGadgetRepository(session)
        assert await gadgets.count() == 5
        on_sale = await gadgets.list(Gadget.note == "sale")
        assert [(g.sku, g.stock) for g in on_sale] == [("G-1b", 5), ("G-5", 5)]


async def transactions(sessions: async_sessionmaker[AsyncSession], lamp_id: int) -> None:
    async with unit_of_work(sessions) as session:
        assert_type(session, AsyncSession)
        meter = await MeterRepository(session).create({"id": 1})
        assert_type(meter.version, int)
        async with unit_of_work(sessions) as nested:  # a SAVEPOINT of the same session
            assert nested is session
        locked = await KeyedGadgetRepository(session).get(lamp_id, for_update=True)
        assert_type(locked, Gadget | None)
        claimed = await KeyedGadgetRepository(session).list(limit=1, for_update="skip_locked")
        assert_type(claimed, list[Gadget])

    async def bump(session: AsyncSession) -> int:
        meters = MeterRepository(session)
        current = await meters.get_one(1, for_update="nowait")
        return (await meters.update(1, reading=current.reading + 1)).version

    version = await run_in_transaction(sessions, bump, retries=5, isolation_level="SERIALIZABLE")
    assert assert_type(version, int) == 2
    try:
        async with unit_of_work(sessions, read_only=True) as session:
            await MeterRepository(session).update(1, reading=0)
    except ReadOnlyError:
        pass
    async with sessions() as holder:
        stale = await MeterRepository(holder).get_one(1)
        await holder.commit()
        async with unit_of_work(sessions) as other:
            await MeterRepository(other).update(1, reading=10)
        try:
            await MeterRepository(holder).update(stale.id, reading=0)
        except StaleDataError:
            await holder.rollback()


async def pydantic_input(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Pydantic models in, ORM objects out, and PATCH semantics in ``update``."""
    async with sessions() as session, session.begin():
        gadgets = KeyedGadgetRepository(session)
        lamp = assert_type(
            await gadgets.create(GadgetIn(sku="P-1", name="Lamp", note="new")), Gadget
        )
        assert (lamp.sku, lamp.name, lamp.note, lamp.stock) == ("P-1", "Lamp", "new", 0)
        created = assert_type(
            await gadgets.create_many(
                [GadgetIn(sku="P-2", name="Desk"), {"sku": "P-3", "name": "Bin"}]
            ),
            list[Gadget],
        )
        desk = assert_type(
            await gadgets.upsert(GadgetIn(sku="P-2", name="Big desk"), on=["sku"]), Gadget
        )
        assert (desk.id, desk.name) == (created[0].id, "Big desk")
        patched = assert_type(await gadgets.update(lamp.id, GadgetPatch(note=None)), Gadget)
        assert (patched.name, patched.note) == ("Lamp", None)  # name was not set: untouched
        renamed = await gadgets.update(lamp.id, GadgetPatch(name="Brass lamp"), stock=3)
        assert (renamed.name, renamed.note, renamed.stock) == ("Brass lamp", None, 3)
        shown = assert_type(GadgetOut.model_validate(renamed), GadgetOut)
        assert shown == GadgetOut(id=lamp.id, sku="P-1", name="Brass lamp", note=None)
        keys = [lamp.id, *(gadget.id for gadget in created)]

    caught: NotNullViolationError | None = None
    async with sessions() as session:
        try:
            await KeyedGadgetRepository(session).update(keys[0], GadgetPatch(name=None))
        except NotNullViolationError as err:
            caught = err
        await session.rollback()
    if caught is None:
        raise AssertionError("a PATCH of a NOT NULL column to None did not raise")

    async with sessions() as session, session.begin():
        gadgets = KeyedGadgetRepository(session)
        assert (await gadgets.get_one(keys[0])).name == "Brass lamp"
        for key in keys:
            await gadgets.delete(key)


async def model_toolkit(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Keys made in Python, aware timestamps, soft delete with restore and purge."""
    assert_type(uuid7(), uuid.UUID)
    draft = Note(title="draft")
    assert_type(draft.id, uuid.UUID)
    async with sessions.begin() as session:
        notes = NoteRepository(session)
        note = assert_type(await notes.create(draft), Note)
        assert_type(note.created_at, datetime)
        assert_type(note.updated_at, datetime)
        assert_type(note.deleted_at, datetime | None)
        await notes.delete(note.id)
        assert await notes.get(note.id) is None
        marked = assert_type(await notes.get(note.id, include_deleted=True), Note | None)
        assert marked is not None
        assert marked.deleted_at is not None
        assert_type(await notes.count(include_deleted=True), int)
        assert_type(await notes.list(include_deleted=True), list[Note])
        page = await notes.paginate(include_deleted=True)
        assert_type(page, CursorPage[Note])
        restored = assert_type(await notes.restore(note.id), Note)
        assert restored.deleted_at is None
        await notes.purge(note.id)
        assert await notes.get_many([note.id], include_deleted=True) == {}


async def replicas(url: str) -> None:
    """A cluster (here without replicas: every read session runs on the primary)."""
    factory = EngineFactory(url, replicas=[], routing=RoutingConfig(max_lag=2.0, wait=0.1))
    assert_type(factory.routing, RoutingConfig)
    cluster = assert_type(factory.create_cluster(), Cluster)
    try:
        assert_type(cluster.primary, AsyncEngine)
        assert_type(cluster.replicas, tuple[AsyncEngine, ...])
        async with cluster.primary.begin() as connection:  # an in-memory database is its own
            await connection.run_sync(ClientBase.metadata.create_all)
        sessions = assert_type(cluster.sessionmaker(), async_sessionmaker[AsyncSession])
        async with unit_of_work(sessions) as session:
            await GadgetRepository(session).create({"sku": "replica-1", "name": "replicated"})
        position = assert_type(cluster.position, str | None)
        async with cluster.read_session(after=position) as reader:
            assert_type(reader, AsyncSession)
            found = await GadgetRepository(reader).list(Gadget.name == "replicated")
            assert_type(found, list[Gadget])
            assert [gadget.name for gadget in found] == ["replicated"]
            try:
                await GadgetRepository(reader).create({"sku": "replica-2", "name": "refused"})
            except ReadOnlyError:
                pass
            else:
                raise AssertionError("a read session wrote")
    finally:
        await cluster.dispose()


async def walk_through(url: str) -> None:
    """Create, get, list, update, conflict, delete, then every query and bulk write.

    Drops the client's tables first (leftovers of an interrupted run) and at the end.
    """
    sync_twin(url)
    assert_type(tuned_factory(url), EngineFactory)
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
            await bulk_writes(sessions, lamp_id)
            await queries(sessions, lamp_id)
            await loading(sessions, lamp_id)
            await translated_errors(sessions)
            await set_based_writes(sessions, lamp_id)
            await transactions(sessions, lamp_id)
            await pydantic_input(sessions)
            await model_toolkit(sessions)
            await replicas(url)
        finally:
            async with engine.begin() as connection:
                await connection.run_sync(ClientBase.metadata.drop_all)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(walk_through(sys.argv[1]))
    print("client walk-through: ok")
