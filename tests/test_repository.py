"""Repository[ModelT, PkT]: model binding, CRUD on every backend, checks before SQL."""

from __future__ import annotations

from typing import Any, Generic

import pytest
from sqlalchemy import Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from typing_extensions import TypeVar

from sqla_repo import (
    InvalidFieldError,
    NotFoundError,
    Repository,
    User,
    UserRepository,
)
from tests.models import Order, Product, ProductRepository, TagRepository

M = TypeVar("M")


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


# --- binding the model from the type parameter --------------------------------------


def test_model_is_read_from_the_type_parameter() -> None:
    class Products(Repository[Product]):
        pass

    class Users(Repository[User, int]):
        pass

    assert Products._model is Product
    assert Users._model is User


def test_subclass_of_a_bound_repository_keeps_its_model() -> None:
    class SpecialProducts(ProductRepository):
        pass

    assert SpecialProducts._model is Product


def test_generic_intermediate_repository_binds_later() -> None:
    class Audited(Repository[M], Generic[M]):
        def describe(self) -> str:
            return f"audited {self.model.__name__}"

    class AuditedProducts(Audited[Product]):
        pass

    assert AuditedProducts._model is Product
    with pytest.raises(TypeError, match="generic"):
        Audited(None)  # type: ignore[arg-type]  # never reaches the session


def test_repository_without_a_model_fails_at_definition() -> None:
    with pytest.raises(TypeError, match=r"Repository\[YourModel\]"):

        class Bare(Repository):  # type: ignore[type-arg]  # no model: the point of the test
            pass


class _NotMapped:
    pass


class _AbstractBase(DeclarativeBase):
    pass


@pytest.mark.parametrize("model", [_NotMapped, int, _AbstractBase, "Product"], ids=repr)
def test_repository_over_an_unmapped_type_fails_at_definition(model: Any) -> None:
    with pytest.raises(TypeError, match="mapped class"):

        class Broken(Repository[model]):  # runtime-only check: model is Any here
            pass


def test_repository_itself_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError, match="generic"):
        Repository(None)  # type: ignore[arg-type]  # never reaches the session


# --- works with models on any DeclarativeBase ---------------------------------------


class OtherBase(DeclarativeBase):
    pass


class Note(OtherBase):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(String(200))


class NoteRepository(Repository[Note, int]):
    pass


async def test_any_declarative_base(engine: AsyncEngine, session: AsyncSession) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(OtherBase.metadata.drop_all)
        await connection.run_sync(OtherBase.metadata.create_all)
    try:
        repo = NoteRepository(session)
        note = await repo.create({"body": "hello"})
        await session.commit()
        assert [n.body for n in await repo.list()] == ["hello"]
        assert await repo.get(note.id) is note
    finally:
        await session.close()
        async with engine.begin() as connection:
            await connection.run_sync(OtherBase.metadata.drop_all)


# --- get ---------------------------------------------------------------------------------


async def test_get_returns_the_object_or_none(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        created = await ProductRepository(session).create({"sku": "p1", "name": "One"})
    async with sessions() as session:
        found = await ProductRepository(session).get(created.id)
        assert found is not None
        assert (found.id, found.sku, found.name) == (created.id, "p1", "One")
        assert await ProductRepository(session).get(created.id + 1000) is None


async def test_get_uses_the_identity_map_first(
    session: AsyncSession, statements: list[str]
) -> None:
    repo = ProductRepository(session)
    product = await repo.create({"sku": "p1", "name": "One"})
    statements.clear()
    assert await repo.get(product.id) is product
    assert statements == []


async def test_get_by_composite_primary_key(session: AsyncSession) -> None:
    repo = TagRepository(session)
    await repo.create({"scope": "shop", "name": "sale", "label": "Sale"})
    await session.commit()
    session.expunge_all()
    tag = await repo.get(("shop", "sale"))
    assert tag is not None
    assert tag.label == "Sale"
    assert await repo.get(("shop", "other")) is None


# --- list ------------------------------------------------------------------------------


@pytest.fixture
async def catalog(session: AsyncSession) -> list[Product]:
    repo = ProductRepository(session)
    rows = [
        ("c", "Cherry", 300),
        ("a", "Apple", 100),
        ("d", "Date", 100),
        ("b", "Banana", 200),
    ]
    created = [
        await repo.create({"sku": sku, "name": name, "price_cents": price})
        for sku, name, price in rows
    ]
    await session.commit()
    return created


async def test_list_defaults_to_primary_key_order(
    session: AsyncSession, catalog: list[Product]
) -> None:
    listed = await ProductRepository(session).list()
    assert [p.id for p in listed] == sorted(p.id for p in catalog)
    assert [p.sku for p in listed] == ["c", "a", "d", "b"]


async def test_list_filters_with_expressions(session: AsyncSession, catalog: list[Product]) -> None:
    repo = ProductRepository(session)
    cheap = await repo.list(Product.price_cents <= 200, Product.sku != "a")
    assert sorted(p.sku for p in cheap) == ["b", "d"]
    assert await repo.list(Product.sku == "nope") == []


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("sku", ["a", "b", "c", "d"]),
        (Product.name, ["a", "b", "c", "d"]),
        (Product.sku.desc(), ["d", "c", "b", "a"]),
        ([Product.price_cents, Product.sku.desc()], ["d", "a", "b", "c"]),
        (["price_cents", "sku"], ["a", "d", "b", "c"]),
    ],
    ids=["name", "attribute", "desc", "mixed-sequence", "names"],
)
async def test_list_order_by(
    session: AsyncSession, catalog: list[Product], order_by: Any, expected: list[str]
) -> None:
    listed = await ProductRepository(session).list(order_by=order_by)
    assert [p.sku for p in listed] == expected


