"""create_many(items, returning=False): rows written, not read back, nothing in the session.

PostgreSQL through asyncpg copies them in (COPY, binary) inside the session's
transaction; every other backend and driver sends executemany INSERTs. Either way the
stored rows, the errors and the rollback are those of an INSERT.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sqla_repo import ConflictError, IntegrityViolationError, InvalidFieldError
from sqla_repo._bulk_load import copyable
from tests.drivers import ASYNCPG, PSYCOPG
from tests.models import (
    Author,
    AuthorRepository,
    Color,
    GaugeRepository,
    Post,
    Product,
    ProductRepository,
)


def _products(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"sku": f"s{i}", "name": f"n{i}", "stock": i} for i in range(start, start + count)]


async def test_returns_the_count_and_stores_rows_with_their_defaults(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        written = await ProductRepository(session).create_many(_products(2500), returning=False)
        assert written == 2500
        assert not session.identity_map  # nothing was read back into the session
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    func.count(),
                    func.sum(Product.stock),
                    func.min(Product.price_cents),
                    func.max(Product.status),
                )
            )
        ).one()
    assert tuple(rows) == (2500, sum(range(2500)), 0, "new")  # scalar and server defaults


async def test_instances_stay_transient(sessions: async_sessionmaker[AsyncSession]) -> None:
    products = [Product(sku=f"i{i}", name="x") for i in range(3)]
    async with sessions.begin() as session:
        assert await ProductRepository(session).create_many(products, returning=False) == 3
        assert all(inspect(product).transient for product in products)
        assert await ProductRepository(session).count() == 3


async def test_empty_input_sends_nothing(session: AsyncSession, statements: list[str]) -> None:
    assert await ProductRepository(session).create_many([], returning=False) == 0
    assert statements == []


async def test_rolled_back_with_the_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        # the first statement of the transaction: the rows must still be inside it
        await ProductRepository(session).create_many(_products(50), returning=False)
        await session.rollback()
    async with sessions() as session:
        assert await ProductRepository(session).count() == 0


async def test_a_duplicate_raises_the_typed_error_and_stores_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await ProductRepository(session).create({"sku": "s7", "name": "taken"})
    async with sessions() as session:
        with pytest.raises(ConflictError) as raised:
            await ProductRepository(session).create_many(_products(20), returning=False)
        assert isinstance(raised.value, IntegrityViolationError)
        assert "n7" not in str(raised.value)  # values stay out of the message
        await session.rollback()
        assert await ProductRepository(session).count() == 1


async def test_bad_fields_and_related_objects_are_refused_before_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    with pytest.raises(InvalidFieldError, match="nmae"):
        await ProductRepository(session).create_many([{"sku": "a", "nmae": "x"}], returning=False)
    with pytest.raises(InvalidFieldError, match="related objects"):
        await AuthorRepository(session).create_many(
            [Author(name="a", posts=[Post(slug="s", title="t")])], returning=False
        )
    with pytest.raises(InvalidFieldError):
        await ProductRepository(session).create_many(
            [{"sku": "x" * 33, "name": "too long"}], returning=False
        )
    assert statements == []


async def test_every_column_type_is_stored_as_an_insert_stores_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    values: dict[str, Any] = {
        "small": 7,
        "big": 2**62,
        "ratio": 0.5,
        "precise": 1.25,
        "amount": 12.5,
        "code": "abc",
        "body": "text \u00e9",
        "flag": True,
        "day": date(2026, 1, 2),
        "at": datetime(2026, 1, 2, 3, 4, 5),  # MariaDB DATETIME keeps no fraction
        "clock": time(3, 4, 5),
        "color": Color.RED,
        "token": uuid.UUID(int=5),
        "extra": {"a": [1, 2]},
    }
    async with sessions.begin() as session:
        repo = GaugeRepository(session)
        await repo.create_many([{"id": 1, **values}], returning=False)
        await repo.create_many([{"id": 2, **values}])
        await repo.create_many([{"id": 3}], returning=False)  # every column NULL
    async with sessions() as session:
        copied, inserted, empty = await GaugeRepository(session).list()
    columns = [*values, "blob"]
    assert {c: getattr(copied, c) for c in columns} == {c: getattr(inserted, c) for c in columns}
    assert {c: getattr(copied, c) for c in values} == values
    assert all(getattr(empty, c) is None for c in columns)


@pytest.mark.parametrize(("backend", "driver"), [ASYNCPG, PSYCOPG], indirect=["backend"])
async def test_postgresql_copies_through_asyncpg_only(
    sessions: async_sessionmaker[AsyncSession], statements: list[str], driver: str
) -> None:
    sends_insert = driver != "postgresql+asyncpg"
    async with sessions.begin() as session:
        await ProductRepository(session).create_many(_products(10), returning=False)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert bool(inserts) == sends_insert
    async with sessions() as session:
        assert await ProductRepository(session).count() == 10


def test_rows_are_copied_only_when_nothing_is_lost() -> None:
    table = Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(10)),
        Column("stamp", String(10), default=lambda: "now"),
        Column("fixed", String(10), server_default="x"),
    )
    assert copyable(table, ["name", "stamp"])
    assert copyable(table, ["id", "name", "stamp"])
    assert not copyable(table, ["name"])  # the Python-side default would be skipped
