"""The [T] value checks on four backends: bad values, keys and windows refused before any SQL.

Every refusal is an :class:`InvalidFieldError` naming the model and field and never
the value, raised before a single statement is sent, with the table left unchanged.
The accepting side stores the boundary values and reads them back.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from sqla_repo import InvalidFieldError, NotNullViolationError, UserRepository
from tests.models import (
    Color,
    Gauge,
    GaugeRepository,
    Note,
    NoteRepository,
    Product,
    ProductRepository,
    Shop,
    TagRepository,
)

Call = Callable[[], Awaitable[object]]


async def _refused(
    statements: list[str], call: Call, field: str, secret: str | None
) -> InvalidFieldError:
    """Run ``call``: it must raise InvalidFieldError naming ``field``, without ``secret``
    (the value's text) in its message or arguments, before any SQL."""
    statements.clear()
    with pytest.raises(InvalidFieldError) as raised:
        await call()
    assert statements == [], f"{field}: SQL was sent"
    message = str(raised.value)
    assert field in message
    if secret is not None:
        assert secret not in message, message
        assert secret not in repr(raised.value.args), message
    return raised.value


async def _count(session: AsyncSession, model: type[Shop]) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


# --- bad values -------------------------------------------------------------------------------

PRODUCT = {"id": 1, "sku": "ok-1", "name": "Fine"}
GAUGE = {"id": 1}

# (model, field, value, the value's text that must not appear; None where the message
# names the kind of value on purpose: NaN, infinity)
BAD_VALUES: list[tuple[type[Shop], str, Any, str | None]] = [
    (Product, "stock", 2**31, "2147483648"),
    (Product, "stock", -(2**31) - 1, "2147483649"),
    (Product, "stock", 2**70, str(2**70)),
    (Product, "stock", "4242", "4242"),
    (Product, "stock", 42.5, "42.5"),
    (Product, "stock", Decimal(4242), "4242"),
    (Product, "active", 1, None),  # Boolean takes a bool
    (Product, "name", "Z" * 101, "ZZZ"),
    (Product, "name", "Secret\ud800", "Secret"),  # a lone surrogate is not UTF-8
    (Product, "name", "Secret\x00tail", "Secret"),
    (Product, "name", b"Secret", "Secret"),
    (Product, "name", 4242, "4242"),
    (Gauge, "small", 2**15, "32768"),
    (Gauge, "big", 2**63, str(2**63)),
    (Gauge, "big", -(2**63) - 1, str(2**63 + 1)),
    (Gauge, "ratio", math.nan, None),
    (Gauge, "ratio", math.inf, None),
    (Gauge, "ratio", -math.inf, None),
    (Gauge, "ratio", 4.25e38, "4.25e+38"),  # beyond single precision (MySQL's FLOAT)
    (Gauge, "ratio", Decimal("NaN"), None),
    (Gauge, "ratio", "4.25", "4.25"),
    (Gauge, "precise", math.nan, None),
    (Gauge, "amount", Decimal("123456.78"), "123456"),
    (Gauge, "amount", 9999.995, "9999.995"),  # rounds to 10000.00: no longer Numeric(6, 2)
    (Gauge, "amount", Decimal("-Infinity"), None),
    (Gauge, "code", "é" * 9, "éé"),
    (Gauge, "flag", "yes", "yes"),
    (Gauge, "day", "2024-05-06", "2024-05-06"),
    (Gauge, "at", date(2024, 5, 6), "2024"),
    (Gauge, "clock", "10:11:12", "10:11:12"),
    (Gauge, "color", "purple", "purple"),
    (Gauge, "color", "r", "'r'"),  # a value, not the name stored
    (Gauge, "blob", "Secret", "Secret"),
    (Gauge, "token", "6d1c87a1-1c49-4d25-9f1f-2b2b7b1ac0de", "6d1c87a1"),
]


def _bad_calls(model: type[Shop], field: str, value: Any, session: AsyncSession) -> list[Call]:
    """Every write that takes the value, from a mapping and from an instance."""
    base = PRODUCT if model is Product else GAUGE
    repo: Any = ProductRepository(session) if model is Product else GaugeRepository(session)
    values = {**base, field: value}
    other = {**base, "id": 2, **({"sku": "ok-2"} if model is Product else {})}
    # a column of many values, some NULL, the bad one among them (checked a column at a time)
    many = [
        {**base, "id": 10 + i, field: None, **({"sku": f"ok-{10 + i}"} if model is Product else {})}
        for i in range(40)
    ]
    return [
        lambda: repo.create_many([other, values], returning=False),
        lambda: repo.create_many([*many, values, *many]),
        lambda: repo.upsert_many([*many[:20], values]),
        lambda: repo.create(values),
        lambda: repo.create(model(**values)),
        lambda: repo.create_many([other, values]),
        lambda: repo.create_many([model(**other), model(**values)]),
        lambda: repo.upsert(values),
        lambda: repo.upsert_many([other, values]),
        lambda: repo.get_or_create(values),
        lambda: repo.get_or_create({"id": 3}, defaults={field: value}),
        lambda: repo.update(1, {field: value}),
        lambda: repo.update_where(true(), values={field: value}),
    ]


async def test_bad_values_are_refused_before_any_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    for model, field, value, secret in BAD_VALUES:
        for call in _bad_calls(model, field, value, session):
            await _refused(statements, call, f"{model.__name__}.{field}", secret)
    assert not session.new
    assert await _count(session, Product) == 0
    assert await _count(session, Gauge) == 0


async def test_messages_say_what_is_wrong(session: AsyncSession, statements: list[str]) -> None:
    products = ProductRepository(session)
    gauges = GaugeRepository(session)
    expected: list[tuple[Call, str]] = [
        (
            lambda: products.create({**PRODUCT, "stock": 2**31}),
            "Product.stock: expects an integer in -2**31..2**31-1",
        ),
        (
            lambda: products.create({**PRODUCT, "name": "Z" * 101}),
            "Product.name: text longer than String(100)",
        ),
        (
            lambda: products.create({**PRODUCT, "name": "\udfff"}),
            "Product.name: text that is not valid UTF-8",
        ),
        (
            lambda: gauges.create({"ratio": math.nan}),
            "Gauge.ratio: NaN is not a number its column can hold",
        ),
        (
            lambda: gauges.create({"ratio": -math.inf}),
            "Gauge.ratio: infinity is not a number its column can hold",
        ),
        (lambda: gauges.create({"big": 2**63}), "Gauge.big: expects an integer in -2**63..2**63-1"),
        (
            lambda: gauges.create({"amount": 10**4}),
            "Gauge.amount: a number outside the range of Numeric(6, 2)",
        ),
        (
            lambda: gauges.create({"color": "r"}),
            "Gauge.color: expects a Color member or one of RED, GREEN, BLUE",
        ),
        (lambda: gauges.create({"flag": 0}), "Gauge.flag: expects a bool"),
        (lambda: gauges.create({"token": "x"}), "Gauge.token: expects a uuid.UUID"),
    ]
    for call, text in expected:
        err = await _refused(statements, call, text.split(":")[0], None)
        assert str(err) == text


async def test_sql_expressions_and_json_are_not_checked(session: AsyncSession) -> None:
    products = ProductRepository(session)
    product = await products.create({"sku": "expr", "name": func.upper("named")})
    assert product.name == "NAMED"
    await products.update(product.id, stock=Product.stock + (2**31 - 1))
    assert product.stock == 2**31 - 1
    assert (
        await products.update_where(Product.id == product.id, values={"stock": Product.stock - 1})
        == 1
    )
    assert product.stock == 2**31 - 2
    gauge = await GaugeRepository(session).create({"extra": {"any": [1, "thing", None]}})
    await session.commit()
    session.expunge_all()
    stored = await GaugeRepository(session).get_one(gauge.id)
    assert stored.extra == {"any": [1, "thing", None]}


# --- accepted values --------------------------------------------------------------------------


async def test_boundary_values_are_stored_and_read_back(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    token = uuid.uuid4()
    # aiomysql cannot send bytes with the installed PyMySQL (it imports a converter
    # that PyMySQL 1.2 replaced by a placeholder string)
    blob = None if backend == "mysql" else b"\x00\xff"
    async with sessions() as session:
        products = ProductRepository(session)
        await products.create({"sku": "high", "name": "é" * 100, "stock": 2**31 - 1})
        await products.create_many([{"sku": "low", "name": "n" * 100, "stock": -(2**31)}])
        await products.upsert({"id": 10, "sku": "up", "name": "ü" * 100, "stock": 7})
        await products.update(10, stock=2**31 - 1)
        await products.update_where(Product.sku == "low", values={"price_cents": 2**31 - 1})
        gauges = GaugeRepository(session)
        await gauges.create_many(
            [
                Gauge(
                    id=1,
                    small=2**15 - 1,
                    big=2**63 - 1,
                    ratio=3.4e38,
                    precise=1.5e308,
                    amount=Decimal("9999.99"),
                    code="é" * 8,
                    body="€" * 1000,
                    flag=False,
                    day=datetime(2024, 5, 6, 7, 8),  # a datetime is a date: stored as one
                    at=datetime(2024, 5, 6, 7, 8, 9),
                    clock=time(7, 8, 9),
                    color=Color.GREEN,
                    blob=blob,
                    token=token,
                ),
                {"id": 2, "small": -(2**15), "big": -(2**63), "amount": -9999.99},
                {"id": 3, "color": "BLUE", "ratio": -3.4e38, "amount": 9999.994},
            ]
        )
        await session.commit()
    async with sessions() as session:
        rows = await ProductRepository(session).list(order_by="sku")
        assert [(p.sku, p.name, p.stock, p.price_cents) for p in rows] == [
            ("high", "é" * 100, 2**31 - 1, 0),
            ("low", "n" * 100, -(2**31), 2**31 - 1),
            ("up", "ü" * 100, 2**31 - 1, 0),
        ]
        first, second, third = await GaugeRepository(session).list()
        assert (first.small, first.big, second.small, second.big) == (
            2**15 - 1,
            2**63 - 1,
            -(2**15),
            -(2**63),
        )
        assert first.ratio == pytest.approx(3.4e38, rel=1e-6)
        assert third.ratio == pytest.approx(-3.4e38, rel=1e-6)
        assert first.precise == 1.5e308
        assert (first.amount, second.amount) == (9999.99, -9999.99)
        assert third.amount == pytest.approx(9999.99, abs=0.005)  # SQLite does not round
        assert (first.code, first.body, first.flag) == ("é" * 8, "€" * 1000, False)
        assert (first.day, first.at, first.clock) == (
            date(2024, 5, 6),
            datetime(2024, 5, 6, 7, 8, 9),
            time(7, 8, 9),
        )
        assert (first.color, third.color) == (Color.GREEN, Color.BLUE)
        assert (first.blob, first.token) == (blob, token)


# --- keys and windows -------------------------------------------------------------------------


async def test_keys_a_column_cannot_hold_are_refused_before_any_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    products = ProductRepository(session)
    await products.create(PRODUCT)
    await session.commit()

    def lookups(key: Any) -> list[Call]:
        return [
            lambda: products.get(key),
            lambda: products.get(key, options=[selectinload(Product.orders)]),
            lambda: products.get_one(key),
            lambda: products.get_many([1, key]),
            lambda: products.update(key, name="Changed"),
            lambda: products.delete(key),
        ]

    for key, secret in [(2**70, str(2**70)), ("abc", "abc"), (2**31, "2147483648"), (1.0, "1.0")]:
        for call in lookups(key):
            await _refused(statements, call, "Product.id", secret)
    tags = TagRepository(session)
    long_scope = ("s" * 21, "name")
    await _refused(statements, lambda: tags.get(long_scope), "Tag.scope", "sss")
    await _refused(statements, lambda: tags.get_many([long_scope]), "Tag.scope", "sss")
    await _refused(statements, lambda: UserRepository(session).get(2**63), "User.id", str(2**63))
    assert [(p.id, p.name) for p in await products.list()] == [(1, "Fine")]


async def test_keys_at_the_boundaries_are_looked_up(
    session: AsyncSession, statements: list[str]
) -> None:
    statements.clear()
    assert await ProductRepository(session).get(2**31 - 1) is None
    assert await ProductRepository(session).get_many([-(2**31), 2**31 - 1]) == {}
    assert await TagRepository(session).get(("é" * 20, "n" * 40)) is None
    assert await UserRepository(session).get(2**63 - 1) is None
    assert len(statements) == 4


async def test_windows_outside_their_range_are_refused_before_any_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    products = ProductRepository(session)

    async def streamed(batch_size: int) -> list[Product]:
        return [p async for p in products.stream(batch_size=batch_size)]

    for call, name in [
        (lambda: products.list(limit=2**70), "limit"),
        (lambda: products.list(offset=2**70), "offset"),
        (lambda: products.list(limit=-1), "limit"),
        (lambda: products.list(limit=True), "limit"),
        (lambda: products.page(limit=2**70), "limit"),
        (lambda: products.page(offset=-1), "offset"),
        (lambda: products.paginate(limit=0), "limit"),
        (lambda: products.paginate(limit=2**70), "limit"),
        (lambda: streamed(0), "batch_size"),
        (lambda: streamed(2**70), "batch_size"),
    ]:
        await _refused(statements, call, name, None)


async def test_the_largest_windows_are_sent(session: AsyncSession) -> None:
    products = ProductRepository(session)
    await products.create(PRODUCT)
    assert [p.id for p in await products.list(limit=2**63 - 1)] == [1]
    assert await products.list(offset=2**63 - 1) == []
    assert (await products.paginate(limit=2**63 - 1)).items[0].id == 1


# --- required fields --------------------------------------------------------------------------


async def test_create_of_nothing_names_a_required_field(session: AsyncSession) -> None:
    with pytest.raises(NotNullViolationError) as raised:
        await UserRepository(session).create({})
    assert "email" in raised.value.columns
    assert "email" in str(raised.value)
    await session.rollback()


async def test_dataclass_constructor_fields_are_checked_before_any_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    notes = NoteRepository(session)
    for call, field in [
        (lambda: notes.create({}), "Note.title"),
        (lambda: notes.create({"body": "Body"}), "Note.title"),
        (lambda: notes.create({"title": "Title", "edits": 3}), "Note.edits"),
        (lambda: notes.create({"title": "Title", "id": 7}), "Note.id"),
        (lambda: notes.create_many([{"title": "Title"}, {"body": "Body"}]), "Note.title"),
        (lambda: notes.create_many([{"title": "Title", "edits": 3}]), "Note.edits"),
        (lambda: notes.upsert({"id": 7, "title": "Title"}), "Note.id"),
        (lambda: notes.create({"title": "T" * 41}), "Note.title"),
        (lambda: notes.create(Note(title="T" * 41)), "Note.title"),
    ]:
        await _refused(statements, call, field, "TTT")
    assert await _count(session, Note) == 0
    created = await notes.create({"title": "Title"})
    assert (created.title, created.body, created.edits) == ("Title", "", 0)
    many = await notes.create_many([{"title": "A"}, {"title": "B", "body": "Body"}])
    assert [(n.title, n.body) for n in many] == [("A", ""), ("B", "Body")]
    assert await _count(session, Note) == 3