async def test_list_filters_on_a_boolean_column(
    session: AsyncSession, catalog: list[Product]
) -> None:
    repo = ProductRepository(session)
    await repo.update(catalog[0].id, active=False)
    assert sorted(p.sku for p in await repo.list(Product.active)) == ["a", "b", "d"]
    assert [p.sku for p in await repo.list(~Product.active)] == ["c"]


async def test_list_orders_by_expressions_over_its_own_columns(
    session: AsyncSession, catalog: list[Product]
) -> None:
    listed = await ProductRepository(session).list(order_by=[func.lower(Product.name).desc()])
    assert [p.sku for p in listed] == ["d", "c", "b", "a"]


async def test_list_limit_and_offset(session: AsyncSession, catalog: list[Product]) -> None:
    repo = ProductRepository(session)
    assert [p.sku for p in await repo.list(order_by="sku", limit=2)] == ["a", "b"]
    assert [p.sku for p in await repo.list(order_by="sku", limit=2, offset=1)] == ["b", "c"]
    assert [p.sku for p in await repo.list(order_by="sku", offset=3)] == ["d"]
    assert await repo.list(order_by="sku", limit=0) == []
    assert await repo.list(order_by="sku", offset=10) == []


@pytest.mark.parametrize(
    "order_by",
    [
        "nope",
        "orders",  # a relationship, not a column
        "sku; DROP TABLE products",
        "sku DESC",
        Order.quantity,  # another model's column
        Order.quantity.desc(),
        [Product.sku, func.lower(Order.product_id.cast(String))],
        Product.orders,
        42,
    ],
    ids=[
        "unknown",
        "relationship",
        "injection",
        "sql-text",
        "other-model",
        "other-model-desc",
        "other-model-expression",
        "rel-attr",
        "int",
    ],
)
async def test_list_rejects_bad_order_keys_before_sql(
    session: AsyncSession, catalog: list[Product], statements: list[str], order_by: Any
) -> None:
    statements.clear()
    with pytest.raises(InvalidFieldError):
        await ProductRepository(session).list(order_by=order_by)
    assert statements == []
    assert await _count(session, Product) == 4  # nothing dropped


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (None, -1)])
async def test_list_rejects_negative_windows_before_sql(
    session: AsyncSession, statements: list[str], limit: int | None, offset: int
) -> None:
    with pytest.raises(InvalidFieldError):
        await ProductRepository(session).list(limit=limit, offset=offset)
    assert statements == []


# --- create ------------------------------------------------------------------------------


