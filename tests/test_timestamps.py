"""TimestampMixin and UTCDateTime on every backend, through every write path.

Insert paths stamp ``created_at`` and ``updated_at`` with one instant; update paths
move ``updated_at`` and leave ``created_at``; values given explicitly are kept; every
value reads back timezone-aware in UTC with its microseconds; naive datetimes are
refused before any SQL. Rows that must change are backfilled with an old instant
first, so "moved forward" never depends on the clock's resolution.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import String, exc, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_repo import (
    BigIntPrimaryKeyMixin,
    InvalidFieldError,
    NotNullViolationError,
    Repository,
    TimestampMixin,
    UTCDateTime,
    UUIDv7PrimaryKeyMixin,
    VersionedMixin,
)
from tests.drivers import every_driver

OLD = datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
"""A backfilled instant, with microseconds."""
KOLKATA = timezone(timedelta(hours=5, minutes=30))
OLD_ELSEWHERE = OLD.astimezone(KOLKATA)
"""The same instant in another zone: 08:34:05.678901+05:30."""
LATER = datetime(2021, 6, 7, 8, 9, 10, 111213, tzinfo=UTC)


class TsBase(DeclarativeBase):
    pass


class Note(TimestampMixin, TsBase):
    __tablename__ = "ts_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50), unique=True)
    body: Mapped[str | None] = mapped_column(String(100))


class VersionedNote(VersionedMixin, TimestampMixin, TsBase):
    __tablename__ = "ts_versioned_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50), unique=True)
    body: Mapped[str | None] = mapped_column(String(100))


class NoteVersioned(TimestampMixin, VersionedMixin, TsBase):
    """The same mixins the other way round."""

    __tablename__ = "ts_notes_versioned"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50), unique=True)
    body: Mapped[str | None] = mapped_column(String(100))


class UuidNote(UUIDv7PrimaryKeyMixin, TimestampMixin, TsBase):
    __tablename__ = "ts_uuid_notes"
    title: Mapped[str] = mapped_column(String(50), unique=True)
    body: Mapped[str | None] = mapped_column(String(100))


class BigNote(TimestampMixin, BigIntPrimaryKeyMixin, TsBase):
    __tablename__ = "ts_big_notes"
    title: Mapped[str] = mapped_column(String(50), unique=True)
    body: Mapped[str | None] = mapped_column(String(100))


class Tally(TsBase):
    """No mixin: ``onupdate`` columns of its own, which an upsert applies too."""

    __tablename__ = "ts_tallies"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50), unique=True)
    bumps: Mapped[int] = mapped_column(default=0, onupdate=literal_column("ts_tallies.bumps + 1"))
    state: Mapped[str] = mapped_column(String(10), default="new", onupdate="changed")


class Tallies(Repository[Tally, int]):
    pass


class Notes(Repository[Note, int]):
    pass


class VersionedNotes(Repository[VersionedNote, int]):
    pass


class NotesVersioned(Repository[NoteVersioned, int]):
    pass


class UuidNotes(Repository[UuidNote, uuid.UUID]):
    pass


class BigNotes(Repository[BigNote, int]):
    pass


REPOSITORIES: dict[str, type[Repository[Any, Any]]] = {
    "plain": Notes,
    "versioned-first": VersionedNotes,
    "versioned-last": NotesVersioned,
    "uuid7-key": UuidNotes,
    "bigint-key": BigNotes,
}
MODELS: dict[str, type[Any]] = {
    "plain": Note,
    "versioned-first": VersionedNote,
    "versioned-last": NoteVersioned,
    "uuid7-key": UuidNote,
    "bigint-key": BigNote,
}
each_model = pytest.mark.parametrize("kind", list(REPOSITORIES))


@pytest.fixture
async def ts_sessions(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions over a database holding this module's tables (dropped afterwards)."""
    async with engine.begin() as connection:
        await connection.run_sync(TsBase.metadata.drop_all)
        await connection.run_sync(TsBase.metadata.create_all)
    yield sessions
    async with engine.begin() as connection:
        await connection.run_sync(TsBase.metadata.drop_all)


