"""SoftDeleteMixin: deletes mark rows, every read leaves marked rows out, on every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, inspect, select, text, true
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload, selectinload

from sqla_repo import ConflictError, NotFoundError, SoftDeleteMixin, StaleDataError
from sqla_repo._soft_delete import soft_plan
from tests.drivers import every_driver
from tests.models_soft import (
    PORTABLE_TABLES,
    Accounts,
    Articles,
    Authors,
    Counters,
    MariaMembers,
    Members,
    Notes,
    Plains,
    Posts,
    SdAuthor,
    SdBase,
    SdMariaMember,
    SdMember,
    SdNote,
    SdPlain,
    SdPost,
    SdStamped,
    Stamps,
)

Sessions = async_sessionmaker[AsyncSession]


def _tables(engine: AsyncEngine) -> list[Table]:
    live_unique = SdMariaMember if engine.dialect.name == "mysql" else SdMember
    return [*PORTABLE_TABLES, live_unique.__table__]  # type: ignore[list-item]


@pytest.fixture(autouse=True)
async def _sd_tables(engine: AsyncEngine) -> AsyncIterator[None]:
    every = list(SdBase.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.run_sync(SdBase.metadata.drop_all, tables=every)
        await connection.run_sync(SdBase.metadata.create_all, tables=_tables(engine))
    yield
    async with engine.begin() as connection:
        await connection.run_sync(SdBase.metadata.drop_all, tables=every)


async def _posts(sessions: Sessions, *titles: str, author: str | None = None) -> list[int]:
    async with sessions.begin() as session:
        author_id = None
        if author is not None:
            author_id = (await Authors(session).create({"name": author})).id
        created = [
            await Posts(session).create({"title": title, "author_id": author_id})
            for title in titles
        ]
        return [post.id for post in created]


async def _stored(sessions: Sessions, model: Any) -> dict[int, datetime | None]:
    """id -> deleted_at of every stored row, read without the repository."""
    async with sessions() as session:
        rows = await session.execute(select(model.id, model.deleted_at).order_by(model.id))
        return {row[0]: row[1] for row in rows}


async def _mark(sessions: Sessions, *ids: int) -> None:
    async with sessions.begin() as session:
        for pk in ids:
            await Posts(session).delete(pk)


def _mark_of(obj: Any) -> datetime | None:
    mark: datetime | None = obj.deleted_at
    return mark


def _writes(statements: list[str]) -> list[str]:
    return [s.split()[0].upper() for s in statements if not s.upper().startswith("SELECT")]


# --- delete ------------------------------------------------------------------------


@every_driver
async def test_delete_marks_the_row_with_one_update(
    sessions: Sessions, statements: list[str]
) -> None:
    a, b = await _posts(sessions, "a", "b")
    before = datetime.now(UTC)
    async with sessions.begin() as session:
        statements.clear()
        await Posts(session).delete(a)
        assert len(statements) == 1
        assert statements[0].lstrip().upper().startswith("UPDATE")
    stored = await _stored(sessions, SdPost)
    assert set(stored) == {a, b}  # the row stays
    mark = stored[a]
    assert mark is not None
    assert mark.tzinfo is not None
    assert mark.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= mark <= datetime.now(UTC) + timedelta(seconds=5)
    assert stored[b] is None


async def test_delete_of_a_held_object_marks_it(sessions: Sessions, statements: list[str]) -> None:
    (a,) = await _posts(sessions, "a")
    async with sessions.begin() as session:
        posts = Posts(session)
        post = await posts.get_one(a)
        statements.clear()
        await posts.delete(a)
        assert _writes(statements) == ["UPDATE"]
        assert post.deleted_at is not None
        assert post.deleted_at.tzinfo is not None
        assert not session.dirty
        assert post in session
    assert (await _stored(sessions, SdPost))[a] is not None


async def test_delete_of_a_marked_or_missing_row_raises_not_found(
    sessions: Sessions, statements: list[str]
) -> None:
    (a,) = await _posts(sessions, "a")
    await _mark(sessions, a)
    first = (await _stored(sessions, SdPost))[a]
    async with sessions() as session:
        statements.clear()
        with pytest.raises(NotFoundError):
            await Posts(session).delete(a)
        assert "DELETE" not in _writes(statements)
        with pytest.raises(NotFoundError):
            await Posts(session).delete(a + 100)
        await session.rollback()
    async with sessions.begin() as session:  # held and marked: no SQL at all
        posts = Posts(session)
        held = await posts.get_one(a, include_deleted=True)
        statements.clear()
        with pytest.raises(NotFoundError):
            await posts.delete(a)
        assert statements == []
        assert held.deleted_at == first
    assert (await _stored(sessions, SdPost))[a] == first  # the first mark is kept


async def test_delete_where_marks_live_rows_and_counts_them(
    sessions: Sessions, statements: list[str]
) -> None:
    a, b, c = await _posts(sessions, "x", "x", "y")
    await _mark(sessions, b)
    async with sessions.begin() as session:
        posts = Posts(session)
        held = await posts.get_one(a)
        statements.clear()
        assert await posts.delete_where(SdPost.title == "x") == 1  # b was already marked
        assert "DELETE" not in _writes(statements)
        assert held.deleted_at is not None  # the held object got the mark
        assert await posts.delete_where(SdPost.title == "x") == 0
        assert await posts.delete_where(SdPost.title == "nothing") == 0
    stored = await _stored(sessions, SdPost)
    assert stored[a] is not None
    assert stored[b] is not None
    assert stored[c] is None
    async with sessions.begin() as session:
        assert await Posts(session).delete_where(true()) == 1
    assert all(mark is not None for mark in (await _stored(sessions, SdPost)).values())


# --- reads --------------------------------------------------------------------------


@every_driver
async def test_every_read_leaves_marked_rows_out(sessions: Sessions) -> None:
    ids = await _posts(sessions, "p0", "p1", "p2", "p3", "p4")
    marked = {ids[1], ids[3]}
    await _mark(sessions, *marked)
    live = [pk for pk in ids if pk not in marked]
    async with sessions() as session:
        posts = Posts(session)
        assert await posts.get(ids[1]) is None
        assert (await posts.get(ids[0])) is not None
        with pytest.raises(NotFoundError):
            await posts.get_one(ids[3])
        assert await posts.get(ids[1], for_update=True) is None
        assert list(await posts.get_many(ids)) == live
        assert [p.id for p in await posts.list()] == live
        assert [p.id for p in await posts.list(SdPost.title != "p0", limit=1)] == [ids[2]]
        assert await posts.count() == 3
        assert await posts.count(SdPost.title == "p1") == 0
        assert await posts.exists(SdPost.title == "p2")
        assert not await posts.exists(SdPost.title == "p3")
        page = await posts.page(limit=2)
        assert [p.id for p in page.items] == live[:2]
        assert page.total == 3
        past = await posts.page(limit=2, offset=10)
        assert past.items == []
        assert past.total == 3
        assert [p.id async for p in posts.stream(batch_size=2)] == live
        assert [p.id async for p in posts.stream(order_by="-title")] == live[::-1]


@every_driver
async def test_include_deleted_includes_marked_rows_on_every_read(sessions: Sessions) -> None:
    ids = await _posts(sessions, "p0", "p1", "p2")
    await _mark(sessions, ids[1])
    async with sessions() as session:
        posts = Posts(session)
        got = await posts.get(ids[1], include_deleted=True)
        assert got is not None
        assert got.deleted_at is not None
        assert (await posts.get_one(ids[1], include_deleted=True)).id == ids[1]
        assert await posts.get(ids[1], for_update=True, include_deleted=True) is not None
        assert list(await posts.get_many(ids, include_deleted=True)) == ids
        assert [p.id for p in await posts.list(include_deleted=True)] == ids
        assert await posts.count(include_deleted=True) == 3
        assert await posts.exists(SdPost.title == "p1", include_deleted=True)
        page = await posts.page(limit=2, include_deleted=True)
        assert [p.id for p in page.items] == ids[:2]
        assert page.total == 3
        walked = await posts.paginate(limit=2, include_deleted=True)
        assert [p.id for p in walked.items] == ids[:2]
        assert walked.next_cursor is not None
        rest = await posts.paginate(limit=2, after=walked.next_cursor, include_deleted=True)
        assert [p.id for p in rest.items] == ids[2:]
        assert not rest.has_next
        streamed = [p.id async for p in posts.stream(batch_size=1, include_deleted=True)]
        assert streamed == ids


async def test_paginate_skips_marked_rows_across_pages(sessions: Sessions) -> None:
    ids = await _posts(sessions, *(f"p{i}" for i in range(7)))
    await _mark(sessions, ids[0], ids[2], ids[3], ids[6])
    live = [ids[1], ids[4], ids[5]]
    async with sessions() as session:
        posts = Posts(session)
        walks: list[tuple[tuple[Any, ...], str | None, list[int]]] = [
            ((), None, live),
            ((), "-title", live[::-1]),
            ((SdPost.title != "zz",), None, live),
        ]
        for where, order_by, expected in walks:
            seen: list[int] = []
            after = None
            while True:
                page = await posts.paginate(*where, order_by=order_by, limit=1, after=after)
                seen.extend(p.id for p in page.items)
                if not page.has_next:
                    break
                after = page.next_cursor
            assert seen == expected


async def test_get_checks_the_identity_map_without_sql(
    sessions: Sessions, statements: list[str]
) -> None:
    a, b = await _posts(sessions, "a", "b")
    async with sessions.begin() as session:
        posts = Posts(session)
        held = await posts.get_one(a)
        other = await posts.get_one(b)
        await posts.delete(a)  # the held object gets the mark
        statements.clear()
        assert await posts.get(a) is None
        assert await posts.get(a, include_deleted=True) is held
        assert await posts.get(b) is other
        assert await posts.get_many([a, b]) == {b: other}
        assert await posts.get_many([a, b], include_deleted=True) == {a: held, b: other}
        assert statements == []  # all from the identity map
        with pytest.raises(NotFoundError):
            await posts.get_one(a)
        assert await posts.get(a, options=[selectinload(SdPost.notes)]) is None


async def test_a_marked_row_read_into_the_session_stays_out(
    sessions: Sessions, statements: list[str]
) -> None:
    (a,) = await _posts(sessions, "a")
    await _mark(sessions, a)
    async with sessions() as session:
        posts = Posts(session)
        held = await posts.get(a, include_deleted=True)  # now held
        assert held is not None
        statements.clear()
        assert await posts.get(a) is None
        assert await posts.get_many([a]) == {}
        assert statements == []


# --- relationship loads through options= ------------------------------------------


@every_driver
@pytest.mark.parametrize("loader", [selectinload, joinedload], ids=["selectin", "joined"])
async def test_relationships_loaded_through_options_leave_marked_rows_out(
    sessions: Sessions, loader: Any
) -> None:
    ids = await _posts(sessions, "a", "b", "c", author="ann")
    async with sessions.begin() as session:
        notes = Notes(session)
        for body in ("n1", "n2"):
            await notes.create({"body": body, "post_id": ids[0]})
    await _mark(sessions, ids[1])
    async with sessions.begin() as session:
        n2 = (await Notes(session).list(SdNote.body == "n2"))[0].id
        await Notes(session).delete(n2)
    live = [ids[0], ids[2]]
    async with sessions() as session:
        authors = Authors(session)
        option = [loader(SdAuthor.posts)]
        (ann,) = await authors.list(options=option)
        assert [p.id for p in ann.posts] == live
        author_id = ann.id
        got = await authors.get(author_id, options=option)
        assert got is not None
        assert [p.id for p in got.posts] == live
        assert [
            p.id for p in (await authors.get_many([author_id], options=option))[author_id].posts
        ] == live
        assert [p.id for p in (await authors.page(options=option)).items[0].posts] == live
        assert [p.id for p in (await authors.paginate(options=option)).items[0].posts] == live
        streamed = [a async for a in authors.stream(options=option)]
        assert [p.id for p in streamed[0].posts] == live
    async with sessions() as session:  # a fresh session: a loaded collection stays as loaded
        every = await Authors(session).list(options=[loader(SdAuthor.posts)], include_deleted=True)
        assert [p.id for p in every[0].posts] == ids
    async with sessions() as session:  # soft model -> soft model, nested
        posts = Posts(session)
        nested = [loader(SdPost.notes)]
        first = await posts.get_one(ids[0], options=nested)
        assert [n.body for n in first.notes] == ["n1"]
        (first_again,) = await posts.list(SdPost.id == ids[0], options=nested)
        assert [n.body for n in first_again.notes] == ["n1"]
        streamed_posts = [p async for p in posts.stream(options=nested)]
        assert [p.id for p in streamed_posts] == live
        assert [n.body for n in streamed_posts[0].notes] == ["n1"]
    async with sessions() as session:
        everything = await Posts(session).list(options=nested, include_deleted=True)
        assert [p.id for p in everything] == ids
        assert [n.body for n in everything[0].notes] == ["n1", "n2"]
    async with sessions() as session:  # a chain through a model without the mixin
        chain = [loader(SdAuthor.posts).selectinload(SdPost.notes)]
        (ann,) = await Authors(session).list(options=chain)
        assert [[n.body for n in p.notes] for p in ann.posts] == [["n1"], []]


# --- writes on marked rows -------------------------------------------------------


@every_driver
async def test_update_of_a_marked_row_raises_not_found(
    sessions: Sessions, statements: list[str]
) -> None:
    (a,) = await _posts(sessions, "a")
    await _mark(sessions, a)
    async with sessions() as session:  # not held: the one-statement path where there is one
        statements.clear()
        with pytest.raises(NotFoundError):
            await Posts(session).update(a, title="changed")
        assert len(statements) == 1
        await session.rollback()
    async with sessions() as session:  # held
        posts = Posts(session)
        await posts.get_one(a, include_deleted=True)
        with pytest.raises(NotFoundError):
            await posts.update(a, title="changed")
        await session.rollback()
    async with sessions() as session:
        stored = await Posts(session).get_one(a, include_deleted=True)
        assert stored.title == "a"


async def test_update_where_touches_live_rows_only(sessions: Sessions) -> None:
    a, b, c = await _posts(sessions, "a", "b", "c")
    await _mark(sessions, b)
    async with sessions.begin() as session:
        posts = Posts(session)
        held = await posts.get_one(b, include_deleted=True)
        assert await posts.update_where(true(), values={"title": "z"}) == 2
        assert held.title == "b"
    async with sessions() as session:
        titles = {p.id: p.title for p in await Posts(session).list(include_deleted=True)}
    assert titles == {a: "z", b: "b", c: "z"}


async def test_get_or_create_never_returns_a_marked_row(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        accounts = Accounts(session)
        ann = await accounts.create({"email": "ann@x", "name": "Ann"})
        bob = await accounts.create({"email": "bob@x", "name": "Bob"})
        await accounts.delete(ann.id)
    async with sessions() as session:
        accounts = Accounts(session)
        with pytest.raises(ConflictError):
            await accounts.get_or_create({"email": "ann@x"}, on="email")
        await session.rollback()
        with pytest.raises(ConflictError):  # the primary key covers the marked row too
            await accounts.get_or_create({"id": ann.id, "email": "new@x"})
        await session.rollback()
        found, created = await accounts.get_or_create({"email": "bob@x"}, on="email")
        assert (found.id, created) == (bob.id, False)
        made, created = await accounts.get_or_create(
            {"email": "cid@x"}, on="email", defaults={"name": "Cid"}
        )
        assert created
        assert made.deleted_at is None
        await session.commit()
    async with sessions() as session:
        rows = {a.email: a.deleted_at for a in await Accounts(session).list(include_deleted=True)}
    assert set(rows) == {"ann@x", "bob@x", "cid@x"}
    assert rows["ann@x"] is not None


# --- restore and purge ---------------------------------------------------------------


@every_driver
async def test_restore_clears_the_mark(sessions: Sessions, statements: list[str]) -> None:
    a, b = await _posts(sessions, "a", "b")
    await _mark(sessions, a)
    async with sessions.begin() as session:
        posts = Posts(session)
        restored = await posts.restore(a)
        assert restored.id == a
        assert restored.deleted_at is None
        assert await posts.get(a) is restored
        live = await posts.get_one(b)
        statements.clear()
        assert await posts.restore(b) is live  # a live row: nothing written
        assert statements == []
        with pytest.raises(NotFoundError):
            await posts.restore(b + 100)
    assert await _stored(sessions, SdPost) == {a: None, b: None}
    async with sessions() as session:  # not held, live: one SELECT, no write
        statements.clear()
        assert (await Posts(session).restore(b)).deleted_at is None
        assert _writes(statements) == []


async def test_restore_needs_the_mixin(sessions: Sessions, statements: list[str]) -> None:
    async with sessions.begin() as session:
        plain = await Plains(session).create({"name": "p"})
        statements.clear()
        with pytest.raises(TypeError, match="SoftDeleteMixin"):
            await Plains(session).restore(plain.id)
        assert statements == []


@every_driver
async def test_purge_deletes_for_real_marked_or_not(
    sessions: Sessions, statements: list[str]
) -> None:
    a, b, c = await _posts(sessions, "a", "b", "c")
    await _mark(sessions, a)
    async with sessions.begin() as session:
        posts = Posts(session)
        await posts.purge(a)
        held = await posts.get_one(b)
        await posts.purge(b)
        assert held not in session
        with pytest.raises(NotFoundError):
            await posts.purge(a)
        with pytest.raises(NotFoundError):
            await posts.purge(c + 100)
    assert await _stored(sessions, SdPost) == {c: None}
    async with sessions.begin() as session:  # a model without the mixin: a plain delete
        plains = Plains(session)
        plain = await plains.create({"name": "p"})
        await plains.purge(plain.id)
        with pytest.raises(NotFoundError):
            await plains.purge(plain.id)
        assert await plains.count() == 0


# --- models without the mixin, other mixins ------------------------------------------


async def test_include_deleted_changes_nothing_without_the_mixin(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        plains = Plains(session)
        made = [await plains.create({"name": n}) for n in ("a", "b")]
        await plains.delete(made[0].id)  # a real delete
    async with sessions() as session:
        plains = Plains(session)
        ids = [made[1].id]
        assert [p.id for p in await plains.list(include_deleted=True)] == ids
        assert await plains.count(include_deleted=True) == 1
        assert await plains.exists(include_deleted=True)
        assert await plains.get(made[0].id, include_deleted=True) is None
        assert list(await plains.get_many([p.id for p in made], include_deleted=True)) == ids
        assert [p.id for p in (await plains.page(include_deleted=True)).items] == ids
        assert [p.id for p in (await plains.paginate(include_deleted=True)).items] == ids
        assert [p.id async for p in plains.stream(include_deleted=True)] == ids
    stored = await _count_rows(sessions, SdPlain)
    assert stored == 1


async def _count_rows(sessions: Sessions, model: Any) -> int:
    async with sessions() as session:
        return len((await session.execute(select(model.id))).all())


def test_the_plan_is_decided_once_per_mapper() -> None:
    plain = soft_plan(inspect(SdPlain))
    assert plain.own is None
    assert plain.criteria is None
    assert soft_plan(inspect(SdPlain)) is plain
    reaching = soft_plan(inspect(SdAuthor))
    assert reaching.own is None
    assert reaching.criteria is not None
    post = soft_plan(inspect(SdPost)).own
    assert post is not None
    assert post.key == "deleted_at"
    assert issubclass(SdNote, SoftDeleteMixin)
    assert soft_plan(inspect(SdNote)).own is not None


async def test_with_versioned_mixin_a_delete_increments_the_version(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        counter = await Counters(session).create({"value": 1})
        assert counter.version == 1
    async with sessions.begin() as session:
        counters = Counters(session)
        await counters.delete(counter.id)  # not held: one UPDATE
        restored = await counters.restore(counter.id)
        assert restored.version == 3
        assert restored.deleted_at is None
        await counters.delete(counter.id)  # held: the unit of work's UPDATE
        assert restored.version == 4
        assert _mark_of(restored) is not None
    async with sessions() as session:  # a stale copy the session holds cannot mark the row
        stale = await Counters(session).restore(counter.id)
        await session.commit()  # keeps the copy (expire_on_commit=False)
        async with sessions.begin() as other:
            await Counters(other).update(counter.id, value=9)
        with pytest.raises(StaleDataError):
            await Counters(session).delete(stale.id)
        await session.rollback()
    async with sessions() as session:
        fresh = await Counters(session).get_one(counter.id)
        assert (fresh.value, fresh.version, fresh.deleted_at) == (9, 6, None)


# --- unique among live rows only (the README's recipes) ----------------------------


async def test_a_column_unique_among_live_rows_only(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    repository: Any = MariaMembers if engine.dialect.name == "mysql" else Members
    async with sessions.begin() as session:
        members = repository(session)
        for _ in range(2):
            member = await members.create({"email": "ann@x"})
            await members.delete(member.id)
        live = await members.create({"email": "ann@x"})
        await members.create({"email": "bob@x"})
    async with sessions() as session:
        members = repository(session)
        assert await members.count(include_deleted=True) == 4
        found = await members.list(members.model.email == "ann@x")
        assert [m.id for m in found] == [live.id]
        with pytest.raises(ConflictError):
            await members.create({"email": "ann@x"})
        await session.rollback()
    async with sessions.begin() as session:  # deleting the live one frees the email again
        members = repository(session)
        await members.delete(live.id)
        again = await members.create({"email": "ann@x"})
        assert again.deleted_at is None
    async with sessions() as session:
        members = repository(session)
        assert await members.count(include_deleted=True) == 5
        assert await members.count() == 2


# MariaDB keeps live-only uniqueness in a generated column, which get_or_create cannot name
@pytest.mark.parametrize("backend", ["sqlite-file", "sqlite-memory", "postgresql"], indirect=True)
async def test_get_or_create_on_a_live_only_unique_index(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        members = Members(session)
        old = await members.create({"email": "ann@x"})
        await members.delete(old.id)
        made, created = await members.get_or_create({"email": "ann@x"}, on="email")
        assert created
        assert made.id != old.id
        again, created = await members.get_or_create({"email": "ann@x"}, on="email")
        assert (again, created) == (made, False)


async def test_raw_text_conditions_still_leave_marked_rows_out(sessions: Sessions) -> None:
    a, b = await _posts(sessions, "a", "b")
    await _mark(sessions, a)
    async with sessions() as session:
        posts = Posts(session)
        assert [p.id for p in await posts.list(text("1 = 1"))] == [b]
        assert await posts.count(text("1 = 1")) == 1


# --- with the key and timestamp mixins ----------------------------------------------


@every_driver
async def test_every_mixin_at_once(sessions: Sessions, statements: list[str]) -> None:
    async with sessions.begin() as session:
        articles = Articles(session)
        first, second = await articles.create_many([{"title": "a"}, {"title": "b"}])
        ids = [first.id, second.id]
    async with sessions.begin() as session:
        articles = Articles(session)
        statements.clear()
        await articles.delete(ids[0])
        assert _writes(statements) == ["UPDATE"]
        assert await articles.get(ids[0]) is None
        assert [a.id for a in await articles.list()] == [ids[1]]
        assert list(await articles.get_many(ids, include_deleted=True)) == ids
        marked = await articles.get_one(ids[0], include_deleted=True)
        assert _mark_of(marked) is not None
        assert marked.updated_at >= marked.created_at
        restored = await articles.restore(ids[0])
        assert restored.deleted_at is None
        await articles.purge(ids[1])
    async with sessions() as session:
        assert [a.id for a in await Articles(session).list(include_deleted=True)] == ids[:1]


async def test_restoring_a_live_row_leaves_updated_at_alone(
    sessions: Sessions, statements: list[str]
) -> None:
    async with sessions.begin() as session:
        stamped = await Stamps(session).create({"name": "s"})
    stamp = stamped.updated_at
    async with sessions.begin() as session:
        stamps = Stamps(session)
        statements.clear()
        live = await stamps.restore(stamped.id)
        assert _writes(statements) == []
        assert (live.updated_at, live.version, live.deleted_at) == (stamp, 1, None)
    async with sessions.begin() as session:
        stamps = Stamps(session)
        await stamps.delete(stamped.id)
        marked = await stamps.get_one(stamped.id, include_deleted=True)
        assert marked.version == 2
        assert marked.updated_at >= stamp
        restored = await stamps.restore(stamped.id)
        assert (restored.version, restored.deleted_at) == (3, None)
    async with sessions() as session:
        stored = await session.get(SdStamped, stamped.id)
        assert stored is not None
        assert (stored.version, stored.deleted_at, stored.created_at) == (
            3,
            None,
            stamped.created_at,
        )
