"""``uuid7()``, ``BigIntPrimaryKeyMixin`` and ``UUIDv7PrimaryKeyMixin`` on every backend."""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, String, insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_repo import (
    BigIntPrimaryKeyMixin,
    EngineFactory,
    InvalidFieldError,
    NotFoundError,
    Repository,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
    VersionedMixin,
    _keys,
    uuid7,
)
from tests.drivers import ASYNCPG, PSYCOPG, every_driver


class KeysBase(DeclarativeBase):
    pass


class Article(UUIDv7PrimaryKeyMixin, KeysBase):
    __tablename__ = "km_articles"

    title: Mapped[str] = mapped_column(String(200), unique=True)
    words: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(20), server_default="n")  # never implied


class Account(BigIntPrimaryKeyMixin, KeysBase):
    __tablename__ = "km_accounts"

    name: Mapped[str] = mapped_column(String(50))


class Draft(VersionedMixin, UUIDv7PrimaryKeyMixin, KeysBase):
    __tablename__ = "km_drafts"

    body: Mapped[str] = mapped_column(String(50))


class Ledger(BigIntPrimaryKeyMixin, VersionedMixin, KeysBase):
    __tablename__ = "km_ledgers"

    total: Mapped[int] = mapped_column(Integer)


class Kind(UUIDv7PrimaryKeyMixin, KeysBase):
    """Single-table inheritance under the mixin: one key per object, from the base."""

    __tablename__ = "km_kinds"
    __mapper_args__ = {"polymorphic_on": "type", "polymorphic_identity": "kind"}  # noqa: RUF012

    type: Mapped[str] = mapped_column(String(10))


class SubKind(Kind):
    __mapper_args__ = {"polymorphic_identity": "sub"}  # noqa: RUF012


class Entry(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, VersionedMixin, KeysBase):
    __tablename__ = "km_entries"

    body: Mapped[str] = mapped_column(String(50))


class Journal(VersionedMixin, SoftDeleteMixin, TimestampMixin, BigIntPrimaryKeyMixin, KeysBase):
    __tablename__ = "km_journals"

    body: Mapped[str] = mapped_column(String(50))


class EntryRepository(Repository[Entry, uuid.UUID]):
    pass


class JournalRepository(Repository[Journal, int]):
    pass


class ArticleRepository(Repository[Article, uuid.UUID]):
    pass


class AccountRepository(Repository[Account, int]):
    pass


class DraftRepository(Repository[Draft, uuid.UUID]):
    pass


class LedgerRepository(Repository[Ledger, int]):
    pass


class ArticleIn(BaseModel):
    title: str
    words: int = 0


@pytest.fixture
async def engine(factory: EngineFactory) -> AsyncIterator[AsyncEngine]:
    """An engine over a database holding this module's tables, dropped afterwards."""
    engine = factory.create_async_engine()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(KeysBase.metadata.drop_all)
            await connection.run_sync(KeysBase.metadata.create_all)
        yield engine
        async with engine.begin() as connection:
            await connection.run_sync(KeysBase.metadata.drop_all)
    finally:
        await engine.dispose()


def _is_uuid7(value: object) -> bool:
    """Whether the driver handed back a ``uuid.UUID`` of version 7 (not its text)."""
    return isinstance(value, uuid.UUID) and value.version == 7


async def _titles_by_key(session: AsyncSession) -> list[str]:
    """Titles in ``ORDER BY id`` as the database sorts the stored column itself."""
    table = Article.__table__
    result = await session.execute(select(table.c.title).order_by(table.c.id))
    return list(result.scalars())


# --- uuid7 -------------------------------------------------------------------------------------


def test_uuid7_is_an_rfc_9562_version_7_uuid_with_the_time_first() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert isinstance(value, uuid.UUID)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after
    assert uuid.UUID(str(value)) == value


def test_uuid7_is_strictly_increasing_also_within_one_millisecond() -> None:
    values = [uuid7() for _ in range(20_000)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert all(a.bytes < b.bytes for a, b in itertools.pairwise(values))
    assert all(a.hex < b.hex for a, b in itertools.pairwise(values))
    milliseconds = [value.int >> 80 for value in values]
    assert len(set(milliseconds)) < len(values)  # many share a millisecond
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in values)


