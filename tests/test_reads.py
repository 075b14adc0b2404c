"""The [Q] reads on four backends: get_one, get_many, count, exists, page, paginate, stream."""

from __future__ import annotations

import asyncio
import functools
import inspect as pyinspect
import random
import re
import sys
import tracemalloc
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, func, select, text, true, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload, selectinload, subqueryload

from sqla_repo import (
    CursorPage,
    InvalidCursorError,
    InvalidFieldError,
    NotFoundError,
    Page,
)
from tests.models import (
    Author,
    AuthorRepository,
    Color,
    Label,
    Order,
    OrderRepository,
    Post,
    PostRepository,
    Product,
    ProductRepository,
    Reading,
    ReadingRepository,
    TagRepository,
)

NULLS_LOW = {"sqlite-file": True, "sqlite-memory": True, "mysql": True, "postgresql": False}


async def _products(session: AsyncSession, count: int) -> list[Product]:
    repo = ProductRepository(session)
    created = await repo.create_many(
        [{"sku": f"p{n:05d}", "name": f"Product {n}", "price_cents": n % 7} for n in range(count)]
    )
    await session.commit()
    return created


# --- get_one ------------------------------------------------------------------------------


async def test_get_one_returns_the_object_or_raises(session: AsyncSession) -> None:
    [product] = await _products(session, 1)
    repo = ProductRepository(session)
    assert await repo.get_one(product.id) is product
    with pytest.raises(NotFoundError, match="Product"):
        await repo.get_one(product.id + 1000)
    with pytest.raises(LookupError):
        await repo.get_one(product.id + 1000)


# --- get_many -----------------------------------------------------------------------------


