"""Pydantic models as write input: create, create_many, upsert, and update as a PATCH."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sqla_repo import InvalidFieldError, NotNullViolationError, User, UserRepository
from tests.models import Product, ProductRepository


class ProductIn(BaseModel):
    sku: str
    name: str
    price_cents: int = 250  # a schema default: written like a given value
    stock: int = 0


class UserIn(BaseModel):
    email: str
    name: str | None = None


class UserPatch(BaseModel):
    email: str | None = None
    name: str | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str | None


class WithPassword(BaseModel):
    email: str
    password: str


async def _count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Product))).scalar_one()


async def test_create_takes_every_field_defaults_included(session: AsyncSession) -> None:
    product = await ProductRepository(session).create(ProductIn(sku="p-1", name="Pen"))
    assert (product.sku, product.name, product.price_cents, product.stock) == ("p-1", "Pen", 250, 0)
    row = (await session.execute(select(Product.price_cents).where(Product.sku == "p-1"))).one()
    assert row.price_cents == 250


async def test_create_many_mixes_models_and_mappings(
    session: AsyncSession, statements: list[str]
) -> None:
    repo = ProductRepository(session)
    statements.clear()
    created = await repo.create_many(
        [
            ProductIn(sku="m-1", name="One"),
            {"sku": "m-2", "name": "Two", "price_cents": 1},
            ProductIn(sku="m-3", name="Three", stock=4),
        ]
    )
    assert [(p.sku, p.price_cents, p.stock) for p in created] == [
        ("m-1", 250, 0),
        ("m-2", 1, 0),
        ("m-3", 250, 4),
    ]
    assert (
        await repo.create_many(
            (ProductIn(sku=f"n-{i}", name="N") for i in range(3)), returning=False
        )
        == 3
    )
    assert await _count(session) == 6


async def test_upsert_takes_a_model(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    first = await repo.upsert(ProductIn(sku="u-1", name="Old", stock=1), on="sku")
    second = await repo.upsert(ProductIn(sku="u-1", name="New", stock=2), on="sku")
    assert second.id == first.id
    assert (second.name, second.stock) == ("New", 2)
    assert await _count(session) == 1


async def test_unknown_model_field_is_refused_before_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    statements.clear()
    with pytest.raises(InvalidFieldError, match="password"):
        await UserRepository(session).create(WithPassword(email="a@x.io", password="pw"))
    with pytest.raises(InvalidFieldError, match="password"):
        await UserRepository(session).create_many([WithPassword(email="b@x.io", password="pw")])
    with pytest.raises(InvalidFieldError, match="password"):
        await UserRepository(session).upsert(WithPassword(email="c@x.io", password="pw"))
    assert statements == []


async def test_patch_leaves_omitted_fields_and_writes_explicit_null(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        user = await UserRepository(session).create(UserIn(email="ada@x.io", name="Ada"))
    async with sessions.begin() as session:
        patched = await UserRepository(session).update(user.id, UserPatch(email="ada@y.io"))
        assert (patched.email, patched.name) == ("ada@y.io", "Ada")
    async with sessions.begin() as session:
        patched = await UserRepository(session).update(user.id, UserPatch(name=None))
        assert (patched.email, patched.name) == ("ada@y.io", None)
    async with sessions() as session:
        stored = (await session.execute(select(User.email, User.name))).one()
        assert tuple(stored) == ("ada@y.io", None)


async def test_patch_with_nothing_set_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    async with sessions.begin() as session:
        user = await UserRepository(session).create(UserIn(email="bob@x.io", name="Bob"))
    statements.clear()
    async with sessions.begin() as session:
        same = await UserRepository(session).update(user.id, UserPatch())
        assert (same.email, same.name) == ("bob@x.io", "Bob")
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]


async def test_patch_fields_on_top(session: AsyncSession) -> None:
    user = await UserRepository(session).create(UserIn(email="cy@x.io", name="Cy"))
    patched = await UserRepository(session).update(user.id, UserPatch(name="Cyd"), name="Cyril")
    assert patched.name == "Cyril"


async def test_patch_null_into_not_null_column(session: AsyncSession) -> None:
    user = await UserRepository(session).create(UserIn(email="dee@x.io"))
    with pytest.raises(NotNullViolationError):
        await UserRepository(session).update(user.id, UserPatch(email=None))


async def test_patch_refuses_key_and_unknown_fields_before_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    class KeyPatch(BaseModel):
        id: int | None = None
        name: str | None = None

    user = await UserRepository(session).create(UserIn(email="eve@x.io"))
    statements.clear()
    with pytest.raises(InvalidFieldError, match="id"):
        await UserRepository(session).update(user.id, KeyPatch(id=5))
    with pytest.raises(InvalidFieldError, match="password"):
        await UserRepository(session).update(user.id, WithPassword(email="e@x.io", password="p"))
    assert statements == []
    # an unset key field contributes nothing
    assert (await UserRepository(session).update(user.id, KeyPatch(name="Eve"))).name == "Eve"


async def test_output_validates_from_attributes_after_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        user = await UserRepository(session).create(UserIn(email="fay@x.io", name="Fay"))
    out = UserOut.model_validate(user)  # loaded after commit: no lazy load
    assert out == UserOut(id=user.id, email="fay@x.io", name="Fay")
    with pytest.raises(pydantic.ValidationError):
        UserOut.model_validate({"id": "x"})