def _restore_state_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that moves the clock ahead must not leave later keys in its future."""
    monkeypatch.setattr(_keys._clock, "last_ms", _keys._clock.last_ms)
    monkeypatch.setattr(_keys._clock, "counter", _keys._clock.counter)


def test_uuid7_increases_while_the_clock_stands_still_or_steps_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _restore_state_afterwards(monkeypatch)
    clock = [time.time_ns() + 10**12]  # ahead of anything made so far
    monkeypatch.setattr("sqla_repo._keys.time.time_ns", lambda: clock[0])
    first = uuid7()
    same = [uuid7() for _ in range(100)]
    clock[0] -= 5 * 10**9  # the clock steps back five seconds
    back = uuid7()
    assert first < same[0] < same[-1] < back
    assert {value.int >> 80 for value in [first, *same, back]} == {clock[0] // 10**6 + 5000}


def test_uuid7_moves_to_the_next_millisecond_when_the_counter_runs_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _restore_state_afterwards(monkeypatch)
    now = time.time_ns() + 2 * 10**12
    monkeypatch.setattr("sqla_repo._keys.time.time_ns", lambda: now)
    first = uuid7()
    monkeypatch.setattr(_keys._clock, "counter", (1 << 42) - 1)
    following = uuid7()
    assert following > first
    assert following.int >> 80 == (first.int >> 80) + 1
    assert following.version == 7


def test_uuid7_from_many_threads_is_unique_and_increasing_per_thread() -> None:
    made: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def work(out: list[uuid.UUID]) -> None:
        out.extend(uuid7() for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({value for out in made for value in out}) == 40_000
    for out in made:
        assert all(a < b for a, b in itertools.pairwise(out))


def test_a_forked_child_draws_its_own_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    # parent and child share the clock and the counter: only the random tail tells apart
    _restore_state_afterwards(monkeypatch)
    now = time.time_ns() + 3 * 10**12
    monkeypatch.setattr("sqla_repo._keys.time.time_ns", lambda: now)
    uuid7()
    uuid7()  # random bits read ahead, which the child must not reuse
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking while other threads run; the child only
        # computes and writes to a pipe
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        try:
            os.write(write, b"".join(uuid7().bytes for _ in range(200)))
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    child = {uuid.UUID(bytes=data[i : i + 16]) for i in range(0, len(data), 16)}
    parent = {uuid7() for _ in range(200)}
    assert len(child) == 200
    assert not child & parent


# --- BigIntPrimaryKeyMixin ---------------------------------------------------------------------


async def test_big_integer_key_columns(engine: AsyncEngine, backend: str) -> None:
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {c["name"]: c for c in sa_inspect(sync).get_columns("km_accounts")}
        )
        pk = await connection.run_sync(
            lambda sync: sa_inspect(sync).get_pk_constraint("km_accounts")
        )
    assert pk["constrained_columns"] == ["id"]
    if backend.startswith("sqlite"):
        # exactly "INTEGER PRIMARY KEY": SQLite's rowid alias
        assert str(columns["id"]["type"]) == "INTEGER"
    else:
        assert isinstance(columns["id"]["type"], BigInteger)
        assert columns["id"]["autoincrement"] is True


@every_driver
async def test_big_integer_keys_are_generated(session: AsyncSession, backend: str) -> None:
    accounts = AccountRepository(session)
    one = await accounts.create({"name": "one"})
    two = await accounts.create(Account(name="two"))
    more = await accounts.create_many([{"name": "three"}, {"name": "four"}])
    keys = [one.id, two.id, *(a.id for a in more)]
    assert all(isinstance(key, int) for key in keys)
    assert keys == sorted(set(keys))
    big = await accounts.create({"id": 2**40, "name": "big"})  # beyond 32 bits
    await session.commit()
    session.expunge_all()
    assert (await accounts.get_one(2**40)).name == "big"
    assert big.id == 2**40
    if backend.startswith("sqlite"):
        rowids = (await session.execute(text("SELECT rowid, id FROM km_accounts"))).all()
        assert all(rowid == key for rowid, key in rowids)  # id is the rowid


async def test_big_integer_key_with_versioning(session: AsyncSession) -> None:
    ledgers = LedgerRepository(session)
    ledger = await ledgers.create({"total": 1})
    assert isinstance(ledger.id, int)
    assert ledger.version == 1
    updated = await ledgers.update(ledger.id, total=2)
    assert updated.version == 2
    await session.commit()


# --- UUIDv7PrimaryKeyMixin ---------------------------------------------------------------------


def test_the_key_is_set_when_the_object_is_constructed() -> None:
    article = Article(title="x")
    assert isinstance(article.id, uuid.UUID)
    assert article.id.version == 7
    later = Article(title="y")
    assert later.id > article.id
    given = uuid.UUID(int=5)
    assert Article(title="z", id=given).id == given
    assert isinstance(Article(title="n", id=None).id, uuid.UUID)
    assert isinstance(Draft(body="b").id, uuid.UUID)
    sub = SubKind()
    assert isinstance(sub.id, uuid.UUID)
    assert sub.id > later.id
    assert inspect(article).transient


async def test_uuid_key_columns(engine: AsyncEngine, backend: str) -> None:
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {c["name"]: c for c in sa_inspect(sync).get_columns("km_articles")}
        )
    kind = columns["id"]["type"]
    if backend == "postgresql":
        assert kind.__visit_name__.upper() == "UUID"  # native
    else:
        # CHAR(32) hex, never MariaDB's native UUID (which sorts its groups swapped)
        assert kind.__visit_name__.upper() == "CHAR"
        assert kind.length == 32


@every_driver
async def test_created_objects_keep_their_keys(session: AsyncSession) -> None:
    articles = ArticleRepository(session)
    built = Article(title="built")
    key = built.id
    created = await articles.create(built)
    assert created.id == key
    from_mapping = await articles.create({"title": "mapping"})
    from_model = await articles.create(ArticleIn(title="pydantic", words=3))
    assert from_mapping.id.version == from_model.id.version == 7
    assert key < from_mapping.id < from_model.id
    await session.commit()
    session.expunge_all()
    stored = await articles.get_one(key)
    assert isinstance(stored.id, uuid.UUID)
    assert stored.id == key
    assert stored.title == "built"
    assert (await articles.get_one(from_model.id)).words == 3


async def test_a_flush_of_added_objects_sends_the_key(
    session: AsyncSession, statements: list[str]
) -> None:
    articles = [Article(title=f"a{n}") for n in range(3)]
    keys = [a.id for a in articles]
    session.add_all(articles)
    await session.commit()
    assert [a.id for a in articles] == keys
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert await _titles_by_key(session) == ["a0", "a1", "a2"]


@every_driver
async def test_create_many_generates_keys_in_input_order(session: AsyncSession) -> None:
    articles = ArticleRepository(session)
    items: list[Any] = [
        Article(title="m0"),
        {"title": "m1"},
        {"title": "m2", "words": 4},
        ArticleIn(title="m3"),
        {"title": "m4", "id": None, "note": "x"},
        {"title": "m5"},
    ]
    created = await articles.create_many(items)
    titles = ["m0", "m1", "m2", "m3", "m4", "m5"]
    assert [a.title for a in created] == titles
    assert all(_is_uuid7(a.id) for a in created)
    # made as the rows were built, not as each statement (one per field set) runs
    assert [a.id for a in created] == sorted(a.id for a in created)
    await session.commit()
    assert await _titles_by_key(session) == titles
    session.expunge_all()
    found = await articles.get_many([a.id for a in created])
    assert [a.title for a in found.values()] == titles


@every_driver
async def test_create_many_without_returning_generates_keys(session: AsyncSession) -> None:
    articles = ArticleRepository(session)
    before = uuid7()
    written = await articles.create_many(
        [{"title": f"bulk{n:04d}"} for n in range(500)], returning=False
    )
    assert written == 500
    mixed = await articles.create_many(
        [Article(title="inst"), {"title": "dict", "words": 1}], returning=False
    )
    assert mixed == 2
    await session.commit()
    stored = list(await articles.list())
    assert len(stored) == 502
    assert all(_is_uuid7(a.id) and a.id > before for a in stored)
    # rows of one statement were created, and keyed, in input order
    bulk = [a.title for a in stored if a.title.startswith("bulk")]
    assert bulk == [f"bulk{n:04d}" for n in range(500)]


@pytest.mark.parametrize(("backend", "driver"), [ASYNCPG, PSYCOPG], indirect=["backend"])
async def test_keys_made_in_python_let_asyncpg_copy_rows_in(
    session: AsyncSession, statements: list[str], driver: str
) -> None:
    articles = ArticleRepository(session)
    assert await articles.create_many([{"title": f"c{n}"} for n in range(50)], returning=False)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert bool(inserts) == (driver != "postgresql+asyncpg")  # COPY needs every key given
    await session.commit()
    assert await _titles_by_key(session) == [f"c{n}" for n in range(50)]


@every_driver
async def test_order_by_key_is_creation_order(session: AsyncSession) -> None:
    articles = ArticleRepository(session)
    titles: list[str] = []
    # many rows in the same millisecond, created every way the repository offers
    for n in range(40):
        title = f"one{n:03d}"
        titles.append(title)
        await articles.create({"title": title})
    batch = [f"many{n:03d}" for n in range(300)]
    titles += batch
    await articles.create_many([{"title": title} for title in batch])
    built = [Article(title=f"built{n:03d}") for n in range(60)]
    titles += [a.title for a in built]
    session.add_all(reversed(built))  # the flush order is not the creation order
    await session.commit()
    session.expunge_all()
    assert await _titles_by_key(session) == titles
    assert [a.title for a in await articles.list()] == titles
    walked: list[str] = []
    after = None
    while True:
        page = await articles.paginate(limit=37, after=after)
        walked += [a.title for a in page.items]
        if not page.has_next:
            break
        after = page.next_cursor
    assert walked == titles
    back = [a.title for a in await articles.list(order_by="-id")]
    assert back == titles[::-1]


async def test_keys_sort_by_their_bytes_in_the_database(session: AsyncSession) -> None:
    # MariaDB's native UUID would compare the last group first: these sort the other way
    first = uuid.UUID("00000000-0000-7000-8000-ffffffffffff")
    second = uuid.UUID("00000000-0001-7000-8000-000000000000")
    third = uuid.UUID("00000000-0001-7000-8001-000000000000")
    articles = ArticleRepository(session)
    await articles.create_many([{"id": third, "title": "third"}, {"id": second, "title": "second"}])
    await articles.create({"id": first, "title": "first"})
    await session.commit()
    assert await _titles_by_key(session) == ["first", "second", "third"]
    page = await articles.paginate(limit=1)
    walked = [a.title for a in page.items]
    while page.has_next:
        page = await articles.paginate(limit=1, after=page.next_cursor)
        walked += [a.title for a in page.items]
    assert walked == ["first", "second", "third"]


@every_driver
async def test_reads_and_writes_by_uuid_key(session: AsyncSession) -> None:
    articles = ArticleRepository(session)
    article = await articles.create({"title": "t"})
    key = article.id
    await session.commit()
    session.expunge_all()
    updated = await articles.update(key, words=9)
    assert (updated.id, updated.words) == (key, 9)
    assert await articles.exists(Article.id == key)
    with pytest.raises(InvalidFieldError):
        await articles.update(key, id=uuid7())
    await articles.delete(key)
    assert await articles.get(key) is None
    with pytest.raises(NotFoundError):
        await articles.delete(key)
    with pytest.raises(NotFoundError):
        await articles.get_one(uuid7())
    await session.commit()
    assert await articles.count() == 0


async def test_a_key_that_is_not_a_uuid_is_refused_before_any_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    articles = ArticleRepository(session)
    for wrong in ("not-a-uuid", 5, (uuid7(), uuid7())):
        with pytest.raises(InvalidFieldError):
            await articles.get(wrong)  # type: ignore[arg-type] # the misuse under test
    assert statements == []


@every_driver
async def test_upsert_and_get_or_create_generate_keys_for_new_rows(
    session: AsyncSession,
) -> None:
    articles = ArticleRepository(session)
    first = await articles.upsert({"title": "u", "words": 1}, on=["title"])
    assert isinstance(first.id, uuid.UUID)
    again = await articles.upsert({"title": "u", "words": 2}, on=["title"])
    assert (again.id, again.words) == (first.id, 2)
    made, created = await articles.get_or_create({"title": "g"}, on="title")
    assert created
    assert isinstance(made.id, uuid.UUID)
    found, created = await articles.get_or_create({"title": "g"}, on="title")
    assert (found.id, created) == (made.id, False)
    many = await articles.upsert_many([{"title": "u", "words": 3}, {"title": "v"}], on=["title"])
    assert many[0].id == first.id
    assert many[1].id > made.id
    await session.commit()
    session.expunge_all()
    assert {a.title: a.id for a in await articles.list()} == {
        "u": first.id,
        "g": made.id,
        "v": many[1].id,
    }


async def test_core_inserts_get_keys_from_the_column_default(session: AsyncSession) -> None:
    table = KeysBase.metadata.tables["km_articles"]
    await session.execute(insert(table), [{"title": f"core{n}"} for n in range(20)])
    await session.execute(insert(table).values(title="core20"))
    await session.commit()
    keys = list((await session.execute(select(table.c.id).order_by(table.c.id))).scalars())
    assert all(_is_uuid7(key) for key in keys)
    assert await _titles_by_key(session) == [f"core{n}" for n in range(21)]


@every_driver
@pytest.mark.parametrize(
    ("model", "repository"),
    [(Entry, EntryRepository), (Journal, JournalRepository)],
    ids=["uuid-first", "bigint-last"],
)
async def test_key_mixins_combine_with_the_other_mixins(
    session: AsyncSession, model: type[Any], repository: type[Repository[Any, Any]]
) -> None:
    repo = repository(session)
    built = model(body="a")
    made_in_python = model is Entry
    assert isinstance(built.id, uuid.UUID) == made_in_python
    first = await repo.create(built)
    second = await repo.create({"body": "b"})
    more = await repo.create_many([{"body": "c"}, {"body": "d"}])
    keys = [first.id, second.id, *(x.id for x in more)]
    assert keys == sorted(keys)
    assert first.created_at == first.updated_at
    assert first.version == 1
    assert (await repo.update(first.id, body="a2")).version == 2
    await repo.delete(second.id)
    assert await repo.get(second.id) is None
    await session.commit()
    session.expunge_all()
    assert [x.body for x in await repo.list()] == ["a2", "c", "d"]
    assert [x.id for x in (await repo.paginate(limit=2, include_deleted=True)).items] == keys[:2]
    assert (await repo.restore(second.id)).body == "b"
    await session.commit()
    assert [x.id for x in await repo.list()] == keys


@every_driver
async def test_the_mixins_add_no_round_trip(session: AsyncSession, statements: list[str]) -> None:
    draft = await DraftRepository(session).create({"body": "b"})
    account = await AccountRepository(session).create({"name": "n"})
    assert len(statements) == 2  # one INSERT each, the keys known without another read
    assert all(s.lstrip().upper().startswith("INSERT") for s in statements)
    statements.clear()
    drafts = await DraftRepository(session).create_many([{"body": f"d{n}"} for n in range(50)])
    assert len(statements) == 1
    statements.clear()
    assert await DraftRepository(session).get(draft.id) is draft
    assert await AccountRepository(session).get(account.id) is account
    assert await DraftRepository(session).get_many([d.id for d in drafts]) == {
        d.id: d for d in drafts
    }
    assert statements == []


async def test_uuid_key_with_versioning(session: AsyncSession) -> None:
    drafts = DraftRepository(session)
    draft = await drafts.create({"body": "b"})
    key = draft.id
    assert draft.version == 1
    assert (await drafts.update(key, body="c")).version == 2
    await session.commit()
    session.expunge_all()
    stored = await drafts.get_one(key)
    assert (stored.id, stored.body, stored.version) == (key, "c", 2)


def sa_inspect(connection: Any) -> Any:
    """SQLAlchemy's inspector for a sync connection (inside ``run_sync``)."""
    return inspect(connection)