async def test_get_many_returns_the_existing_keys(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        ids = [p.id for p in await _products(session, 5)]
    async with sessions() as session:
        found = await ProductRepository(session).get_many([ids[3], 10_000, ids[0], ids[3]])
        assert list(found) == [ids[3], ids[0]]
        assert found[ids[0]].sku == "p00000"
        assert found[ids[3]].sku == "p00003"


async def test_get_many_of_nothing_sends_no_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    assert await ProductRepository(session).get_many([]) == {}
    assert statements == []


async def test_get_many_takes_held_objects_from_the_identity_map(
    session: AsyncSession, statements: list[str]
) -> None:
    products = await _products(session, 4)
    held = [products[0], products[2]]
    for product in products[1::2]:
        session.expunge(product)
    statements.clear()
    repo = ProductRepository(session)
    found = await repo.get_many([p.id for p in held])
    assert statements == []
    assert [found[p.id] for p in held] == held

    found = await repo.get_many([p.id for p in products])
    assert len(statements) == 1
    assert " IN " in statements[0].upper()
    assert sorted(found) == sorted(p.id for p in products)
    assert found[products[0].id] is products[0]


async def test_get_many_splits_keys_under_the_parameter_limit(
    session: AsyncSession, statements: list[str]
) -> None:
    count = 40_000  # more than one statement may carry on asyncpg or SQLite
    await _products(session, count)
    session.expunge_all()
    ids = (await session.scalars(select(Product.id))).all()
    statements.clear()
    found = await ProductRepository(session).get_many([*ids, -1, -2])
    assert len(found) == count
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert 2 <= len(selects) <= 3


async def test_get_many_with_composite_keys(session: AsyncSession) -> None:
    repo = TagRepository(session)
    await repo.create_many([{"scope": "a", "name": str(n)} for n in range(3)])
    await session.commit()
    session.expunge_all()
    found = await repo.get_many([("a", "0"), ("a", "2"), ("b", "0")])
    assert sorted(found) == [("a", "0"), ("a", "2")]
    assert found[("a", "2")].name == "2"


@pytest.mark.parametrize("key", ["a", ("a",), ("a", "b", "c")], ids=["bare", "short", "long"])
async def test_wrong_key_arity_is_refused_before_sql(
    session: AsyncSession, statements: list[str], key: Any
) -> None:
    repo = TagRepository(session)
    with pytest.raises(InvalidFieldError, match=r"\(scope, name\)"):
        await repo.get_many([key])
    with pytest.raises(InvalidFieldError):
        await repo.get_one(key)
    with pytest.raises(InvalidFieldError):
        await repo.get(key, options=[])
    assert statements == []


async def test_get_many_with_options_loads_them_for_held_objects(
    session: AsyncSession, statements: list[str]
) -> None:
    author = await AuthorRepository(session).create({"name": "ann"})
    await PostRepository(session).create_many(
        [{"author_id": author.id, "slug": f"s{n}", "title": "t"} for n in range(3)]
    )
    await session.commit()
    assert "posts" not in author.__dict__
    found = await AuthorRepository(session).get_many(
        [author.id], options=[selectinload(Author.posts)]
    )
    assert found[author.id] is author
    assert sorted(p.slug for p in author.posts) == ["s0", "s1", "s2"]


# --- count and exists -----------------------------------------------------------------------


async def test_count_and_exists_are_one_statement_each(
    session: AsyncSession, statements: list[str]
) -> None:
    await _products(session, 10)
    repo = ProductRepository(session)
    statements.clear()
    assert await repo.count() == 10
    assert await repo.count(Product.price_cents == 3) == 1
    assert await repo.count(Product.price_cents > 100) == 0
    assert len(statements) == 3
    statements.clear()
    assert await repo.exists() is True
    assert await repo.exists(Product.sku == "p00004") is True
    assert await repo.exists(Product.sku == "nope") is False
    assert len(statements) == 3
    for statement in statements:
        assert "count(" not in statement.lower()
        assert "exists" in statement.lower() or "limit" in statement.lower()


async def test_empty_table_counts_zero(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    assert await repo.count() == 0
    assert await repo.exists() is False


async def test_text_conditions_are_accepted(session: AsyncSession) -> None:
    await _products(session, 3)
    repo = ProductRepository(session)
    assert len(await repo.list(text("1 = 1"))) == 3
    assert await repo.count(text("price_cents >= 1")) == 2
    assert await repo.exists(text("1 = 0")) is False


async def test_a_correlated_subquery_is_fine(session: AsyncSession) -> None:
    products = await _products(session, 3)
    await OrderRepository(session).create({"product_id": products[1].id, "quantity": 5})
    repo = ProductRepository(session)
    found = await repo.list(Product.orders.any(Order.quantity > 1))
    assert [p.id for p in found] == [products[1].id]
    assert await repo.count(~Product.orders.any()) == 2


_CROSS_JOINS = {
    "list": lambda r, c: r.list(c),
    "count": lambda r, c: r.count(c),
    "exists": lambda r, c: r.exists(c),
    "page": lambda r, c: r.page(c),
    "paginate": lambda r, c: r.paginate(c),
    "update_where": lambda r, c: r.update_where(c, values={"name": "x"}),
    "delete_where": lambda r, c: r.delete_where(c),
}


@pytest.mark.parametrize("method", sorted(_CROSS_JOINS))
async def test_a_condition_on_another_table_is_refused(
    session: AsyncSession, statements: list[str], method: str
) -> None:
    repo = ProductRepository(session)
    with pytest.raises(InvalidFieldError, match=r"orders.*\.has\(\.\.\.\)"):
        await _CROSS_JOINS[method](repo, Order.quantity > 1)
    with pytest.raises(InvalidFieldError, match="orders"):
        [p async for p in repo.stream(Order.quantity > 1)]
    assert statements == []


# --- page -------------------------------------------------------------------------------------


async def test_page_counts_every_match(session: AsyncSession, statements: list[str]) -> None:
    await _products(session, 12)
    repo = ProductRepository(session)
    statements.clear()
    page = await repo.page(Product.price_cents != 0, order_by="-sku", limit=4, offset=2)
    assert len(statements) == 1
    assert isinstance(page, Page)
    assert (page.total, page.limit, page.offset) == (10, 4, 2)
    assert [p.sku for p in page.items] == ["p00009", "p00008", "p00006", "p00005"]


@pytest.mark.parametrize(("limit", "offset"), [(5, 100), (0, 0), (0, 3)])
async def test_page_total_past_the_end(session: AsyncSession, limit: int, offset: int) -> None:
    await _products(session, 12)
    page = await ProductRepository(session).page(limit=limit, offset=offset)
    assert page.items == []
    assert page.total == 12


async def test_page_defaults(session: AsyncSession) -> None:
    products = await _products(session, 60)
    page = await ProductRepository(session).page()
    assert (page.total, page.limit, page.offset) == (60, 50, 0)
    assert [p.id for p in page.items] == [p.id for p in products[:50]]
    empty = await ProductRepository(session).page(Product.sku == "none")
    assert (empty.items, empty.total) == ([], 0)


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (10, -1), (2**63, 0), (10, 2**63)])
async def test_page_window_is_checked_before_sql(
    session: AsyncSession, statements: list[str], limit: int, offset: int
) -> None:
    with pytest.raises(InvalidFieldError):
        await ProductRepository(session).page(limit=limit, offset=offset)
    assert statements == []


