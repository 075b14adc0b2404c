"""The model mixins add no statement to any repository operation.

Each operation runs on a model with the mixins and on the same model without them;
the number of statements sent must be the same, on every backend.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import String, Uuid
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_repo import (
    BigIntPrimaryKeyMixin,
    Repository,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
)


class RtBase(DeclarativeBase):
    pass


class Plain(RtBase):
    __tablename__ = "ts_rt_plain"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50), unique=True)
    n: Mapped[int] = mapped_column(default=0)


class Stamped(TimestampMixin, RtBase):
    __tablename__ = "ts_rt_stamped"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50), unique=True)
    n: Mapped[int] = mapped_column(default=0)


class Keyed(BigIntPrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, RtBase):
    __tablename__ = "ts_rt_keyed"
    title: Mapped[str] = mapped_column(String(50), unique=True)
    n: Mapped[int] = mapped_column(default=0)


class PlainUuid(RtBase):
    __tablename__ = "ts_rt_plain_uuid"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(50), unique=True)
    n: Mapped[int] = mapped_column(default=0)


class UuidKeyed(SoftDeleteMixin, TimestampMixin, UUIDv7PrimaryKeyMixin, RtBase):
    __tablename__ = "ts_rt_uuid_keyed"
    title: Mapped[str] = mapped_column(String(50), unique=True)
    n: Mapped[int] = mapped_column(default=0)


def repository_of(model: type[Any]) -> type[Repository[Any, Any]]:
    class Bound(Repository[model]):  # type: ignore[valid-type]  # a model chosen per test
        pass

    return Bound


PAIRS = pytest.mark.parametrize(
    ("plain", "mixed"),
    [
        pytest.param(Plain, Stamped, id="timestamps"),
        pytest.param(Plain, Keyed, id="bigint-key+timestamps+soft-delete"),
        pytest.param(PlainUuid, UuidKeyed, id="uuid7-key+timestamps+soft-delete"),
    ],
)

Operation = Callable[[Any, type[Any], dict[str, Any]], Awaitable[object]]


async def _create(repo: Any, model: type[Any], keys: dict[str, Any]) -> None:
    keys["a"] = (await repo.create({"title": "a", "n": 1})).id


async def _create_many(repo: Any, model: type[Any], keys: dict[str, Any]) -> None:
    created = await repo.create_many([{"title": t, "n": 2} for t in "bcdefg"])
    keys.update({obj.title: obj.id for obj in created})


async def _update_held(repo: Any, model: type[Any], keys: dict[str, Any]) -> None:
    await repo.get(keys["b"])
    await repo.update(keys["b"], n=4)


async def _update_where_held(repo: Any, model: type[Any], keys: dict[str, Any]) -> None:
    await repo.list()
    await repo.update_where(model.n == 4, values={"n": 5})


async def _paginate_twice(repo: Any, model: type[Any], keys: dict[str, Any]) -> None:
    first = await repo.paginate(order_by="-n", limit=2)
    await repo.paginate(order_by="-n", limit=2, after=first.next_cursor)


OPERATIONS: list[tuple[str, Operation]] = [
    ("create", _create),
    ("create_many", _create_many),
    (
        "create_many(returning=False)",
        lambda r, m, k: r.create_many([{"title": "z"}], returning=False),
    ),
    ("get", lambda r, m, k: r.get(k["a"])),
    ("get_one", lambda r, m, k: r.get_one(k["a"])),
    ("get_many", lambda r, m, k: r.get_many([k["a"], k["b"]])),
    ("list", lambda r, m, k: r.list(m.n >= 1, order_by="title")),
    ("count", lambda r, m, k: r.count(m.n >= 1)),
    ("exists", lambda r, m, k: r.exists(m.n >= 1)),
    ("page", lambda r, m, k: r.page(limit=2)),
    ("paginate", _paginate_twice),
    ("update", lambda r, m, k: r.update(k["a"], n=3)),
    ("update (held)", _update_held),
    ("update_where", lambda r, m, k: r.update_where(m.n == 2, values={"n": 6})),
    ("update_where (held)", _update_where_held),
    ("upsert (update)", lambda r, m, k: r.upsert({"title": "c", "n": 8}, on=["title"])),
    ("upsert (insert)", lambda r, m, k: r.upsert({"title": "h", "n": 8}, on=["title"])),
    (
        "upsert_many",
        lambda r, m, k: r.upsert_many([{"title": "d", "n": 9}, {"title": "i"}], on=["title"]),
    ),
    ("delete", lambda r, m, k: r.delete(k["e"])),
    ("delete_where", lambda r, m, k: r.delete_where(m.title == "f")),
]


@pytest.fixture
async def rt_sessions(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine.begin() as connection:
        await connection.run_sync(RtBase.metadata.drop_all)
        await connection.run_sync(RtBase.metadata.create_all)
    yield sessions
    async with engine.begin() as connection:
        await connection.run_sync(RtBase.metadata.drop_all)


async def _round_trips(
    sessions: async_sessionmaker[AsyncSession], statements: list[str], model: type[Any]
) -> dict[str, int]:
    """The number of statements each operation sends, each in a session of its own."""
    repository = repository_of(model)
    keys: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for name, operation in OPERATIONS:
        async with sessions() as session:
            statements.clear()
            await operation(repository(session), model, keys)
            counts[name] = len(statements)
            await session.commit()
    return counts


@PAIRS
async def test_mixins_add_no_statement_to_any_operation(
    rt_sessions: async_sessionmaker[AsyncSession],
    statements: list[str],
    plain: type[Any],
    mixed: type[Any],
) -> None:
    without = await _round_trips(rt_sessions, statements, plain)
    with_mixins = await _round_trips(rt_sessions, statements, mixed)
    assert with_mixins == without
    assert (without["create"], without["get"], without["list"], without["delete"]) == (1, 1, 1, 1)
