"""Relationships under asyncio: options= on every read, NotLoadedError, AsyncAttrs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import ForeignKey, Integer, MetaData, String, UniqueConstraint, select
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from sqla_repo import NAMING_CONVENTION, Base, NotLoadedError, RepositoryError
from tests.models import (
    Author,
    AuthorRepository,
    Label,
    LabelRepository,
    Post,
    PostRepository,
)


@pytest.fixture
async def blog(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Two authors, three posts, three labels; returns ids by name."""
    async with sessions.begin() as session:
        ann, bob = await AuthorRepository(session).create_many([{"name": "ann"}, {"name": "bob"}])
        red, green, blue = await LabelRepository(session).create_many(
            [{"name": "red"}, {"name": "green"}, {"name": "blue"}]
        )
        session.add_all(
            [
                Post(author=ann, slug="one", title="One", labels=[red, green]),
                Post(author=ann, slug="two", title="Two", labels=[blue]),
                Post(author=bob, slug="three", title="Three", labels=[]),
            ]
        )
        await session.flush()
        posts = await PostRepository(session).list(order_by="slug")
        return {"ann": ann.id, "bob": bob.id, "red": red.id, **{p.slug: p.id for p in posts}}


def _is_usable(session: AsyncSession) -> Any:
    return AuthorRepository(session).count()