# --- paginate -----------------------------------------------------------------------------------

Key = tuple[str, bool] | tuple[str, bool, str]
"""(attribute, descending) or (attribute, descending, "first" | "last" for NULLs)."""


ORDERINGS: dict[str, tuple[Any, list[Key]]] = {
    "default": (None, []),
    "int-ties": ("grp", [("grp", False)]),
    "int-ties-desc": ("-grp", [("grp", True)]),
    "nullable-float": ("score", [("score", False)]),
    "nullable-float-desc": (Reading.score.desc(), [("score", True)]),
    "nullable-string": ("label", [("label", False)]),
    "nullable-datetime-desc": ("-taken", [("taken", True)]),
    "mixed": (["grp", "-score"], [("grp", False), ("score", True)]),
    "mixed-nullable": (
        [Reading.label.desc(), "taken", "-grp"],
        [("label", True), ("taken", False), ("grp", True)],
    ),
    "descending-key": (["-id"], [("id", True)]),
    "enum": ("color", [("color", False)]),
    "enum-desc-mixed": (["-color", "grp"], [("color", True), ("grp", False)]),
    "nulls-placed": (
        [Reading.score.asc().nulls_last(), Reading.label.desc().nulls_first()],
        [("score", False, "last"), ("label", True, "first")],
    ),
}


def expected_order(rows: list[Reading], keys: list[Key], backend: str) -> list[int]:
    """The order a backend gives: NULL below every value on MySQL/MariaDB and SQLite,
    above on PostgreSQL (unless placed), enums by declaration (by name on SQLite, which
    stores them as text), then the primary key, ascending."""
    nulls_low = NULLS_LOW[backend]
    declared = list(Color)

    def value(row: Reading, attr: str) -> Any:
        found = getattr(row, attr)
        if isinstance(found, Color):
            return found.name if backend.startswith("sqlite") else declared.index(found)
        return found

    def compare(a: Reading, b: Reading) -> int:
        for attr, descending, *placed in [*keys, ("id", False)]:
            x, y = value(a, attr), value(b, attr)
            if x == y:
                continue
            nulls_first = placed[0] == "first" if placed else nulls_low != descending
            if x is None:
                return -1 if nulls_first else 1
            if y is None:
                return 1 if nulls_first else -1
            result = -1 if x < y else 1
            return -result if descending else result
        return 0

    return [r.id for r in sorted(rows, key=functools.cmp_to_key(compare))]


def reading_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1)
    return [
        {
            "grp": rng.randrange(4),
            "score": None if rng.random() < 0.25 else round(rng.uniform(-5, 5), 3),
            "label": rng.choice([None, "alpha", "beta", "gamma", "delta"]),
            "taken": None if rng.random() < 0.3 else start + timedelta(hours=rng.randrange(40)),
            "color": rng.choice([None, *Color]),
        }
        for _ in range(count)
    ]


@pytest.fixture
async def readings(sessions: async_sessionmaker[AsyncSession]) -> list[Reading]:
    async with sessions.begin() as session:
        return await ReadingRepository(session).create_many(reading_rows(57))


async def _walk(
    sessions: async_sessionmaker[AsyncSession], order_by: Any, limit: int, *where: Any
) -> list[CursorPage[Reading]]:
    """Every page of a walk, each read in a session of its own."""
    pages: list[CursorPage[Reading]] = []
    after: str | None = None
    while True:
        async with sessions() as session:
            page = await ReadingRepository(session).paginate(
                *where, order_by=order_by, limit=limit, after=after
            )
        pages.append(page)
        if not page.has_next:
            return pages
        assert page.next_cursor is not None
        after = page.next_cursor
        assert len(pages) < 100


@pytest.mark.parametrize("name", sorted(ORDERINGS))
async def test_paginate_walks_every_ordering_like_list(
    sessions: async_sessionmaker[AsyncSession], readings: list[Reading], backend: str, name: str
) -> None:
    order_by, keys = ORDERINGS[name]
    expected = expected_order(readings, keys, backend)
    pages = await _walk(sessions, order_by, 8)
    walked = [r.id for page in pages for r in page.items]
    assert walked == expected
    assert [len(page.items) for page in pages] == [8] * 7 + [1]
    assert [page.has_next for page in pages] == [True] * 7 + [False]
    assert pages[-1].next_cursor is None
    async with sessions() as session:
        listed = await ReadingRepository(session).list(order_by=order_by)
    assert [r.id for r in listed] == expected


