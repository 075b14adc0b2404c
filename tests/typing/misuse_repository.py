"""Misuses of the public API that ``mypy --strict`` must reject; never executed.

Each misuse sits on its own line, ending in ``# E: <code>``: the mypy error code it
must raise there. ``tests/test_typing.py`` checks every marked line gets exactly that
error and no unmarked line gets any, so a misuse that stops being rejected fails.
basedpyright in strict mode must reject every marked line too, with a rule that
matches the mypy code (``BASEDPYRIGHT_RULES`` there), and report nothing elsewhere.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy import Engine, ForeignKey, Integer, String, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
    sessionmaker,
)

from sqla_repo import (
    NAMING_CONVENTION,
    ConflictError,
    CursorPage,
    DatabaseSettings,
    EngineFactory,
    OrderBy,
    Page,
    PoolConfig,
    Repository,
    RoutingConfig,
    SoftDeleteMixin,
    TimestampMixin,
    User,
    UserRepository,
    UUIDv7PrimaryKeyMixin,
    run_in_transaction,
    unit_of_work,
)
from sqla_repo.alembic import run_migrations
from sqla_repo.fastapi import add_exception_handlers, lifespan, repository


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

    product: Mapped[Product] = relationship()


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
    deleted: int = await orders.delete(1)  # E: assignment, func-returns-value
    model: type[Order] = products.model  # E: assignment
    session: Session = products.session  # E: assignment
    print(user, product, users, order, updated, deleted, model, session)


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
    for _ in products.list():  # E: attr-defined
        pass
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
    EngineFactory("sqlite+aiosqlite://", routing={"wait": 1})  # E: arg-type
    EngineFactory("sqlite+aiosqlite://", replicas=[5])  # E: list-item
    EngineFactory("sqlite+aiosqlite://", pgbouncer="yes")  # E: arg-type
    RoutingConfig(wait="1")  # E: arg-type
    cluster = factory.create_cluster()
    cluster.read_session(after=5)  # E: arg-type
    PoolConfig(5)  # E: call-arg
    print(sync_engine, sync_sessions)


def wrong_errors(err: ConflictError) -> None:
    name: str = err.constraint  # E: assignment
    err.columns.append("sku")  # E: attr-defined
    first: list[str] = err.columns  # E: assignment
    print(name, first)


async def wrong_query_arguments(
    products: ProductRepository, orders: OrderRepository, tags: TagRepository
) -> None:
    await orders.get_one("1")  # E: arg-type
    await orders.get_many([1, "2"])  # E: list-item
    await orders.get_many(1)  # E: arg-type
    await tags.get_many([("scope",)])  # E: list-item
    await products.get_many([1], [selectinload(Order.product)])  # E: call-arg
    await products.list(options=[1])  # E: list-item
    await orders.get(1, options=selectinload(Order.product))  # E: arg-type
    await products.count(Product.sku)  # E: arg-type
    await products.count(limit=1)  # E: call-arg
    await products.exists("sku = 'x'")  # E: arg-type
    await products.page(limit="10")  # E: arg-type
    await products.page(offset=None)  # E: arg-type
    await products.page(after="cursor")  # E: call-arg
    await products.paginate(after=1)  # E: arg-type
    await products.paginate(offset=10)  # E: call-arg
    await products.list(order_by=Product)  # E: arg-type
    await products.list(order_by=text("sku DESC"))  # E: arg-type
    ordering: OrderBy = 1  # E: assignment
    products.stream(batch_size="1000")  # E: arg-type
    print(ordering)


async def wrong_query_results(products: ProductRepository, orders: OrderRepository) -> None:
    by_key: dict[str, Order] = await orders.get_many([1])  # E: assignment
    one = await products.get_one(1)
    one.sku = None  # E: assignment
    total: str = await products.count()  # E: assignment
    found: str = await products.exists()  # E: assignment
    page: Page[Order] = await products.page()  # E: assignment
    cursor_page = await products.paginate()
    items: list[Order] = cursor_page.items  # E: assignment
    first: Order = cursor_page.items[0]  # E: assignment
    cursor: str = cursor_page.next_cursor  # E: assignment
    wrong_page: CursorPage[Product] = await products.page()  # E: assignment
    print(by_key, total, found, page, items, first, cursor, wrong_page)


async def misused_streams(products: ProductRepository) -> None:
    await products.stream()  # E: misc
    streamed: list[Product] = products.stream()  # E: assignment
    for _ in products.stream():  # E: attr-defined
        pass
    print(products.stream()[0])  # E: index
    print(len(products.stream()))  # E: arg-type
    async for order in products.stream():
        wrong: Order = order  # E: assignment
        print(wrong)
    print(streamed)


async def wrong_writes(products: ProductRepository, orders: OrderRepository) -> None:
    await products.create_many(Product())  # E: call-overload
    await products.create_many([Order()])  # E: list-item
    created: list[Order] = await products.create_many([])  # E: assignment
    loaded: list[Product] = await products.create_many([], returning=False)  # E: assignment
    await products.upsert()  # E: call-arg
    await products.upsert({"sku": "x"}, ["sku"])  # E: call-arg
    await products.upsert({"sku": "x"}, on=1)  # E: arg-type
    await products.upsert({"sku": "x"}, update=Product.sku)  # E: arg-type
    await products.upsert(Order(), on=["sku"])  # E: arg-type
    await products.upsert_many(Product(), on=["sku"])  # E: arg-type
    upserted: Product = await products.upsert_many([{"sku": "x"}])  # E: assignment
    await products.get_or_create(Product(), on=["sku"])  # E: arg-type
    await products.get_or_create({"sku": "x"}, on=["sku"], defaults=["x"])  # E: arg-type
    product: Product = await products.get_or_create({"sku": "x"}, on=["sku"])  # E: assignment
    pair = await products.get_or_create({"sku": "x"}, on="sku")
    print(pair.sku)  # E: attr-defined
    await products.update_where(Product.sku == "x")  # E: call-overload
    await products.update_where(Product.sku == "x", values=["price_cents"])  # E: call-overload
    await products.update_where(Product.sku == "x", values="price_cents=1")  # E: call-overload
    await products.update_where(values={1: 2})  # E: dict-item
    matched: bool = await orders.update_where(Order.id == 1, values={"id": 2})  # E: assignment
    await products.delete_where(Product.sku)  # E: arg-type
    deleted: list[Product] = await products.delete_where(Product.sku == "x")  # E: assignment
    print(created, loaded, upserted, product, matched, deleted)


async def misused_helpers(products: ProductRepository, user: User) -> None:
    async with products.translate_errors():  # E: attr-defined, attr-defined
        pass
    with products.translate_errors() as nothing:
        print(nothing.args)  # E: attr-defined
    with products.translate_errors:  # E: attr-defined, attr-defined
        pass
    NAMING_CONVENTION["pk"] = "pk_%(table_name)s"  # E: index
    await user.awaitable_attrs  # E: misc
    email: str = user.awaitable_attrs.email  # E: assignment
    Page[Product]([Order()], 1, 1, 0)  # E: list-item
    CursorPage[Product]([], 1, False)  # E: arg-type
    print(email)


async def misused_transactions(
    products: ProductRepository, sessions: async_sessionmaker[AsyncSession]
) -> None:
    unit_of_work(sessions, isolation_level="SNAPSHOT")  # E: arg-type
    unit_of_work(sessions, read_only="yes")  # E: arg-type
    with unit_of_work(sessions):  # E: attr-defined, attr-defined
        pass
    unit_of_work(async_sessionmaker)  # E: arg-type
    await products.get(1, for_update="share")  # E: arg-type
    await products.list(for_update="skip")  # E: arg-type

    async def count(session: AsyncSession) -> int:
        return await ProductRepository(session).count()

    total: str = await run_in_transaction(sessions, count)  # E: arg-type
    await run_in_transaction(sessions, count, retries="3")  # E: arg-type
    await run_in_transaction(sessions, ProductRepository)  # E: arg-type
    print(total)


class ProductPatch(BaseModel):
    price_cents: int | None = None


async def misused_pydantic_input(products: ProductRepository) -> None:
    await products.create(ProductPatch)  # E: arg-type
    await products.update(1, ProductPatch)  # E: arg-type
    await products.upsert(ProductPatch, on=["sku"])  # E: arg-type
    await products.update(1, ProductPatch(), ProductPatch())  # E: call-arg


def misused_settings(factory: EngineFactory) -> None:
    DatabaseSettings(pool_size="5")  # E: arg-type
    DatabaseSettings(pool_timeout="30")  # E: arg-type
    DatabaseSettings(pool_pre_ping="yes")  # E: arg-type
    DatabaseSettings(poolsize=5)  # E: call-arg
    DatabaseSettings("sqlite+aiosqlite://")  # E: call-arg
    DatabaseSettings(_env_file=1)  # E: arg-type
    settings = DatabaseSettings()
    url: str = settings.url  # E: assignment
    size: str = settings.pool_size  # E: assignment
    EngineFactory.from_settings("sqlite+aiosqlite://")  # E: arg-type
    EngineFactory.from_settings(PoolConfig())  # E: arg-type
    EngineFactory.from_settings(settings, echo=True)  # E: call-arg
    twin: AsyncEngine = factory.create_engine()  # E: assignment
    EngineFactory("sqlite+aiosqlite://", connect_args=[("timeout", 1)])  # E: arg-type
    EngineFactory("sqlite+aiosqlite://", engine_options={1: True})  # E: dict-item
    print(url, size, twin)


# mypy does not check the metadata of Annotated[...]: the dependency is named first.
provide_customers = repository(User)  # E: type-var
Customers = Annotated[User, Depends(provide_customers)]


def misused_integrations(users: UserRepository, factory: EngineFactory) -> None:
    repository(User)  # E: type-var
    repository(users)  # E: arg-type
    lifespan("sqlite+aiosqlite://")  # E: arg-type
    add_exception_handlers(factory)  # E: arg-type
    run_migrations("sqlite+aiosqlite://")  # E: arg-type
    run_migrations(MisuseBase.metadata, "sqlite+aiosqlite://")  # E: call-arg


class Note(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, MisuseBase):
    __tablename__ = "misuse_notes"

    title: Mapped[str] = mapped_column(String(50))


class NoteRepository(Repository[Note, uuid.UUID]):
    pass


async def misused_model_toolkit(notes: NoteRepository, note: Note) -> None:
    await notes.get(5)  # E: arg-type
    await notes.restore("x")  # E: arg-type
    await notes.list(include_deleted="yes")  # E: arg-type
    note.id = 5  # E: assignment
    note.created_at = None  # E: assignment