async def test_an_unloaded_one_to_many_raises_not_loaded(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions() as session:
        ann = await AuthorRepository(session).get_one(blog["ann"])
        with pytest.raises(NotLoadedError, match=r"Author\.posts") as raised:
            _ = ann.posts
        message = str(raised.value)
        assert "options=[selectinload(Author.posts)]" in message
        assert isinstance(raised.value, RepositoryError)
        assert not isinstance(raised.value, MissingGreenlet)
        assert await _is_usable(session) == 2


@pytest.mark.parametrize("factory_session", [True, False], ids=["factory", "plain"])
async def test_the_guard_holds_on_factory_and_plain_sessions(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    blog: dict[str, int],
    factory_session: bool,
) -> None:
    # factory sessions check on entry to execute; any other session gets a listener
    made = sessions if factory_session else async_sessionmaker(engine, expire_on_commit=False)
    async with made() as session:
        ann = await AuthorRepository(session).get_one(blog["ann"])
        listened = bool(session.sync_session.dispatch.do_orm_execute)
        assert listened is not factory_session
        with pytest.raises(NotLoadedError, match=r"Author\.posts"):
            _ = ann.posts
        session.expire(ann, ["name"])
        with pytest.raises(NotLoadedError, match=r"Author is expired"):
            _ = ann.name
        assert await _is_usable(session) == 2


async def test_an_unloaded_many_to_many_raises_not_loaded(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions() as session:
        posts = await PostRepository(session).list()
        with pytest.raises(NotLoadedError, match=r"Post\.labels.*selectinload\(Post\.labels\)"):
            _ = posts[0].labels
        with pytest.raises(NotLoadedError, match=r"Label\.posts"):
            _ = (await LabelRepository(session).get_one(blog["red"])).posts
        assert await _is_usable(session) == 2


async def test_an_unloaded_many_to_one_raises_not_loaded(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions() as session:
        post = await PostRepository(session).get_one(blog["three"])
        with pytest.raises(NotLoadedError, match=r"Post\.author"):
            _ = post.author
        assert await _is_usable(session) == 2


async def test_an_expired_attribute_raises_not_loaded(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions() as session:
        author = await AuthorRepository(session).get_one(blog["ann"])
        session.expire(author)
        with pytest.raises(NotLoadedError, match=r"Author.*refresh"):
            _ = author.name
        await session.refresh(author)
        assert author.name == "ann"


_READS: dict[str, Any] = {
    "get": lambda repo, ids, opts: repo.get(ids["ann"], options=opts),
    "get_one": lambda repo, ids, opts: repo.get_one(ids["ann"], options=opts),
    "get_many": lambda repo, ids, opts: repo.get_many([ids["ann"]], options=opts),
    "list": lambda repo, ids, opts: repo.list(Author.name == "ann", options=opts),
    "page": lambda repo, ids, opts: repo.page(Author.name == "ann", options=opts),
    "paginate": lambda repo, ids, opts: repo.paginate(Author.name == "ann", options=opts),
}


async def _first(result: Any) -> Any:
    result = await result
    if isinstance(result, dict):
        return next(iter(result.values()))
    if isinstance(result, list):
        return result[0]
    if hasattr(result, "items"):
        return result.items[0]
    return result


@pytest.mark.parametrize("read", sorted(_READS))
@pytest.mark.parametrize("held", [False, True], ids=["fresh", "held"])
async def test_options_load_on_every_read(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int], read: str, held: bool
) -> None:
    async with sessions() as session:
        repo = AuthorRepository(session)
        if held:  # already in the identity map, relationships not loaded
            await repo.get_one(blog["ann"])
        options = [selectinload(Author.posts).selectinload(Post.labels)]
        ann = await _first(_READS[read](repo, blog, options))
        assert sorted(p.slug for p in ann.posts) == ["one", "two"]
        labels = {p.slug: sorted(label.name for label in p.labels) for p in ann.posts}
        assert labels == {"one": ["green", "red"], "two": ["blue"]}


async def test_options_on_stream(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions() as session:
        counts = {
            a.name: len(a.posts)
            async for a in AuthorRepository(session).stream(options=[selectinload(Author.posts)])
        }
    assert counts == {"ann": 2, "bob": 1}


async def test_get_with_options_keeps_unflushed_changes(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions() as session:
        repo = AuthorRepository(session)
        ann = await repo.get_one(blog["ann"])
        ann.email = "ann@example.org"
        again = await repo.get(blog["ann"], options=[selectinload(Author.posts)])
        assert again is ann
        assert ann.email == "ann@example.org"
        assert len(ann.posts) == 2


async def test_update_assigns_an_unloaded_collection(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions.begin() as session:
        blue = await LabelRepository(session).get_many([blog["red"]])
        labels = await LabelRepository(session).list(Label.name.in_(["blue", "green"]))
        post = await PostRepository(session).update(blog["one"], labels=labels)
        assert sorted(label.name for label in post.labels) == ["blue", "green"]
        assert blue  # red is no longer linked, but still exists
    async with sessions() as session:
        post = await PostRepository(session).get_one(
            blog["one"], options=[selectinload(Post.labels)]
        )
        assert sorted(label.name for label in post.labels) == ["blue", "green"]


async def test_update_assigns_a_many_to_one(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions.begin() as session:
        bob = await AuthorRepository(session).get_one(blog["bob"])
        post = await PostRepository(session).update(blog["one"], author=bob)
        assert post.author is bob
        assert post.author_id == bob.id
    async with sessions() as session:
        bob = await AuthorRepository(session).get_one(
            blog["bob"], options=[selectinload(Author.posts)]
        )
        assert sorted(p.slug for p in bob.posts) == ["one", "three"]


async def test_update_assigns_a_one_to_many(
    sessions: async_sessionmaker[AsyncSession], blog: dict[str, int]
) -> None:
    async with sessions.begin() as session:
        posts = await PostRepository(session).get_many([blog["one"], blog["three"]])
        bob = await AuthorRepository(session).update(blog["bob"], posts=list(posts.values()))
        assert sorted(p.slug for p in bob.posts) == ["one", "three"]
    async with sessions() as session:
        assert await PostRepository(session).count(Post.author_id == blog["bob"]) == 2


# --- Base: AsyncAttrs and the naming convention -------------------------------------------


class Shelf(Base):
    __tablename__ = "test_shelves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    books: Mapped[list[Book]] = relationship()


class Book(Base):
    __tablename__ = "test_books"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shelf_id: Mapped[int] = mapped_column(ForeignKey("test_shelves.id"))


async def test_base_models_await_their_relationships(engine: AsyncEngine) -> None:
    tables = [Base.metadata.tables[name] for name in ("test_shelves", "test_books")]
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all, tables=tables)
        await connection.run_sync(Base.metadata.create_all, tables=tables)
    try:
        async with AsyncSession(engine) as session:
            session.add(Shelf(id=1, books=[Book(id=1), Book(id=2)]))
            await session.commit()
        async with AsyncSession(engine) as session:
            shelf = (await session.scalars(select(Shelf))).one()
            books = await shelf.awaitable_attrs.books
            assert sorted(b.id for b in books) == [1, 2]
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all, tables=tables)


def test_naming_convention_is_exported_for_other_bases() -> None:
    class Own(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)

    class Thing(Own):
        __tablename__ = "things"
        __table_args__ = (UniqueConstraint("code"),)
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        code: Mapped[str] = mapped_column(String(10))
        owner_id: Mapped[int] = mapped_column(ForeignKey("things.id"))

    table = Thing.__table__
    names = {constraint.name for constraint in table.constraints}  # type: ignore[attr-defined]
    assert {"pk_things", "uq_things_code", "fk_things_owner_id_things"} <= names
    assert dict(NAMING_CONVENTION) == dict(Base.metadata.naming_convention)
    with pytest.raises(TypeError):
        NAMING_CONVENTION["pk"] = "changed"  # type: ignore[index]  # read-only