async def test_paginate_never_ends_on_an_empty_page(
    sessions: async_sessionmaker[AsyncSession], readings: list[Reading]
) -> None:
    pages = await _walk(sessions, "grp", 19)  # 57 rows: exactly three full pages
    assert [len(p.items) for p in pages] == [19, 19, 19]
    assert [p.has_next for p in pages] == [True, True, False]


async def test_paginate_defaults_and_filters(
    sessions: async_sessionmaker[AsyncSession], readings: list[Reading]
) -> None:
    async with sessions() as session:
        repo = ReadingRepository(session)
        first = await repo.paginate()
        assert len(first.items) == 50
        assert first.has_next
        rest = await repo.paginate(after=first.next_cursor)
        assert len(rest.items) == 7
        assert not rest.has_next
        only = await repo.paginate(Reading.grp == 1, limit=100)
        assert [r.id for r in only.items] == sorted(r.id for r in readings if r.grp == 1)
        assert not only.has_next
        nothing = await repo.paginate(Reading.grp == 99)
        assert (nothing.items, nothing.has_next, nothing.next_cursor) == ([], False, None)


async def test_a_cursor_is_not_bound_to_filters_or_limit(
    sessions: async_sessionmaker[AsyncSession], readings: list[Reading]
) -> None:
    async with sessions() as session:
        repo = ReadingRepository(session)
        first = await repo.paginate(order_by="grp", limit=5)
        wider = await repo.paginate(
            Reading.score.is_not(None), order_by="grp", after=first.next_cursor, limit=100
        )
    expected = expected_order(readings, [("grp", False)], "sqlite-file")[5:]
    scored = {r.id for r in readings if r.score is not None}
    assert [r.id for r in wider.items] == [i for i in expected if i in scored]


async def test_cursors_are_url_safe_and_stable_across_sessions(
    sessions: async_sessionmaker[AsyncSession], readings: list[Reading]
) -> None:
    cursors = []
    for _ in range(2):
        async with sessions() as session:
            page = await ReadingRepository(session).paginate(order_by=["-taken", "label"], limit=3)
        assert page.next_cursor is not None
        assert re.fullmatch(r"[A-Za-z0-9\-_.~=]+", page.next_cursor)
        cursors.append(page.next_cursor)
    assert cursors[0] == cursors[1]


