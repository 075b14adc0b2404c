"""``Repository.first``: one row by any condition, in one ``SELECT ... LIMIT 1``."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from sqla_repo import InvalidFieldError, NotLoadedError
from tests.models import Order, Product, ProductRepository


async def _products(session: AsyncSession) -> list[Product]:
    repo = ProductRepository(session)
    made = await repo.create_many(
        [{"sku": f"p{n}", "name": name, "price_cents": n} for n, name in enumerate("cab")]
    )
    await session.commit()
    return made


async def test_first_is_the_first_match_in_order_or_none(
    session: AsyncSession, statements: list[str]
) -> None:
    made = await _products(session)
    repo = ProductRepository(session)
    statements.clear()
    assert await repo.first() is made[0]  # the primary key by default
    assert await repo.first(order_by="name") is made[1]
    assert await repo.first(order_by="-price_cents") is made[2]
    assert await repo.first(Product.sku == "p2") is made[2]
    assert await repo.first(Product.sku == "nope") is None
    assert len(statements) == 5
    assert all("LIMIT" in statement.upper() for statement in statements)


async def test_first_loads_what_options_name(session: AsyncSession) -> None:
    [product, *_] = await _products(session)
    session.add(Order(product_id=product.id, quantity=2))
    await session.commit()
    session.expunge_all()
    repo = ProductRepository(session)
    plain = await repo.first(Product.sku == "p0")
    assert plain is not None
    with pytest.raises(NotLoadedError):
        _ = plain.orders
    loaded = await repo.first(Product.sku == "p0", options=[selectinload(Product.orders)])
    assert loaded is plain
    assert [order.quantity for order in loaded.orders] == [2]


async def test_first_checks_its_arguments_as_list_does(session: AsyncSession) -> None:
    await _products(session)
    repo = ProductRepository(session)
    with pytest.raises(InvalidFieldError):
        await repo.first(order_by="no_such_column")
    with pytest.raises(InvalidFieldError):
        await repo.first(Order.quantity == 1)  # another table: a cross join