def assert_utc(value: object) -> datetime:
    assert isinstance(value, datetime)
    assert value.tzinfo is UTC
    return value


async def stored(
    sessions: async_sessionmaker[AsyncSession], model: type[Any], pk: object
) -> tuple[datetime, datetime]:
    """``(created_at, updated_at)`` as a fresh session reads them."""
    async with sessions() as session:
        row = (
            await session.execute(select(model.created_at, model.updated_at).where(model.id == pk))
        ).one()
    return assert_utc(row[0]), assert_utc(row[1])


async def backfilled(
    sessions: async_sessionmaker[AsyncSession], kind: str, title: str = "a"
) -> Any:
    """The key of a row stored with both stamps at :data:`OLD`."""
    async with sessions.begin() as session:
        obj = await REPOSITORIES[kind](session).create(
            {"title": title, "created_at": OLD, "updated_at": OLD}
        )
    return obj.id


# --- insert paths ------------------------------------------------------------------------


@every_driver
@each_model
async def test_create_stamps_both_with_one_instant(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        obj = await REPOSITORIES[kind](session).create({"title": "a"})
        assert assert_utc(obj.created_at) == assert_utc(obj.updated_at)
    after = datetime.now(UTC)
    assert before <= obj.created_at <= after
    assert await stored(ts_sessions, type(obj), obj.id) == (obj.created_at, obj.created_at)


@each_model
async def test_create_many_stamps_each_row_with_one_instant(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    repository = REPOSITORIES[kind]
    model = MODELS[kind]
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        objs = await repository(session).create_many(
            [{"title": "a"}, model(title="b"), {"title": "c", "body": "x"}]
        )
    after = datetime.now(UTC)
    for obj in objs:
        assert assert_utc(obj.created_at) == assert_utc(obj.updated_at)
        assert before <= obj.created_at <= after
        assert await stored(ts_sessions, model, obj.id) == (obj.created_at, obj.created_at)


@every_driver
@each_model
async def test_create_many_without_returning_stamps_each_row(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    repository = REPOSITORIES[kind]
    model = MODELS[kind]
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        written = await repository(session).create_many(
            [{"title": f"t{n}"} for n in range(5)], returning=False
        )
        assert written == 5
    after = datetime.now(UTC)
    async with ts_sessions() as session:
        rows = (await session.execute(select(model.created_at, model.updated_at))).all()
    assert len(rows) == 5
    for created_at, updated_at in rows:
        assert assert_utc(created_at) == assert_utc(updated_at)
        assert before <= created_at <= after


@each_model
async def test_upsert_that_inserts_stamps_both_with_one_instant(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    repository = REPOSITORIES[kind]
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        one = await repository(session).upsert({"title": "a", "body": "x"}, on=["title"])
        many = await repository(session).upsert_many([{"title": "b"}, {"title": "c"}], on=["title"])
    after = datetime.now(UTC)
    for obj in [one, *many]:
        assert assert_utc(obj.created_at) == assert_utc(obj.updated_at)
        assert before <= obj.created_at <= after
        assert await stored(ts_sessions, type(obj), obj.id) == (obj.created_at, obj.created_at)


@each_model
async def test_session_add_and_flush_stamps_both_with_one_instant(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    model = MODELS[kind]
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        objs = [model(title="a"), model(title="b")]
        session.add_all(objs)
        await session.flush()
    after = datetime.now(UTC)
    for obj in objs:
        assert assert_utc(obj.created_at) == assert_utc(obj.updated_at)
        assert before <= obj.created_at <= after
        assert await stored(ts_sessions, model, obj.id) == (obj.created_at, obj.created_at)


@each_model
async def test_explicit_values_on_insert_are_kept_in_utc(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    repository = REPOSITORIES[kind]
    model = MODELS[kind]
    async with ts_sessions.begin() as session:
        repo = repository(session)
        created = await repo.create({"title": "a", "created_at": OLD_ELSEWHERE})
        instance = await repo.create(model(title="b", created_at=OLD, updated_at=LATER))
        (bulk,) = await repo.create_many([{"title": "c", "created_at": OLD, "updated_at": OLD}])
        upserted = await repo.upsert({"title": "d", "created_at": OLD}, on=["title"])
        session.add(added := model(title="e", created_at=OLD, updated_at=LATER))
        await session.flush()
    # a backfilled created_at alone: updated_at is the insert's own instant
    created_stamps = await stored(ts_sessions, model, created.id)
    assert created_stamps[0] == OLD
    assert created_stamps[1] > OLD
    assert await stored(ts_sessions, model, instance.id) == (OLD, LATER)
    assert await stored(ts_sessions, model, bulk.id) == (OLD, OLD)
    assert (await stored(ts_sessions, model, upserted.id))[0] == OLD
    assert await stored(ts_sessions, model, added.id) == (OLD, LATER)


@each_model
async def test_none_on_insert_means_stamp_it(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    """As the unit of work leaves a ``None`` to the column's default, so do bulk writes
    (a pydantic schema with ``created_at: datetime | None = None`` gives one)."""
    repository = REPOSITORIES[kind]
    model = MODELS[kind]
    before = datetime.now(UTC)
    empty = {"created_at": None, "updated_at": None}
    async with ts_sessions.begin() as session:
        repo = repository(session)
        written = [
            await repo.create({"title": "a", **empty}),
            *await repo.create_many([{"title": "b", **empty}, model(title="c", **empty)]),
            *await repo.create_many([{"title": "d", "created_at": OLD}, {"title": "e", **empty}]),
            await repo.upsert({"title": "f", **empty}, on=["title"]),
        ]
        assert await repo.create_many([{"title": "g", **empty}], returning=False) == 1
    for obj in written:
        created_at, updated_at = await stored(ts_sessions, model, obj.id)
        assert updated_at >= before
        assert created_at == (OLD if obj.title == "d" else updated_at)
    async with ts_sessions() as session:
        bulk = (await session.execute(select(model).where(model.title == "g"))).scalar_one()
        assert bulk.created_at == bulk.updated_at >= before


# --- update paths ------------------------------------------------------------------------


@every_driver
@each_model
async def test_update_of_a_row_not_held_moves_updated_at_only(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    pk = await backfilled(ts_sessions, kind)
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:  # the one-statement path where there is one
        obj = await REPOSITORIES[kind](session).update(pk, body="changed")
        assert obj.created_at == OLD
        assert before <= assert_utc(obj.updated_at)
    created_at, updated_at = await stored(ts_sessions, type(obj), pk)
    assert (created_at, updated_at) == (OLD, obj.updated_at)


@each_model
async def test_update_of_a_held_object_moves_updated_at_only(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    pk = await backfilled(ts_sessions, kind)
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        repo = REPOSITORIES[kind](session)
        held = await repo.get_one(pk)
        obj = await repo.update(pk, body="changed")
        assert obj is held
        assert obj.created_at == OLD
        assert before <= assert_utc(obj.updated_at)
    assert await stored(ts_sessions, type(obj), pk) == (OLD, obj.updated_at)


@each_model
async def test_update_where_moves_updated_at_of_matched_rows_only(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    repository = REPOSITORIES[kind]
    model = MODELS[kind]
    first = await backfilled(ts_sessions, kind, "a")
    second = await backfilled(ts_sessions, kind, "b")
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        repo = repository(session)
        held = await repo.get_one(first)
        assert await repo.update_where(model.title == "a", values={"body": "x"}) == 1
        assert held.created_at == OLD  # the held object is updated in place
        assert before <= assert_utc(held.updated_at)
    assert await stored(ts_sessions, model, first) == (OLD, held.updated_at)
    assert await stored(ts_sessions, model, second) == (OLD, OLD)


@every_driver
@each_model
async def test_upsert_that_updates_moves_updated_at_only(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    repository = REPOSITORIES[kind]
    model = MODELS[kind]
    first = await backfilled(ts_sessions, kind, "a")
    second = await backfilled(ts_sessions, kind, "b")
    third = await backfilled(ts_sessions, kind, "c")
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        repo = repository(session)
        one = await repo.upsert({"title": "a", "body": "x"}, on=["title"])
        only_named = await repo.upsert({"title": "b", "body": "y"}, on=["title"], update=["body"])
        many = await repo.upsert_many([{"title": "c"}, {"title": "d"}], on=["title"])
    for obj, pk in ((one, first), (only_named, second), (many[0], third)):
        assert obj.id == pk
        assert obj.created_at == OLD
        assert before <= assert_utc(obj.updated_at)
        assert await stored(ts_sessions, model, pk) == (OLD, obj.updated_at)
    inserted = many[1]
    assert inserted.created_at == inserted.updated_at >= before


@each_model
async def test_flush_of_a_modified_object_moves_updated_at_only(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    pk = await backfilled(ts_sessions, kind)
    model = MODELS[kind]
    before = datetime.now(UTC)
    async with ts_sessions.begin() as session:
        obj = await session.get_one(model, pk)
        obj.body = "changed"
        await session.flush()
        assert obj.created_at == OLD
        assert before <= assert_utc(obj.updated_at)
    assert await stored(ts_sessions, model, pk) == (OLD, obj.updated_at)


@each_model
async def test_explicit_values_on_update_are_kept(
    ts_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    repository = REPOSITORIES[kind]
    model = MODELS[kind]
    pks = [await backfilled(ts_sessions, kind, title) for title in "abcde"]
    async with ts_sessions.begin() as session:
        repo = repository(session)
        await repo.update(pks[0], body="x", updated_at=LATER)
        await repo.update(pks[1], created_at=LATER.astimezone(KOLKATA))
        await repo.update_where(model.title == "c", values={model.updated_at: LATER})
        await repo.upsert({"title": "d", "updated_at": LATER}, on=["title"])
        held = await repo.get_one(pks[4])
        held.updated_at = LATER
        await session.flush()
    assert await stored(ts_sessions, model, pks[0]) == (OLD, LATER)
    created_at, updated_at = await stored(ts_sessions, model, pks[1])
    assert created_at == LATER
    assert updated_at > OLD
    assert await stored(ts_sessions, model, pks[2]) == (OLD, LATER)
    assert await stored(ts_sessions, model, pks[3]) == (OLD, LATER)
    assert await stored(ts_sessions, model, pks[4]) == (OLD, LATER)


async def test_versioned_model_counts_and_stamps_each_update(
    ts_sessions: async_sessionmaker[AsyncSession],
) -> None:
    for kind in ("versioned-first", "versioned-last"):
        pk = await backfilled(ts_sessions, kind)
        async with ts_sessions.begin() as session:
            repo = REPOSITORIES[kind](session)
            obj = await repo.update(pk, body="x")
            assert (obj.version, obj.created_at) == (2, OLD)
            first_update = obj.updated_at
            obj = await repo.upsert({"title": "a", "body": "y"}, on=["title"])
            assert (obj.version, obj.created_at) == (3, OLD)
            assert obj.updated_at >= first_update > OLD


async def test_upsert_applies_the_onupdate_of_any_model(
    ts_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with ts_sessions.begin() as session:
        created = await Tallies(session).upsert({"title": "a"}, on=["title"])
        assert (created.bumps, created.state) == (0, "new")
    async with ts_sessions.begin() as session:
        updated = await Tallies(session).upsert({"title": "a"}, on=["title"])
        assert (updated.id, updated.bumps, updated.state) == (created.id, 1, "changed")
        again = await Tallies(session).upsert_many([{"title": "a"}], on=["title"], update=[])
        assert (again[0].bumps, again[0].state) == (2, "changed")


# --- reading back --------------------------------------------------------------------------


@every_driver
async def test_values_read_back_aware_in_utc_with_microseconds(
    ts_sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    async with ts_sessions.begin() as session:
        obj = await Notes(session).create({"title": "a", "created_at": OLD_ELSEWHERE})
        await session.refresh(obj)
        assert assert_utc(obj.created_at) == OLD
        assert obj.created_at.microsecond == OLD.microsecond
        pk = obj.id
    async with ts_sessions() as session:
        if backend == "postgresql":  # psycopg returns values in the session's zone
            await session.execute(text("SET TIME ZONE 'Asia/Kolkata'"))
        fresh = await Notes(session).get_one(pk)
        assert assert_utc(fresh.created_at) == OLD
        assert fresh.created_at.microsecond == OLD.microsecond
        assert assert_utc(fresh.updated_at) == fresh.updated_at
        assert (await Notes(session).list(Note.created_at == OLD_ELSEWHERE)) == [fresh]


async def test_values_are_stored_as_utc_wall_time(
    ts_sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    async with ts_sessions.begin() as session:
        await Notes(session).create({"title": "a", "created_at": OLD_ELSEWHERE})
    async with ts_sessions() as session:
        raw = (await session.execute(text("SELECT created_at FROM ts_notes"))).scalar_one()
    if backend == "postgresql":
        assert raw == OLD  # timestamptz: an aware value
    elif backend == "mysql":
        assert raw == OLD.replace(tzinfo=None)  # DATETIME(6): UTC, microseconds kept
    else:
        assert raw == "2020-01-02 03:04:05.678901"


async def test_pagination_by_timestamp_round_trips_its_cursor(
    ts_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with ts_sessions.begin() as session:
        await Notes(session).create_many(
            [{"title": f"t{n}", "created_at": OLD + timedelta(microseconds=n)} for n in range(5)]
        )
    async with ts_sessions() as session:
        first = await Notes(session).paginate(order_by="-created_at", limit=3)
        rest = await Notes(session).paginate(
            order_by="-created_at", limit=3, after=first.next_cursor
        )
    assert [n.title for n in first.items + rest.items] == ["t4", "t3", "t2", "t1", "t0"]
    assert not rest.has_next


# --- refused values ------------------------------------------------------------------------

NAIVE = datetime(2020, 1, 2, 3, 4, 5)


async def test_naive_datetimes_are_refused_before_any_sql(
    ts_sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    pk = await backfilled(ts_sessions, "plain")
    async with ts_sessions() as session:
        repo = Notes(session)
        statements.clear()
        attempts: list[Any] = [
            repo.create({"title": "n", "created_at": NAIVE}),
            repo.create(Note(title="n", updated_at=NAIVE)),
            repo.create_many([{"title": "n", "created_at": NAIVE}]),
            repo.create_many([{"title": "n", "created_at": NAIVE}], returning=False),
            repo.upsert({"title": "n", "updated_at": NAIVE}, on=["title"]),
            repo.update(pk, updated_at=NAIVE),
            repo.update_where(Note.id == pk, values={"created_at": NAIVE}),
            repo.create({"title": "n", "created_at": "2020-01-02T03:04:05+00:00"}),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidFieldError, match=r"Note\.(created|updated)_at"):
                await attempt
        assert statements == []
    assert await stored(ts_sessions, Note, pk) == (OLD, OLD)


async def test_a_naive_datetime_bound_outside_a_repository_raises(
    ts_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with ts_sessions() as session:
        session.add(Note(title="n", created_at=NAIVE))
        with pytest.raises(exc.StatementError) as raised:
            await session.flush()
        assert isinstance(raised.value.orig, ValueError)
        await session.rollback()
        assert (await session.execute(select(Note))).first() is None


async def test_timestamps_are_not_null(ts_sessions: async_sessionmaker[AsyncSession]) -> None:
    pk = await backfilled(ts_sessions, "plain")
    async with ts_sessions() as session:
        with pytest.raises(NotNullViolationError):
            await Notes(session).update(pk, created_at=None)
        await session.rollback()
    assert await stored(ts_sessions, Note, pk) == (OLD, OLD)


def test_the_mixin_declares_two_not_null_utc_columns() -> None:
    for model in (Note, VersionedNote, NoteVersioned, UuidNote, BigNote):
        table = model.__table__
        for name in ("created_at", "updated_at"):
            column = table.c[name]
            assert isinstance(column.type, UTCDateTime)
            assert column.nullable is False
        assert table.c.created_at.onupdate is None
        assert table.c.updated_at.onupdate is not None
        assert list(table.c.keys())[-2:] == ["created_at", "updated_at"]  # after the model's own