async def test_a_cursor_made_in_another_process_is_valid(
    sessions: async_sessionmaker[AsyncSession], readings: list[Reading]
) -> None:
    async with sessions() as session:
        first = await ReadingRepository(session).paginate(order_by="-grp", limit=10)
        last = first.items[-1]
    code = (
        "import sys; from sqla_repo._cursor import encode_cursor;"
        "from sqla_repo._ordering import ordering_signature, sort_keys;"
        "from sqlalchemy import inspect; from tests.models import Reading;"
        "m = inspect(Reading); keys = sort_keys(m, '-grp');"
        f"print(encode_cursor(ordering_signature(m, keys), [{last.grp}, {last.id}]))"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(child.communicate(), timeout=60)
    assert child.returncode == 0
    made = output.decode().strip()
    assert made == first.next_cursor
    async with sessions() as session:
        following = await ReadingRepository(session).paginate(order_by="-grp", limit=10, after=made)
    expected = expected_order(readings, [("grp", True)], "sqlite-file")
    assert [r.id for r in following.items] == expected[10:20]


async def _foreign_cursor(session: AsyncSession) -> str:
    await _products(session, 3)
    page = await ProductRepository(session).paginate(limit=1)
    assert page.next_cursor is not None
    return page.next_cursor


@pytest.mark.parametrize(
    "kind",
    ["empty", "garbage", "tampered", "truncated", "other-ordering", "other-model", "bytes", "int"],
)
async def test_anything_but_a_cursor_of_the_ordering_is_refused(
    session: AsyncSession, readings: list[Reading], statements: list[str], kind: str
) -> None:
    repo = ReadingRepository(session)
    good = (await repo.paginate(order_by="grp", limit=5)).next_cursor
    assert good is not None
    other = (await repo.paginate(order_by="-grp", limit=5)).next_cursor
    assert other is not None
    flipped = good[:10] + ("A" if good[10] != "A" else "B") + good[11:]
    cursors: dict[str, Any] = {
        "empty": "",
        "garbage": "not a cursor!",
        "tampered": flipped,
        "truncated": good[:-3],
        "other-ordering": other,
        "other-model": await _foreign_cursor(session),
        "bytes": good.encode(),
        "int": 12,
    }
    statements.clear()
    with pytest.raises(InvalidCursorError) as raised:
        await repo.paginate(order_by="grp", limit=5, after=cursors[kind])
    assert isinstance(raised.value, ValueError)
    assert statements == []
    assert len(await repo.list(limit=3)) == 3  # the session is still usable


@pytest.mark.parametrize("limit", [0, -1, 2**63])
async def test_paginate_limit_must_be_positive(
    session: AsyncSession, statements: list[str], limit: int
) -> None:
    with pytest.raises(InvalidFieldError, match="limit"):
        await ReadingRepository(session).paginate(limit=limit)
    assert statements == []


async def test_a_walk_survives_concurrent_writes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        original = await ReadingRepository(session).create_many(reading_rows(60, seed=3))
    survivors = {r.id for r in original}
    seen: list[int] = []
    after: str | None = None
    rng = random.Random(11)
    for step in range(100):
        async with sessions() as session:
            page = await ReadingRepository(session).paginate(order_by="-grp", limit=7, after=after)
        seen.extend(r.id for r in page.items)
        if not page.has_next:
            break
        after = page.next_cursor
        async with sessions.begin() as session:  # another writer, between pages
            repo = ReadingRepository(session)
            added = await repo.create_many(reading_rows(3, seed=step))
            victims = [*rng.sample(sorted(survivors), 2), added[0].id]
            await repo.delete_where(Reading.id.in_(victims))
            survivors -= set(victims)
    assert len(seen) == len(set(seen)), "a row came twice"
    assert survivors <= set(seen), "a row that existed throughout was skipped"


# --- stream ---------------------------------------------------------------------------------------


async def test_stream_is_an_async_generator_in_list_order(
    session: AsyncSession, readings: list[Reading], backend: str
) -> None:
    repo = ReadingRepository(session)
    assert pyinspect.isasyncgen(repo.stream())
    streamed = [r.id async for r in repo.stream(order_by=["-label", "taken"], batch_size=4)]
    listed = [r.id for r in await repo.list(order_by=["-label", "taken"])]
    assert streamed == listed
    expected = expected_order(readings, [("label", True), ("taken", False)], backend)
    assert streamed == expected
    assert [r.id async for r in repo.stream(Reading.grp == 2, batch_size=1000)] == sorted(
        r.id for r in readings if r.grp == 2
    )


async def test_stream_of_nothing(session: AsyncSession) -> None:
    assert [r async for r in ReadingRepository(session).stream()] == []


@pytest.mark.parametrize("batch_size", [0, -5])
async def test_stream_batch_size_must_be_positive(session: AsyncSession, batch_size: int) -> None:
    with pytest.raises(InvalidFieldError, match="batch_size"):
        [r async for r in ReadingRepository(session).stream(batch_size=batch_size)]


@pytest.mark.parametrize("close", ["aclose", "break"])
async def test_closing_a_stream_early_leaves_the_session_usable(
    session: AsyncSession, readings: list[Reading], close: str
) -> None:
    repo = ReadingRepository(session)
    stream = repo.stream(batch_size=5)
    taken = []
    async for reading in stream:
        taken.append(reading.id)
        if len(taken) == 7:
            break
    if close == "aclose":
        await stream.aclose()
    else:
        del stream
    assert await repo.count() == 57
    assert len(await repo.list(limit=10)) == 10
    await asyncio.sleep(0)  # let a finalizer run, if there is one
    assert [r.id async for r in repo.stream(batch_size=20)] == sorted(r.id for r in readings)
    await session.commit()


async def test_stream_lets_the_loop_use_the_session(
    session: AsyncSession, readings: list[Reading]
) -> None:
    repo = ReadingRepository(session)
    seen = 0
    async for reading in repo.stream(batch_size=5):
        seen += 1
        await repo.update(reading.id, grp=reading.grp + 10)
        assert await repo.exists(Reading.id == reading.id)
    assert seen == 57
    assert await repo.count(Reading.grp >= 10) == 57


async def test_stream_with_loader_options_on_every_backend(session: AsyncSession) -> None:
    authors = await AuthorRepository(session).create_many([{"name": f"a{n}"} for n in range(9)])
    labels = await session.run_sync(lambda s: [s.merge(Label(name=f"l{n}")) for n in range(3)])
    await session.flush()
    for n, author in enumerate(authors):
        for m in range(n % 3 + 1):
            session.add(Post(author_id=author.id, slug=f"s{m}", title="t", labels=labels[: m + 1]))
    await session.commit()
    session.expunge_all()
    seen = 0
    async for author in AuthorRepository(session).stream(
        batch_size=2, options=[selectinload(Author.posts).selectinload(Post.labels)]
    ):
        n = int(author.name[1:])
        assert sorted(p.slug for p in author.posts) == [f"s{m}" for m in range(n % 3 + 1)]
        assert all(len(p.labels) == int(p.slug[1:]) + 1 for p in author.posts)
        seen += 1
    assert seen == 9


async def _stream_peak(session: AsyncSession, batch_size: int) -> int:
    tracemalloc.start()
    try:
        count = 0
        async for _ in ProductRepository(session).stream(batch_size=batch_size):
            count += 1
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_stream_memory_does_not_grow_with_the_table(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await _products(session, 2_000)
        session.expunge_all()
        small = await _stream_peak(session, 200)
    async with sessions() as session:
        await ProductRepository(session).create_many(
            [{"sku": f"q{n:05d}", "name": "more"} for n in range(18_000)]
        )
        await session.commit()
        session.expunge_all()
        large = await _stream_peak(session, 200)
    assert large < small * 2 + 512 * 1024, (small, large)


async def test_stream_rejects_updates_to_where_before_sql(session: AsyncSession) -> None:
    with pytest.raises(InvalidFieldError):
        [p async for p in ProductRepository(session).stream(order_by="no_such")]


async def test_stream_every_row_of_many_batches(session: AsyncSession) -> None:
    products = await _products(session, 2_345)
    session.expunge_all()
    streamed = [p.id async for p in ProductRepository(session).stream(batch_size=100)]
    assert streamed == [p.id for p in products]
    total = (await session.execute(select(func.count()).select_from(Product))).scalar_one()
    assert total == 2_345
    assert await ProductRepository(session).exists(true())


# --- edges found in review ---------------------------------------------------------------


async def test_get_many_of_composite_keys_beyond_a_parser_limit(session: AsyncSession) -> None:
    count = 9_000  # PostgreSQL's parser ran out of stack on ~8,000 row values in one IN
    await TagRepository(session).create_many(
        [{"scope": "s", "name": f"{n:05d}"} for n in range(count)]
    )
    await session.commit()
    session.expunge_all()
    found = await TagRepository(session).get_many([("s", f"{n:05d}") for n in range(count)])
    assert len(found) == count


async def test_get_many_leaves_out_an_object_deleted_in_the_session(
    session: AsyncSession,
) -> None:
    products = await _products(session, 3)
    ids = [p.id for p in products]
    await session.delete(products[0])
    session.expire(products[1])
    found = await ProductRepository(session).get_many(ids)
    assert sorted(found) == ids[1:]


@pytest.mark.parametrize("batch_size", [2**31, 2**63])
async def test_stream_batch_size_has_a_driver_bound(
    session: AsyncSession, statements: list[str], batch_size: int
) -> None:
    with pytest.raises(InvalidFieldError, match="batch_size"):
        [r async for r in ReadingRepository(session).stream(batch_size=batch_size)]
    assert statements == []


async def test_page_limit_must_be_an_integer(session: AsyncSession) -> None:
    with pytest.raises(InvalidFieldError, match="limit"):
        await ProductRepository(session).page(limit=None)  # type: ignore[arg-type]  # runtime check


async def test_stream_with_joined_eager_loads(session: AsyncSession) -> None:
    authors = await AuthorRepository(session).create_many([{"name": f"a{n}"} for n in range(7)])
    await PostRepository(session).create_many(
        [
            {"author_id": a.id, "slug": f"s{m}", "title": "t"}
            for a in authors
            for m in range(authors.index(a) % 3 + 1)
        ]
    )
    await session.commit()
    session.expunge_all()
    for loader in (joinedload, subqueryload, selectinload):
        counts = {
            a.name: len(a.posts)
            async for a in AuthorRepository(session).stream(
                batch_size=2, options=[loader(Author.posts)]
            )
        }
        assert counts == {f"a{n}": n % 3 + 1 for n in range(7)}, loader.__name__
        session.expunge_all()


async def test_a_key_type_no_cursor_carries_is_refused_before_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    with pytest.raises(InvalidFieldError, match="cursor"):
        await ProductRepository(session).paginate(order_by=type_coerce(Product.name, JSON))
    assert statements == []
