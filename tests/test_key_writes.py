"""update(pk) and delete(pk) in one statement when the session does not hold the object.

Where the backend has UPDATE RETURNING (PostgreSQL, SQLite) ``update`` sends one
``UPDATE ... RETURNING``; MariaDB keeps SELECT + UPDATE. ``delete`` sends one DELETE
wherever the ORM has nothing else to do. The returned object, the identity map and
the stored rows are what the read-modify-write path gives; the ORM path is kept
whenever a hook must see the change.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from sqla_repo import NotFoundError, StaleDataError
from sqla_repo._key_writes import key_write_plan
from tests.models import (
    Author,
    AuthorRepository,
    Car,
    Counter,
    CounterRepository,
    Order,
    Post,
    Product,
    ProductRepository,
    Vehicle,
)


@pytest.fixture
def update_statements(engine: AsyncEngine) -> int:
    """What ``update`` of an object the session does not hold sends on this backend."""
    return 1 if engine.dialect.update_returning else 2


async def _product(sessions: async_sessionmaker[AsyncSession], **values: Any) -> int:
    async with sessions.begin() as session:
        product = await ProductRepository(session).create({"sku": "p", "name": "P", **values})
    return product.id


# --- update ----------------------------------------------------------------------------


async def test_update_not_held_sends_one_statement_and_loads_the_object(
    sessions: async_sessionmaker[AsyncSession], statements: list[str], update_statements: int
) -> None:
    product_id = await _product(sessions, stock=5)
    async with sessions.begin() as session:
        statements.clear()
        updated = await ProductRepository(session).update(product_id, name="New", stock=7)
        assert len(statements) == update_statements
        assert statements[-1].lstrip().upper().startswith("UPDATE")
        # the session's object, loaded, nothing pending; server defaults read back
        state = inspect(updated)
        assert state.persistent
        assert not state.modified
        assert not state.expired_attributes
        assert (updated.name, updated.stock, updated.status) == ("New", 7, "new")
        assert await session.get(Product, product_id) is updated
        assert len(statements) == update_statements  # an identity-map hit
    async with sessions() as session:
        row = (await session.execute(select(Product.name, Product.stock))).one()
    assert tuple(row) == ("New", 7)


async def test_update_with_an_expression_returns_its_result(
    sessions: async_sessionmaker[AsyncSession], statements: list[str], update_statements: int
) -> None:
    product_id = await _product(sessions, stock=5)
    async with sessions.begin() as session:
        statements.clear()
        updated = await ProductRepository(session).update(product_id, stock=Product.stock + 2)
        assert updated.stock == 7
        # MariaDB: SELECT, UPDATE, and a SELECT of what the server computed
        assert len(statements) == (1 if update_statements == 1 else 3)


async def test_update_missing_row_sends_one_statement_and_writes_nothing(
    sessions: async_sessionmaker[AsyncSession], statements: list[str], update_statements: int
) -> None:
    product_id = await _product(sessions)
    async with sessions() as session:
        statements.clear()
        with pytest.raises(NotFoundError, match="99999"):
            await ProductRepository(session).update(99999, name="x")
        assert len(statements) == 1  # the UPDATE that matched nothing, or the SELECT
        assert not session.identity_map
        # the session stays usable
        assert (await ProductRepository(session).get_one(product_id)).name == "P"


async def test_update_of_a_held_object_changes_it_in_place(
    sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    product_id = await _product(sessions)
    async with sessions.begin() as session:
        repo = ProductRepository(session)
        held = await repo.get_one(product_id)
        statements.clear()
        updated = await repo.update(product_id, name="Held")
        assert updated is held
        assert held.name == "Held"
        assert len(statements) == 1


async def test_update_flushes_pending_objects_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        session.add(Counter(id=5, value=1))
        updated = await CounterRepository(session).update(5, value=3)
        assert (updated.value, updated.version) == (3, 2)
    async with sessions() as session:
        row = (await session.execute(select(Counter.value, Counter.version))).one()
    assert tuple(row) == (3, 2)


async def test_update_increments_the_version_and_a_stale_copy_fails(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await CounterRepository(session).create({"id": 1, "value": 0})
    async with sessions() as stale_session:
        stale = await CounterRepository(stale_session).get_one(1)
        assert stale.version == 1
        await stale_session.commit()  # the copy stays loaded (expire_on_commit=False)
        async with sessions.begin() as session:
            updated = await CounterRepository(session).update(1, value=10)
            assert updated.version == 2
        with pytest.raises(StaleDataError):
            await CounterRepository(stale_session).update(1, value=99)
    async with sessions() as session:
        row = (await session.execute(select(Counter.value, Counter.version))).one()
    assert tuple(row) == (10, 2)


async def test_update_applies_onupdate_expressions(
    sessions: async_sessionmaker[AsyncSession], statements: list[str], update_statements: int
) -> None:
    async with sessions.begin() as session:
        author = await AuthorRepository(session).create({"name": "a"})
    async with sessions.begin() as session:
        statements.clear()
        updated = await AuthorRepository(session).update(author.id, email="a@example.com")
        assert updated.edits == 1
        # MariaDB: SELECT, UPDATE, and a SELECT of what the server computed
        assert len(statements) == (1 if update_statements == 1 else 3)


@pytest.mark.parametrize(
    ("target", "name"),
    [
        (Product, "before_update"),
        (Product, "after_update"),
        (Session, "before_flush"),
        (Session, "after_flush"),
    ],
)
async def test_update_keeps_the_orm_path_for_listened_events(
    sessions: async_sessionmaker[AsyncSession], statements: list[str], target: Any, name: str
) -> None:
    calls: list[str] = []

    def listener(*args: Any) -> None:
        calls.append(name)

    product_id = await _product(sessions)
    event.listen(target, name, listener)
    try:
        async with sessions.begin() as session:
            statements.clear()
            updated = await ProductRepository(session).update(product_id, name="Heard")
            assert updated.name == "Heard"
            assert calls == [name]
            assert statements[0].lstrip().upper().startswith("SELECT")
    finally:
        event.remove(target, name, listener)


async def test_update_keeps_the_orm_path_for_attribute_events(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    seen: list[object] = []

    def on_set(target: Any, value: object, old: object, initiator: Any) -> object:
        seen.append(value)
        return value

    product_id = await _product(sessions)
    event.listen(Product.name, "set", on_set)
    try:
        async with sessions.begin() as session:
            await ProductRepository(session).update(product_id, name="Seen", stock=1)
        assert seen == ["Seen"]
    finally:
        event.remove(Product.name, "set", on_set)


# --- delete ----------------------------------------------------------------------------


async def test_delete_not_held_sends_one_statement(
    sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    product_id = await _product(sessions)
    async with sessions.begin() as session:
        statements.clear()
        await ProductRepository(session).delete(product_id)
        assert len(statements) == 1
        assert statements[0].lstrip().upper().startswith("DELETE")
        assert await ProductRepository(session).get(product_id) is None
    async with sessions() as session:
        assert await ProductRepository(session).count() == 0


async def test_delete_missing_row_sends_one_statement_and_deletes_nothing(
    sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    await _product(sessions)
    async with sessions() as session:
        statements.clear()
        with pytest.raises(NotFoundError, match="99999"):
            await ProductRepository(session).delete(99999)
        assert len(statements) == 1
        assert await ProductRepository(session).count() == 1


async def test_delete_of_a_held_object_removes_it_from_the_session(
    sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    product_id = await _product(sessions)
    async with sessions.begin() as session:
        repo = ProductRepository(session)
        held = await repo.get_one(product_id)
        statements.clear()
        await repo.delete(product_id)
        assert len(statements) == 1
        assert held not in session
        assert await repo.get(product_id) is None


async def test_delete_with_a_one_to_many_goes_through_the_orm(
    sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    async with sessions.begin() as session:
        author = await AuthorRepository(session).create({"name": "a"})
    async with sessions.begin() as session:
        statements.clear()
        await AuthorRepository(session).delete(author.id)
        # the ORM reads the author and its posts, to unlink them
        assert [s.lstrip().split()[0].upper() for s in statements] == [
            "SELECT",
            "SELECT",
            "DELETE",
        ]
        assert await session.scalar(select(Post.id)) is None


async def test_delete_keeps_the_orm_path_for_listened_events(
    sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    calls: list[object] = []

    def listener(*args: Any) -> None:
        calls.append(args[-1])

    product_id = await _product(sessions)
    event.listen(Product, "before_delete", listener)
    try:
        async with sessions.begin() as session:
            statements.clear()
            await ProductRepository(session).delete(product_id)
            assert len(calls) == 1
            assert isinstance(calls[0], Product)
            assert len(statements) == 2
    finally:
        event.remove(Product, "before_delete", listener)


async def test_key_writes_roll_back_with_the_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await _product(sessions)
    async with sessions.begin() as session:
        second = (await ProductRepository(session).create({"sku": "q", "name": "Q"})).id
    async with sessions() as session:
        repo = ProductRepository(session)
        await repo.update(first, name="Changed")
        await repo.delete(second)
        await session.rollback()
    async with sessions() as session:
        rows = (await session.execute(select(Product.name).order_by(Product.id))).scalars()
        assert list(rows) == ["P", "Q"]


def test_the_plan_keeps_the_orm_path_where_the_orm_has_work() -> None:
    def plan(model: type[Any]) -> tuple[bool, bool]:
        found = key_write_plan(inspect(model))
        return found.updatable, found.deletable

    assert plan(Product) == (True, True)  # orders: passive_deletes="all"
    assert plan(Order) == (True, True)  # a many-to-one only
    assert plan(Author) == (True, False)  # a one-to-many to unlink
    assert plan(Post) == (True, False)  # a many-to-many's rows to delete
    assert plan(Vehicle) == (False, False)  # polymorphic: the row may be another class's
    assert plan(Car) == (False, False)
    assert key_write_plan(inspect(Counter)).version == "version"