async def test_create_from_instance_and_mapping(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        repo = ProductRepository(session)
        from_instance = await repo.create(Product(sku="i", name="Instance"))
        from_mapping = await repo.create({"sku": "m", "name": "Mapping", "stock": 3})
        # flushed: keys and defaults are set before commit
        assert isinstance(from_instance.id, int)
        assert isinstance(from_mapping.id, int)
        assert from_instance.id != from_mapping.id
        assert from_instance.price_cents == 0
    async with sessions() as session:
        rows = (await session.execute(select(Product.sku, Product.stock).order_by("sku"))).all()
    assert [tuple(r) for r in rows] == [("i", 0), ("m", 3)]


async def test_create_loads_server_defaults(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        product = await ProductRepository(session).create({"sku": "s", "name": "Server"})
    # loaded during create: reading it now needs no IO (a lazy load would fail here)
    assert product.status == "new"


async def test_update_with_a_sql_expression_loads_the_result(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        product = await ProductRepository(session).create({"sku": "e", "name": "E", "stock": 5})
    async with sessions.begin() as session:
        updated = await ProductRepository(session).update(product.id, stock=Product.stock - 2)
    assert updated.stock == 3
    async with sessions() as session:
        assert (await session.execute(select(Product.stock))).scalar_one() == 3


async def test_create_with_a_natural_key(session: AsyncSession) -> None:
    tag = await TagRepository(session).create({"scope": "blog", "name": "news"})
    await session.commit()
    assert (tag.scope, tag.name) == ("blog", "news")


async def test_create_rejects_unknown_fields_before_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    with pytest.raises(InvalidFieldError, match="emial"):
        await UserRepository(session).create({"emial": "a@example.com"})
    assert statements == []
    assert await _count(session, User) == 0


async def test_create_rejects_another_model(session: AsyncSession, statements: list[str]) -> None:
    with pytest.raises(TypeError, match="Product"):
        await ProductRepository(session).create(User(email="a@example.com"))  # type: ignore[arg-type]  # the point of the test
    assert statements == []


async def test_repository_flushes_but_never_commits(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    product = await repo.create({"sku": "tmp", "name": "Temporary"})
    await repo.update(product.id, name="Changed")
    await session.rollback()
    assert await _count(session, Product) == 0


# --- update ------------------------------------------------------------------------------


async def test_update_merges_mapping_and_keywords(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        product = await ProductRepository(session).create({"sku": "u", "name": "Before"})
    async with sessions.begin() as session:
        updated = await ProductRepository(session).update(
            product.id, {"name": "Mapping", "stock": 5}, name="Keyword"
        )
        assert (updated.name, updated.stock) == ("Keyword", 5)
    async with sessions() as session:
        row = (await session.execute(select(Product.name, Product.stock))).one()
    assert tuple(row) == ("Keyword", 5)


@pytest.mark.parametrize(
    ("changes", "fields", "message"),
    [
        ({"nmae": "x"}, {}, "nmae"),
        ({}, {"nmae": "x"}, "nmae"),
        ({"id": 1}, {}, "primary key"),
        ({}, {"id": 999}, "primary key"),
    ],
    ids=["unknown-mapping", "unknown-keyword", "same-primary-key", "new-primary-key"],
)
async def test_update_rejects_bad_fields_before_sql(
    session: AsyncSession,
    statements: list[str],
    changes: dict[str, Any],
    fields: dict[str, Any],
    message: str,
) -> None:
    repo = ProductRepository(session)
    product = await repo.create({"sku": "u", "name": "Before"})
    await session.commit()
    product_id = product.id
    changes = {k: product_id if v == 1 else v for k, v in changes.items()}
    statements.clear()
    with pytest.raises(InvalidFieldError, match=message):
        await repo.update(product_id, changes, **fields)
    assert statements == []
    await session.rollback()
    session.expunge_all()
    stored = await repo.get(product_id)
    assert stored is not None
    assert stored.name == "Before"


async def test_update_rejects_composite_key_parts(session: AsyncSession) -> None:
    repo = TagRepository(session)
    await repo.create({"scope": "a", "name": "b"})
    with pytest.raises(InvalidFieldError, match="primary key"):
        await repo.update(("a", "b"), scope="c")


async def test_update_missing_row_raises_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError) as raised:
        await ProductRepository(session).update(12345, name="x")
    assert isinstance(raised.value, LookupError)


async def test_update_rejects_non_mapping_changes(session: AsyncSession) -> None:
    with pytest.raises(TypeError):
        await ProductRepository(session).update(1, [("name", "x")])  # type: ignore[arg-type]  # the point of the test


# --- delete ------------------------------------------------------------------------------


async def test_delete_removes_the_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        keep = await ProductRepository(session).create({"sku": "keep", "name": "Keep"})
        gone = await ProductRepository(session).create({"sku": "gone", "name": "Gone"})
    async with sessions.begin() as session:
        await ProductRepository(session).delete(gone.id)
    async with sessions() as session:
        assert [p.id for p in await ProductRepository(session).list()] == [keep.id]


async def test_delete_missing_row_raises_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError, match="12345"):
        await ProductRepository(session).delete(12345)


# --- UserRepository ------------------------------------------------------------------------


async def test_user_repository_get_by_email(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        ada = await UserRepository(session).create({"email": "ada@example.com", "name": "Ada"})
        await UserRepository(session).create({"email": "bob@example.com"})
    async with sessions() as session:
        users = UserRepository(session)
        found = await users.get_by_email("ada@example.com")
        assert found is not None
        assert (found.id, found.name) == (ada.id, "Ada")
        assert await users.get_by_email("nobody@example.com") is None
        bob = await users.get_by_email("bob@example.com")
        assert bob is not None
        assert bob.name is None


# --- units of work -----------------------------------------------------------------------


async def test_unit_of_work_that_raises_writes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await ProductRepository(session).create({"sku": "before", "name": "Committed"})

    async def unit_of_work() -> None:
        async with sessions.begin() as session:
            repo = ProductRepository(session)
            await repo.create({"sku": "x1", "name": "Lost"})
            await repo.update((await repo.list(Product.sku == "before"))[0].id, name="Changed")
            await repo.create({"sku": "x2", "name": "Lost"})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await unit_of_work()

    async with sessions() as session:
        rows = (await session.execute(select(Product.sku, Product.name))).all()
    assert [tuple(r) for r in rows] == [("before", "Committed")]
