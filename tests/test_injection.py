"""Strings that become columns accept only mapped names: SQL fed to them is refused, unsent.

Order keys, upsert and get-or-create targets, and field names of every write are fed
SQL-injection payloads. Each raises ``InvalidFieldError`` before any SQL: no statement
carries the payload, and the table and its rows are unchanged, on every backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import asc, desc, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sqla_repo import InvalidFieldError
from tests.models import Product, ProductRepository

PAYLOADS = (
    "name; DROP TABLE products",
    "id) OR 1=1 --",
    "-(SELECT 1)",
    'name"',
    "name`",
    "sku' OR '1'='1",
    "name /* */",
    "__class__",
    "_sa_instance_state",
)

_ROW = {"sku": "SKU-9", "name": "Desk"}


async def _drain(repo: ProductRepository, order_by: Any) -> None:
    async for _ in repo.stream(order_by=order_by):
        pass


Operation = Callable[[ProductRepository, str], Awaitable[object]]

OPERATIONS: dict[str, Operation] = {
    "list-order_by": lambda repo, p: repo.list(order_by=p),
    "list-order_by-sequence": lambda repo, p: repo.list(order_by=["sku", p]),
    "list-order_by-desc": lambda repo, p: repo.list(order_by=desc(p)),
    "list-order_by-asc": lambda repo, p: repo.list(order_by=asc(p)),
    "list-order_by-literal_column": lambda repo, p: repo.list(order_by=literal_column(p)),
    "page-order_by": lambda repo, p: repo.page(order_by=p),
    "paginate-order_by": lambda repo, p: repo.paginate(order_by=p),
    "stream-order_by": lambda repo, p: _drain(repo, p),
    "create": lambda repo, p: repo.create({**_ROW, p: 1}),
    "create_many": lambda repo, p: repo.create_many([{**_ROW, p: 1}]),
    "update-keyword": lambda repo, p: repo.update(1, **{p: 1}),
    "update-mapping": lambda repo, p: repo.update(1, {p: 1}),
    "update_where": lambda repo, p: repo.update_where(Product.id == 1, values={p: 1}),
    "upsert-on": lambda repo, p: repo.upsert(_ROW, on=[p]),
    "upsert-on-string": lambda repo, p: repo.upsert(_ROW, on=p),
    "upsert-update": lambda repo, p: repo.upsert(_ROW, on=["sku"], update=[p]),
    "upsert-field": lambda repo, p: repo.upsert({**_ROW, p: 1}, on=["sku"]),
    "upsert_many-on": lambda repo, p: repo.upsert_many([_ROW], on=[p]),
    "get_or_create-on": lambda repo, p: repo.get_or_create(_ROW, on=[p]),
    "get_or_create-field": lambda repo, p: repo.get_or_create({**_ROW, p: 1}, on=["sku"]),
    "get_or_create-defaults": lambda repo, p: repo.get_or_create(
        {"sku": "SKU-9"}, on=["sku"], defaults={"name": "Desk", p: 1}
    ),
}


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    """Every stored product, read in a fresh session (the table must still exist)."""
    columns = (Product.id, Product.sku, Product.name, Product.price_cents, Product.stock)
    async with sessions() as session:
        return [tuple(row) for row in await session.execute(select(*columns).order_by(Product.id))]


@pytest.mark.parametrize("operation", list(OPERATIONS), ids=list(OPERATIONS))
async def test_injection_payloads_are_invalid_fields_and_change_nothing(
    operation: str, sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    async with sessions.begin() as session:
        repo = ProductRepository(session)
        await repo.create({"id": 1, "sku": "SKU-1", "name": "Lamp", "price_cents": 100})
        await repo.create({"id": 2, "sku": "SKU-2", "name": "Chair", "price_cents": 200})
    before = await _rows(sessions)
    attempt = OPERATIONS[operation]
    async with sessions() as session:
        repo = ProductRepository(session)
        sent_before = len(statements)
        for payload in PAYLOADS:
            with pytest.raises(InvalidFieldError) as raised:
                await attempt(repo, payload)
            assert type(raised.value) is InvalidFieldError, payload
        # refused before any SQL, and the session is still usable
        assert statements[sent_before:] == []
        assert [p.id for p in await repo.list()] == [1, 2]
        await session.commit()
    assert await _rows(sessions) == before
