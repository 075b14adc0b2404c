"""Misuses of the public API that ``mypy --strict`` must reject; never executed.

Each misuse sits on its own line, ending in ``# E: <code>``: the mypy error code it
must raise there. ``tests/test_typing.py`` checks every marked line gets exactly that
error and no unmarked line gets any, so a misuse that stops being rejected fails.
"""

from __future__ import annotations

from sqlalchemy import Engine, ForeignKey, Integer, String
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from sqla_repo import (
    ConflictError,
    EngineFactory,
    PoolConfig,
    Repository,
    User,
    UserRepository,
)


class MisuseBase(DeclarativeBase):
    pass


class Product(MisuseBase):
    __tablename__ = "misuse_products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    price_cents: Mapped[int] = mapped_column(Integer, default=0)


class Order(MisuseBase):
    __tablename__ = "misuse_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("misuse_products.id"))


class Tag(MisuseBase):
    __tablename__ = "misuse_tags"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)


class ProductRepository(Repository[Product]):
    pass


class OrderRepository(Repository[Order, int]):
    pass


class TagRepository(Repository[Tag, tuple[str, str]]):
    pass


class TooManyParameters(Repository[Product, int, str]):  # E: type-arg
    pass


async def wrong_result_types(products: ProductRepository, orders: OrderRepository) -> None:
    user: User | None = await products.get(1)  # E: assignment
    product: Product = await products.get(1)  # E: assignment
    users: list[User] = await products.list()  # E: assignment
    order: Order = await products.create({"sku": "x"})  # E: assignment
    updated: Order = await products.update(1, sku="y")  # E: assignment
    nothing = await orders.delete(1)  # E: func-returns-value
    model: type[Order] = products.model  # E: assignment
    session: Session = products.session  # E: assignment
    print(user, product, users, order, updated, nothing, model, session)


async def wrong_arguments(
    products: ProductRepository, orders: OrderRepository, tags: TagRepository, user: User
) -> None:
    await products.create(user)  # E: arg-type
    await products.create(["sku", "x"])  # E: arg-type
    await products.create({1: "x"})  # E: dict-item
    await orders.get("1")  # E: arg-type
    await orders.get(None)  # E: arg-type
    await orders.update("1", {"product_id": 2})  # E: arg-type
    await orders.update(1, ["product_id"])  # E: arg-type
    await orders.update(1, {"product_id": 2}, {"id": 3})  # E: call-arg
    await orders.delete("1")  # E: arg-type
    await tags.get("scope")  # E: arg-type
    await tags.get(("scope",))  # E: arg-type
    await products.get(pk=1)  # E: call-arg
    await products.list(order_by=1)  # E: arg-type
    await products.list(order_by=[Product.sku, 1])  # E: list-item
    await products.list(limit="10")  # E: arg-type
    await products.list(offset=None)  # E: arg-type
    await products.list(Product.sku)  # E: arg-type
    await products.list(True)  # E: arg-type
    await products.list(Product.sku == "x", 10)  # E: arg-type
    await products.save(Product())  # E: attr-defined


async def wrong_users(session: AsyncSession, engine: AsyncEngine) -> None:
    users = UserRepository(session)
    await users.get_by_email(42)  # E: arg-type
    await users.get("1")  # E: arg-type
    UserRepository(engine)  # E: arg-type
    UserRepository()  # E: call-arg
    found = await users.get_by_email("a@example.com")
    print(found.email)  # E: union-attr


async def forgotten_awaits(products: ProductRepository) -> None:
    product: Product | None = products.get(1)  # E: assignment
    products.create(Product())  # E: unused-coroutine
    for item in products.list():  # E: attr-defined
        print(item)
    if products.get(1):  # E: truthy-bool
        pass
    await products.model  # E: misc
    print(product)


def wrong_engines(engine: AsyncEngine) -> None:
    EngineFactory(123)  # E: arg-type
    EngineFactory("sqlite+aiosqlite://", pool={"size": 5})  # E: arg-type
    EngineFactory("sqlite+aiosqlite://", PoolConfig())  # E: call-arg
    EngineFactory("sqlite+aiosqlite://", echo="yes")  # E: arg-type
    factory = EngineFactory("sqlite+aiosqlite://")
    sync_engine: Engine = factory.create_async_engine()  # E: assignment
    sync_sessions: sessionmaker[Session] = factory.create_sessionmaker(engine)  # E: assignment
    factory.create_sessionmaker(factory)  # E: arg-type
    PoolConfig(size="5")  # E: arg-type
    PoolConfig(timeout="30")  # E: arg-type
    PoolConfig(pre_ping=None)  # E: arg-type
    PoolConfig(sizes=5)  # E: call-arg
    PoolConfig(5)  # E: call-arg
    print(sync_engine, sync_sessions)


def wrong_errors(err: ConflictError) -> None:
    name: str = err.constraint  # E: assignment
    err.columns.append("sku")  # E: attr-defined
    first: list[str] = err.columns  # E: assignment
    print(name, first)
