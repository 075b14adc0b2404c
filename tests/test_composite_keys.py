"""Composite primary keys through every ``Repository`` method, on every backend.

``Repository[OrderLine, tuple[int, int]]`` takes keys as tuples in primary-key column
order; a key of the wrong arity, or a bare value, raises ``InvalidFieldError`` before
any SQL is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_repo import EngineFactory, InvalidFieldError, NotFoundError, Repository
from tests.drivers import every_driver


class KeysBase(DeclarativeBase):
    pass


class OrderLine(KeysBase):
    __tablename__ = "km_order_lines"
    __table_args__ = (UniqueConstraint("sku", "order_id", name="uq_km_order_lines_sku"),)

    order_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sku: Mapped[str] = mapped_column(String(20))
    qty: Mapped[int] = mapped_column(Integer, default=1)


class OrderLineRepository(Repository[OrderLine, tuple[int, int]]):
    pass


class LineIn(BaseModel):
    order_id: int
    line_no: int
    sku: str
    qty: int = 1


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


@pytest.fixture
async def lines(session: AsyncSession) -> OrderLineRepository:
    """A repository over six committed lines: orders 1 and 2, lines 1..3 each."""
    repo = OrderLineRepository(session)
    await repo.create_many(
        [
            {"order_id": order, "line_no": line, "sku": f"s{order}{line}", "qty": 10 * line}
            for order in (2, 1)
            for line in (3, 1, 2)
        ]
    )
    await session.commit()
    return repo


async def _stored(session: AsyncSession) -> list[tuple[Any, ...]]:
    result = await session.execute(
        select(OrderLine.order_id, OrderLine.line_no, OrderLine.sku, OrderLine.qty).order_by(
            OrderLine.order_id, OrderLine.line_no
        )
    )
    return [tuple(row) for row in result]


WRONG_KEYS = {
    "bare": 1,
    "one": (1,),
    "three": (1, 2, 3),
    "empty": (),
    "list": [1, 2],
    "string": "1,2",
    "none": None,
    "not-int": (1, "x"),
}
wrong_keys = pytest.mark.parametrize("key", WRONG_KEYS.values(), ids=WRONG_KEYS.keys())


# --- reads -------------------------------------------------------------------------------------


@every_driver
async def test_get_by_tuple(
    lines: OrderLineRepository, session: AsyncSession, statements: list[str]
) -> None:
    session.expunge_all()
    statements.clear()
    line = await lines.get((1, 2))
    assert line is not None
    assert (line.order_id, line.line_no, line.sku, line.qty) == (1, 2, "s12", 20)
    assert len(statements) == 1
    assert await lines.get((1, 2)) is line  # identity map: no SQL
    assert len(statements) == 1
    assert await lines.get((2, 9)) is None
    assert await lines.get((9, 1)) is None


@wrong_keys
async def test_get_with_a_wrong_key_sends_no_sql(
    lines: OrderLineRepository, statements: list[str], key: Any
) -> None:
    statements.clear()
    with pytest.raises(InvalidFieldError):
        await lines.get(key)
    with pytest.raises(InvalidFieldError):
        await lines.get(key, for_update=True)
    with pytest.raises(InvalidFieldError):
        await lines.get_one(key)
    with pytest.raises(InvalidFieldError):
        await lines.get_many([(1, 1), key])
    with pytest.raises(InvalidFieldError):
        await lines.update(key, qty=5)
    with pytest.raises(InvalidFieldError):
        await lines.delete(key)
    assert statements == []


async def test_wrong_key_names_the_key_columns(lines: OrderLineRepository) -> None:
    with pytest.raises(InvalidFieldError, match=r"order_id, line_no.*tuple of 2"):
        await lines.get(1)  # type: ignore[arg-type] # the misuse under test


async def test_get_one(lines: OrderLineRepository) -> None:
    line = await lines.get_one((2, 3))
    assert (line.order_id, line.line_no, line.sku) == (2, 3, "s23")
    with pytest.raises(NotFoundError):
        await lines.get_one((3, 1))


@every_driver
async def test_get_many_keyed_by_tuples(
    lines: OrderLineRepository, session: AsyncSession, statements: list[str]
) -> None:
    session.expunge_all()
    statements.clear()
    found = await lines.get_many([(2, 1), (1, 3), (7, 7), (2, 1)])
    assert list(found) == [(2, 1), (1, 3)]
    assert [(line.order_id, line.line_no) for line in found.values()] == [(2, 1), (1, 3)]
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    statements.clear()
    assert await lines.get_many([]) == {}
    assert statements == []


async def test_list_page_paginate_stream_order_by_the_whole_key(
    lines: OrderLineRepository,
) -> None:
    expected = [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    assert [(x.order_id, x.line_no) for x in await lines.list()] == expected
    page = await lines.page(limit=4, offset=2)
    assert [(x.order_id, x.line_no) for x in page.items] == expected[2:]
    assert page.total == 6
    assert [(x.order_id, x.line_no) async for x in lines.stream(batch_size=4)] == expected


@every_driver
async def test_paginate_walks_composite_keys(lines: OrderLineRepository) -> None:
    walked: list[tuple[int, int]] = []
    after = None
    while True:
        page = await lines.paginate(limit=4, after=after)
        walked += [(x.order_id, x.line_no) for x in page.items]
        if not page.has_next:
            assert page.next_cursor is None
            break
        after = page.next_cursor
    assert walked == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]


async def test_paginate_with_an_ordering_ties_broken_by_the_whole_key(
    lines: OrderLineRepository, session: AsyncSession
) -> None:
    # qty ties between the two orders: the key (order_id, line_no) decides, ascending
    walked: list[tuple[int, int]] = []
    after = None
    while True:
        page = await lines.paginate(order_by="-qty", limit=1, after=after)
        walked += [(x.order_id, x.line_no) for x in page.items]
        if not page.has_next:
            break
        after = page.next_cursor
    assert walked == [(1, 3), (2, 3), (1, 2), (2, 2), (1, 1), (2, 1)]
    assert walked == [(x.order_id, x.line_no) for x in await lines.list(order_by="-qty")]


# --- writes ------------------------------------------------------------------------------------


@every_driver
async def test_create_many_of_mappings_instances_and_pydantic_models(
    session: AsyncSession, statements: list[str]
) -> None:
    repo = OrderLineRepository(session)
    created = await repo.create_many(
        [
            {"order_id": 5, "line_no": 2, "sku": "a"},
            OrderLine(order_id=5, line_no=1, sku="b", qty=3),
            LineIn(order_id=4, line_no=1, sku="c", qty=2),
        ]
    )
    assert [(x.order_id, x.line_no, x.qty) for x in created] == [(5, 2, 1), (5, 1, 3), (4, 1, 2)]
    statements.clear()
    assert await repo.get((5, 1)) is created[1]
    assert statements == []
    assert await repo.create_many([]) == []
    assert statements == []
    await session.commit()
    assert await _stored(session) == [(4, 1, "c", 2), (5, 1, "b", 3), (5, 2, "a", 1)]


@every_driver
async def test_create_many_without_returning(session: AsyncSession) -> None:
    repo = OrderLineRepository(session)
    written = await repo.create_many(
        [{"order_id": 1, "line_no": n, "sku": f"x{n}", "qty": n} for n in range(1, 301)],
        returning=False,
    )
    assert written == 300
    await session.commit()
    stored = await _stored(session)
    assert stored == [(1, n, f"x{n}", n) for n in range(1, 301)]


async def test_create_one(session: AsyncSession) -> None:
    repo = OrderLineRepository(session)
    line = await repo.create({"order_id": 8, "line_no": 1, "sku": "z"})
    assert await repo.get((8, 1)) is line
    await session.commit()
    assert await _stored(session) == [(8, 1, "z", 1)]


@every_driver
async def test_update_by_tuple(lines: OrderLineRepository, session: AsyncSession) -> None:
    updated = await lines.update((2, 2), qty=99)
    assert (updated.order_id, updated.line_no, updated.qty) == (2, 2, 99)
    session.expunge_all()
    updated = await lines.update((1, 3), {"sku": "new"})  # not in the session: by statement
    assert (updated.order_id, updated.line_no, updated.sku) == (1, 3, "new")
    await session.commit()
    stored = await _stored(session)
    assert (2, 2, "s22", 99) in stored
    assert (1, 3, "new", 30) in stored
    assert len(stored) == 6


async def test_update_refuses_key_fields_and_missing_rows(
    lines: OrderLineRepository, session: AsyncSession, statements: list[str]
) -> None:
    statements.clear()
    for field in ("order_id", "line_no"):
        with pytest.raises(InvalidFieldError, match="primary key"):
            await lines.update((1, 1), **{field: 1})
    assert statements == []
    with pytest.raises(NotFoundError):
        await lines.update((3, 3), qty=1)
    await session.rollback()
    assert len(await _stored(session)) == 6


@every_driver
async def test_delete_by_tuple(
    lines: OrderLineRepository, session: AsyncSession, statements: list[str]
) -> None:
    session.expunge_all()
    statements.clear()
    await lines.delete((1, 2))
    assert [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    assert await lines.get((1, 2)) is None
    held = await lines.get_one((2, 1))
    await lines.delete((2, 1))  # held by the session
    assert held not in session
    with pytest.raises(NotFoundError):
        await lines.delete((1, 2))
    await session.commit()
    assert [row[:2] for row in await _stored(session)] == [(1, 1), (1, 3), (2, 2), (2, 3)]


@every_driver
@pytest.mark.parametrize(
    "on",
    [
        None,
        ["order_id", "line_no"],
        ["line_no", "order_id"],
        [OrderLine.order_id, OrderLine.line_no],
    ],
    ids=["default", "names", "reversed", "attributes"],
)
async def test_upsert_on_the_whole_key(
    lines: OrderLineRepository, session: AsyncSession, on: Any
) -> None:
    updated = await lines.upsert({"order_id": 1, "line_no": 1, "sku": "s11", "qty": 7}, on=on)
    assert (updated.order_id, updated.line_no, updated.qty) == (1, 1, 7)
    inserted = await lines.upsert(OrderLine(order_id=3, line_no=1, sku="n", qty=4), on=on)
    assert (inserted.order_id, inserted.line_no, inserted.qty) == (3, 1, 4)
    many = await lines.upsert_many(
        [
            {"order_id": 3, "line_no": 2, "sku": "m", "qty": 5},
            {"order_id": 2, "line_no": 3, "sku": "s23", "qty": 6},
        ],
        on=on,
    )
    assert [(x.order_id, x.line_no, x.qty) for x in many] == [(3, 2, 5), (2, 3, 6)]
    assert await lines.get((2, 3)) is many[1]
    await session.commit()
    session.expunge_all()
    stored = await _stored(session)
    assert len(stored) == 8
    assert (1, 1, "s11", 7) in stored
    assert (3, 1, "n", 4) in stored
    assert (3, 2, "m", 5) in stored
    assert (2, 3, "s23", 6) in stored


async def test_upsert_refuses_part_of_the_key(
    lines: OrderLineRepository, statements: list[str]
) -> None:
    statements.clear()
    for on in (["order_id"], ["line_no"], ["order_id", "line_no", "sku"]):
        with pytest.raises(InvalidFieldError):
            await lines.upsert({"order_id": 1, "line_no": 1, "sku": "x"}, on=on)
    with pytest.raises(InvalidFieldError):  # the item must give the whole key
        await lines.upsert({"order_id": 1, "sku": "x"})
    assert statements == []


async def test_get_or_create_by_the_whole_key(
    lines: OrderLineRepository, session: AsyncSession
) -> None:
    found, created = await lines.get_or_create({"order_id": 1, "line_no": 2, "sku": "other"})
    assert (found.sku, created) == ("s12", False)
    made, created = await lines.get_or_create(
        {"order_id": 4, "line_no": 4}, defaults={"sku": "d", "qty": 2}
    )
    assert (made.order_id, made.line_no, made.qty, created) == (4, 4, 2, True)
    await session.commit()
    assert len(await _stored(session)) == 7
