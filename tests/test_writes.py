"""The [Q] writes on four backends: create_many, upsert(_many), get_or_create, *_where."""

from __future__ import annotations

import asyncio
import re
import warnings
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import selectinload

from sqla_repo import ConflictError, InvalidFieldError
from tests.models import (
    Author,
    AuthorRepository,
    Car,
    CarRepository,
    MemberRepository,
    Order,
    Post,
    PostRepository,
    Product,
    ProductRepository,
    Shop,
    Tag,
    TagRepository,
    Vehicle,
    VehicleRepository,
)


async def _rows(session: AsyncSession) -> list[tuple[Any, ...]]:
    result = await session.execute(
        select(Product.sku, Product.name, Product.price_cents, Product.status).order_by(Product.id)
    )
    return [tuple(row) for row in result]


def _inserts(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("INSERT")]


# --- create_many ------------------------------------------------------------------------------


async def test_create_many_from_mappings(session: AsyncSession, statements: list[str]) -> None:
    repo = ProductRepository(session)
    created = await repo.create_many(
        [{"sku": f"s{n}", "name": f"N{n}", "price_cents": n} for n in (3, 1, 2)]
        + [{"sku": "s0", "name": "N0"}]
    )
    # one statement: the omitted price_cents has a scalar default, written out
    assert len(_inserts(statements)) == 1
    assert [p.sku for p in created] == ["s3", "s1", "s2", "s0"]
    assert [p.id for p in created] == sorted(p.id for p in created)
    assert all(isinstance(p.id, int) for p in created)
    assert created[3].price_cents == 0  # a Python-side default
    assert all(p.status == "new" for p in created)  # a server default
    for product in created:
        state = inspect(product)
        assert state.persistent
        assert not state.modified
        assert not state.expired_attributes
    assert not session.dirty
    assert not session.new
    statements.clear()
    assert await repo.get(created[0].id) is created[0]
    assert statements == []
    await session.commit()
    assert await _rows(session) == [
        ("s3", "N3", 3, "new"),
        ("s1", "N1", 1, "new"),
        ("s2", "N2", 2, "new"),
        ("s0", "N0", 0, "new"),
    ]


async def test_create_many_from_instances_returns_them(session: AsyncSession) -> None:
    given = [Product(sku=f"i{n}", name=f"I{n}") for n in range(3)]
    created = await ProductRepository(session).create_many(given)
    assert all(a is b for a, b in zip(created, given, strict=True))
    assert all(inspect(p).persistent and p.id is not None for p in given)
    given[1].name = "renamed"
    await session.commit()
    assert [row[1] for row in await _rows(session)] == ["I0", "renamed", "I2"]


async def test_create_many_keeps_input_order_across_field_sets(session: AsyncSession) -> None:
    items: list[Any] = [
        {"sku": "a", "name": "A"},
        Product(sku="b", name="B", price_cents=5),
        {"sku": "c", "name": "C", "stock": 2},
        {"sku": "d", "name": "D"},
        {"id": 1000, "sku": "e", "name": "E"},
    ]
    created = await ProductRepository(session).create_many(items)
    assert [p.sku for p in created] == ["a", "b", "c", "d", "e"]
    assert created[4].id == 1000
    assert (created[1].price_cents, created[2].stock) == (5, 2)
    await session.commit()
    stored = {p.sku: p.id for p in (await session.scalars(select(Product))).all()}
    assert [stored[p.sku] for p in created] == [p.id for p in created]


async def test_create_many_of_nothing_sends_no_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    assert await ProductRepository(session).create_many([]) == []
    assert statements == []


async def test_create_many_batches_multi_row_inserts_under_the_parameter_limit(
    session: AsyncSession, statements: list[str]
) -> None:
    count = 20_000  # x5 columns: more parameters than any driver takes in one statement
    created = await ProductRepository(session).create_many(
        [
            {"sku": f"b{n:05d}", "name": "x", "price_cents": n, "stock": 1, "active": False}
            for n in range(count)
        ]
    )
    inserts = _inserts(statements)
    assert 2 <= len(inserts) <= count // 500
    assert all(len(re.findall(r"\),\s*\(", s)) >= 10 for s in inserts[:-1])
    assert [p.price_cents for p in created] == list(range(count))
    await session.commit()
    stored = (await session.execute(select(Product.id, Product.price_cents))).all()
    assert sorted((p.id, p.price_cents) for p in created) == sorted(tuple(r) for r in stored)


async def test_create_many_checks_fields_before_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    repo = ProductRepository(session)
    with pytest.raises(InvalidFieldError, match="no_such"):
        await repo.create_many([{"sku": "a", "name": "A"}, {"sku": "b", "no_such": 1}])
    assert statements == []
    assert await repo.count() == 0


async def test_create_many_conflict_is_typed(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    with pytest.raises(ConflictError) as raised:
        await repo.create_many([{"sku": "a", "name": "A"}, {"sku": "a", "name": "B"}])
    assert raised.value.columns == ("sku",)
    await session.rollback()
    assert await repo.count() == 0


async def test_created_objects_leave_the_session_on_rollback(session: AsyncSession) -> None:
    created = await ProductRepository(session).create_many([{"sku": "a", "name": "A"}])
    await session.rollback()
    assert inspect(created[0]).transient
    assert await ProductRepository(session).count() == 0


async def test_created_objects_leave_the_session_when_a_savepoint_rolls_back(
    session: AsyncSession,
) -> None:
    kept = await ProductRepository(session).create_many([{"sku": "k", "name": "K"}])
    savepoint = await session.begin_nested()
    created = await ProductRepository(session).create_many([{"sku": "a", "name": "A"}])
    assert inspect(created[0]).persistent
    await savepoint.rollback()
    assert inspect(created[0]).transient
    assert inspect(kept[0]).persistent
    assert [p.sku for p in await ProductRepository(session).list()] == ["k"]


async def test_created_objects_announce_themselves_to_listeners(session: AsyncSession) -> None:
    heard: list[tuple[str, object]] = []

    def pending(session: Any, instance: object) -> None:
        heard.append(("pending", instance))

    def persistent(session: Any, instance: object) -> None:
        heard.append(("persistent", instance))

    sync = session.sync_session
    event.listen(sync, "transient_to_pending", pending)
    event.listen(sync, "pending_to_persistent", persistent)
    try:
        created = await ProductRepository(session).create_many([{"sku": "a", "name": "A"}])
    finally:
        event.remove(sync, "transient_to_pending", pending)
        event.remove(sync, "pending_to_persistent", persistent)
    assert heard == [("pending", created[0]), ("persistent", created[0])]
    assert await ProductRepository(session).get(created[0].id) is created[0]


async def test_create_many_with_a_persistent_parent(session: AsyncSession) -> None:
    author = await AuthorRepository(session).create({"name": "ann"})
    posts = await PostRepository(session).create_many(
        [Post(author=author, slug=f"p{n}", title="t") for n in range(3)]
    )
    assert all(p.author_id == author.id for p in posts)
    assert all(p.author is author for p in posts)
    assert all(p.views == 0 for p in posts)
    await session.commit()
    assert await PostRepository(session).count(Post.author_id == author.id) == 3


async def test_create_many_hands_object_graphs_to_the_unit_of_work(session: AsyncSession) -> None:
    posts = await PostRepository(session).create_many(
        [Post(author=Author(name=f"new{n}"), slug="s", title="t") for n in range(2)]
    )
    assert all(inspect(p).persistent and p.id and p.author.id for p in posts)
    await session.commit()
    assert await AuthorRepository(session).count() == 2


async def test_create_many_refuses_objects_already_in_a_session(session: AsyncSession) -> None:
    [product] = await ProductRepository(session).create_many([{"sku": "a", "name": "A"}])
    with pytest.raises(InvalidFieldError, match="new"):
        await ProductRepository(session).create_many([product])


async def test_create_many_with_composite_keys(session: AsyncSession) -> None:
    tags = await TagRepository(session).create_many(
        [{"scope": "s", "name": "b"}, Tag(scope="s", name="a", label="L")]
    )
    assert [(t.scope, t.name) for t in tags] == [("s", "b"), ("s", "a")]
    assert await TagRepository(session).get(("s", "a")) is tags[1]


# --- upsert ---------------------------------------------------------------------------------------


async def test_upsert_inserts_then_updates_one_row(
    session: AsyncSession, statements: list[str]
) -> None:
    repo = ProductRepository(session)
    first = await repo.upsert({"sku": "k", "name": "First", "price_cents": 5}, on=["sku"])
    assert (first.name, first.price_cents, first.status) == ("First", 5, "new")
    statements.clear()
    second = await repo.upsert({"sku": "k", "name": "Second"}, on=[Product.sku])
    assert len(statements) == 1
    assert second is first  # the session's object, updated in place
    assert (second.name, second.price_cents) == ("Second", 5)
    await session.commit()
    assert await _rows(session) == [("k", "Second", 5, "new")]


async def test_upsert_returns_the_stored_row_not_a_stale_copy(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await ProductRepository(session).create({"sku": "k", "name": "Old", "stock": 3})
    async with sessions() as session:
        held = (await ProductRepository(session).list())[0]
        await session.commit()  # the object stays held (expire_on_commit=False)
        async with sessions.begin() as other:
            await ProductRepository(other).update(held.id, stock=9)
        stored = await ProductRepository(session).upsert({"sku": "k", "name": "New"}, on="sku")
        assert stored is held
        assert (stored.name, stored.stock) == ("New", 9)
        assert not inspect(stored).modified


async def test_upsert_updates_only_what_update_names(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    await repo.create({"sku": "k", "name": "Old", "price_cents": 1})
    await repo.upsert(
        {"sku": "k", "name": "New", "price_cents": 2}, on=["sku"], update=["price_cents"]
    )
    await session.commit()
    assert await _rows(session) == [("k", "Old", 2, "new")]


async def test_upsert_of_only_the_key_leaves_the_row_alone(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    created = await repo.create({"sku": "k", "name": "Kept"})
    same = await repo.upsert({"id": created.id, "sku": "k", "name": "x"}, update=[])
    assert same is created
    assert same.name == "Kept"


async def test_upsert_of_an_instance(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    fresh = Product(sku="i", name="Inst")
    stored = await repo.upsert(fresh, on=["sku"])
    assert stored is fresh
    assert inspect(fresh).persistent
    again = await repo.upsert(Product(sku="i", name="Again"), on=["sku"])
    assert again is fresh
    assert fresh.name == "Again"


async def test_upsert_on_a_unique_index_and_a_composite_key(session: AsyncSession) -> None:
    author = await AuthorRepository(session).create({"name": "ann"})
    posts = PostRepository(session)
    one = await posts.upsert(
        {"author_id": author.id, "slug": "x", "title": "1"}, on=["author_id", "slug"]
    )
    two = await posts.upsert(
        {"author_id": author.id, "slug": "x", "title": "2"}, on=["slug", "author_id"]
    )
    assert one is two
    assert two.title == "2"
    tags = TagRepository(session)
    await tags.upsert({"scope": "a", "name": "b", "label": "1"})
    tag = await tags.upsert({"scope": "a", "name": "b", "label": "2"}, on=["scope", "name"])
    assert tag.label == "2"
    assert await tags.count() == 1


_BAD_TARGETS: dict[str, tuple[Any, Any]] = {
    "not-unique": (ProductRepository, ["name"]),
    "superset": (ProductRepository, ["sku", "name"]),
    "subset": (TagRepository, ["scope"]),
    "subset-of-unique": (TagRepository, ["label"]),
    "other-model": (ProductRepository, [Order.id]),
    "unknown": (ProductRepository, ["no_such"]),
    "relationship": (ProductRepository, ["orders"]),
    "empty": (ProductRepository, []),
}


@pytest.mark.parametrize("name", sorted(_BAD_TARGETS))
async def test_a_bad_conflict_target_is_refused_before_sql(
    session: AsyncSession, statements: list[str], name: str
) -> None:
    repository, on = _BAD_TARGETS[name]
    item = (
        {"sku": "k", "name": "n"}
        if repository is ProductRepository
        else {"scope": "a", "name": "b"}
    )
    repo = repository(session)
    with pytest.raises(InvalidFieldError):
        await repo.upsert(item, on=on)
    with pytest.raises(InvalidFieldError):
        await repo.upsert_many([item], on=on)
    with pytest.raises(InvalidFieldError):
        await repo.get_or_create(item, on=on)
    assert statements == []
    assert await repo.count() == 0


async def test_upsert_checks_fields_before_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    repo = ProductRepository(session)
    with pytest.raises(InvalidFieldError, match="no_such"):
        await repo.upsert({"sku": "k", "no_such": 1}, on=["sku"])
    with pytest.raises(InvalidFieldError, match="no_such"):
        await repo.upsert({"sku": "k", "name": "n"}, on=["sku"], update=["no_such"])
    with pytest.raises(InvalidFieldError, match="primary key"):
        await repo.upsert({"sku": "k", "name": "n"}, on=["sku"], update=["id"])
    with pytest.raises(InvalidFieldError, match="on= fields"):
        await repo.upsert({"name": "n"}, on=["sku"])
    assert statements == []


async def test_upsert_many_in_input_order(session: AsyncSession, statements: list[str]) -> None:
    repo = ProductRepository(session)
    existing = await repo.create_many([{"sku": f"k{n}", "name": "old"} for n in range(0, 10, 2)])
    statements.clear()
    items = [{"sku": f"k{n}", "name": f"new{n}"} for n in (7, 2, 9, 0, 5, 8, 1, 4, 6, 3)]
    stored = await repo.upsert_many(items, on=["sku"])
    assert len(_inserts(statements)) == 1
    assert [p.sku for p in stored] == [item["sku"] for item in items]
    assert [p.name for p in stored] == [item["name"] for item in items]
    by_sku = {p.sku: p for p in existing}
    assert all(by_sku[p.sku] is p for p in stored if p.sku in by_sku)
    await session.commit()
    assert await repo.count() == 10


async def test_upsert_many_of_nothing_sends_no_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    assert await ProductRepository(session).upsert_many([], on=["sku"]) == []
    assert statements == []


async def test_upsert_many_refuses_two_items_for_one_row(
    session: AsyncSession, statements: list[str]
) -> None:
    with pytest.raises(InvalidFieldError, match="share"):
        await ProductRepository(session).upsert_many(
            [{"sku": "a", "name": "1"}, {"sku": "a", "name": "2"}], on=["sku"]
        )
    assert statements == []


async def test_upsert_many_beyond_one_statement(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    await repo.create_many([{"sku": f"k{n:05d}", "name": "old"} for n in range(0, 12_000, 2)])
    items = [{"sku": f"k{n:05d}", "name": f"n{n}", "price_cents": n} for n in range(12_000)]
    stored = await repo.upsert_many(items, on=["sku"])
    assert [p.price_cents for p in stored] == list(range(12_000))
    await session.commit()
    assert await repo.count() == 12_000
    assert await repo.count(Product.name == "old") == 0


async def test_concurrent_upserts_of_one_key_leave_one_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def one(n: int) -> int:
        async with sessions.begin() as session:
            stored = await ProductRepository(session).upsert(
                {"sku": "hot", "name": f"n{n}", "stock": n}, on=["sku"]
            )
            return stored.id

    ids = await asyncio.gather(*(one(n) for n in range(20)))
    assert len(set(ids)) == 1
    async with sessions() as session:
        assert await ProductRepository(session).count() == 1


# --- get_or_create ---------------------------------------------------------------------------


async def test_get_or_create(session: AsyncSession, statements: list[str]) -> None:
    repo = ProductRepository(session)
    created, was_created = await repo.get_or_create(
        {"sku": "g"}, on=["sku"], defaults={"name": "Made", "price_cents": 4}
    )
    assert was_created is True
    assert (created.sku, created.name, created.price_cents, created.status) == (
        "g",
        "Made",
        4,
        "new",
    )
    assert inspect(created).persistent
    statements.clear()
    found, was_created = await repo.get_or_create(
        {"sku": "g"}, on=["sku"], defaults={"name": "Other", "price_cents": 9}
    )
    assert was_created is False
    assert found is created
    assert (found.name, found.price_cents) == ("Made", 4)
    assert len(statements) <= 2
    await session.commit()
    assert await _rows(session) == [("g", "Made", 4, "new")]


# SQLite cannot commit meanwhile and then let this transaction write: a file database
# raises SerializationError (SQLITE_BUSY_SNAPSHOT, retried by run_in_transaction), an
# in-memory one lets no other session in until this one ends.
@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
async def test_get_or_create_sees_a_row_committed_meanwhile(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        repo = ProductRepository(session)
        assert await repo.count() == 0  # this transaction has read (a snapshot, on MariaDB)
        async with sessions.begin() as other:
            await ProductRepository(other).create({"sku": "late", "name": "Other"})
        found, created = await repo.get_or_create({"sku": "late", "name": "Mine"}, on=["sku"])
        assert created is False
        assert found.name == "Other"


async def test_get_or_create_needs_the_on_values(
    session: AsyncSession, statements: list[str]
) -> None:
    with pytest.raises(InvalidFieldError, match="sku"):
        await ProductRepository(session).get_or_create(
            {"name": "n"}, on=["sku"], defaults={"sku": "in defaults only"}
        )
    assert statements == []


async def test_get_or_create_with_a_clash_on_another_unique_key(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    existing = await repo.create({"sku": "taken", "name": "A"})
    await session.commit()
    with pytest.raises(ConflictError):
        await repo.get_or_create({"id": existing.id + 1, "sku": "taken", "name": "B"}, on=["id"])
    await session.rollback()
    assert await repo.count() == 1


async def test_concurrent_get_or_create_creates_exactly_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def one(n: int) -> tuple[int, bool]:
        async with sessions.begin() as session:
            obj, created = await ProductRepository(session).get_or_create(
                {"sku": "once"}, on=["sku"], defaults={"name": f"n{n}"}
            )
            return obj.id, created

    results = await asyncio.gather(*(one(n) for n in range(20)))
    assert len({obj_id for obj_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    async with sessions() as session:
        assert await ProductRepository(session).count() == 1


# --- update_where and delete_where ------------------------------------------------------------


@pytest.fixture
async def stocked(session: AsyncSession) -> list[Product]:
    products = await ProductRepository(session).create_many(
        [{"sku": f"s{n}", "name": f"name{n}", "stock": n, "price_cents": n % 2} for n in range(6)]
    )
    await session.commit()
    return products


async def test_update_where_counts_matched_rows(
    session: AsyncSession, stocked: list[Product], statements: list[str]
) -> None:
    repo = ProductRepository(session)
    assert await repo.update_where(Product.price_cents == 1, values={"active": True}) == 3
    assert await repo.update_where(Product.stock > 100, values={"active": False}) == 0
    assert await repo.update_where(true(), values={Product.status: "seen"}) == 6
    assert all(p.status == "seen" for p in stocked)


async def test_update_where_updates_held_objects_in_place(
    session: AsyncSession, stocked: list[Product], statements: list[str]
) -> None:
    repo = ProductRepository(session)
    count = await repo.update_where(
        Product.stock >= 3,
        values={Product.stock: Product.stock * 10 + 1, "name": func.upper(Product.name)},
    )
    assert count == 3
    statements.clear()
    assert [(p.stock, p.name) for p in stocked] == [
        (0, "name0"),
        (1, "name1"),
        (2, "name2"),
        (31, "NAME3"),
        (41, "NAME4"),
        (51, "NAME5"),
    ]
    assert statements == []  # nothing was expired into a lazy load
    assert all(not inspect(p).expired_attributes and not inspect(p).modified for p in stocked)
    await session.commit()
    stored = (await session.execute(select(Product.stock).order_by(Product.id))).scalars().all()
    assert stored == [0, 1, 2, 31, 41, 51]


async def test_update_where_without_held_objects(
    sessions: async_sessionmaker[AsyncSession], stocked: list[Product], statements: list[str]
) -> None:
    async with sessions() as session:
        statements.clear()
        assert (
            await ProductRepository(session).update_where(
                Product.stock < 2, values={Product.stock: Product.stock + 5}
            )
            == 2
        )
        assert len(statements) == 1
        await session.commit()
        stored = (await session.execute(select(Product.stock).order_by(Product.id))).scalars()
        assert stored.all() == [5, 6, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("where", "values", "message"),
    [
        ((), {"name": "x"}, "condition"),
        ((Product.stock > 1,), {}, "at least one"),
        ((Product.stock > 1,), {"no_such": 1}, "no_such"),
        ((Product.stock > 1,), {"id": 5}, "primary key"),
        ((Product.stock > 1,), {"orders": []}, "orders"),
        ((Product.stock > 1,), {Order.quantity: 1}, "not a field"),
    ],
    ids=["no-condition", "no-values", "unknown", "primary-key", "relationship", "other-model"],
)
async def test_update_where_checks_before_sql(
    session: AsyncSession,
    stocked: list[Product],
    statements: list[str],
    where: tuple[Any, ...],
    values: dict[Any, Any],
    message: str,
) -> None:
    statements.clear()
    with pytest.raises(InvalidFieldError, match=message):
        await ProductRepository(session).update_where(*where, values=values)
    assert statements == []


async def test_delete_where_removes_matched_objects_from_the_session(
    session: AsyncSession, stocked: list[Product]
) -> None:
    repo = ProductRepository(session)
    assert await repo.delete_where(Product.stock >= 4) == 2
    assert [p in session for p in stocked] == [True] * 4 + [False] * 2
    assert await repo.delete_where(Product.stock >= 4) == 0
    assert await repo.delete_where(true()) == 4
    await session.commit()
    assert await repo.count() == 0


async def test_delete_where_needs_a_condition(
    session: AsyncSession, stocked: list[Product], statements: list[str]
) -> None:
    statements.clear()
    with pytest.raises(InvalidFieldError, match=r"sqlalchemy\.true\(\)"):
        await ProductRepository(session).delete_where()
    assert statements == []
    assert await ProductRepository(session).count() == 6


async def test_get_or_create_on_an_engine_built_elsewhere(db_url: Any) -> None:
    """MariaDB: a connection that never declared the duplicate flag reads it once more."""
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Shop.metadata.drop_all)
            await connection.run_sync(Shop.metadata.create_all)
        async with AsyncSession(engine, expire_on_commit=False) as session:
            repo = ProductRepository(session)
            first, created = await repo.get_or_create({"sku": "x", "name": "a"}, on=["sku"])
            again, created_again = await repo.get_or_create({"sku": "x", "name": "b"}, on=["sku"])
            assert (created, created_again) == (True, False)
            assert again is first
            await session.commit()
        async with AsyncSession(engine) as session:
            found, created = await ProductRepository(session).get_or_create(
                {"sku": "x"}, on=["sku"], defaults={"name": "c"}
            )
            assert (found.name, created) == ("a", False)
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(Shop.metadata.drop_all)
        await engine.dispose()


# --- edges found in review ---------------------------------------------------------------


async def test_writes_keep_loaded_relationships_loaded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        author = await AuthorRepository(session).create({"name": "ann"})
        await PostRepository(session).create({"author_id": author.id, "slug": "s", "title": "t"})
    async with sessions() as session:
        authors = AuthorRepository(session)
        ann = await authors.get_one(author.id, options=[selectinload(Author.posts)])
        same, created = await authors.get_or_create({"name": "ann"}, on="name")
        assert (same, created) == (ann, False)
        assert [p.slug for p in ann.posts] == ["s"]
        assert await authors.update_where(Author.id == ann.id, values={"email": "a@x"}) == 1
        assert await authors.update_where(Author.id == -1, values={"email": "none"}) == 0
        assert [p.slug for p in ann.posts] == ["s"]
        assert ann.email == "a@x"
        await authors.upsert({"name": "ann", "email": "b@x"}, on="name")
        assert [p.slug for p in ann.posts] == ["s"]
        assert ann.email == "b@x"


async def test_update_where_refreshes_columns_an_update_default_changes(
    session: AsyncSession,
) -> None:
    authors = await AuthorRepository(session).create_many([{"name": "a"}, {"name": "b"}])
    assert [a.edits for a in authors] == [0, 0]
    await AuthorRepository(session).update_where(Author.name == "a", values={"email": "x"})
    assert [a.edits for a in authors] == [1, 0]
    assert not inspect(authors[0]).expired_attributes


async def test_get_or_create_on_a_partial_unique_index(session: AsyncSession, backend: str) -> None:
    repo = MemberRepository(session)
    await repo.create({"email": "a", "live": False})
    member, created = await repo.get_or_create({"email": "a", "live": True}, on=["email"])
    again, created_again = await repo.get_or_create({"email": "a", "live": True}, on="email")
    assert again is member
    assert created_again is False
    if backend == "mysql":  # MariaDB has no partial index: the index covers every row
        assert (created, member.live) == (False, False)
    else:
        assert (created, member.live) == (True, True)
        assert await repo.count() == 2


async def test_get_or_create_defaults_to_the_primary_key(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    made, created = await repo.get_or_create({"id": 7, "sku": "k", "name": "n"})
    found, created_again = await repo.get_or_create({"id": 7, "sku": "other", "name": "m"})
    assert (created, created_again) == (True, False)
    assert found is made
    assert found.sku == "k"


async def test_create_many_leaves_a_none_key_to_the_database(session: AsyncSession) -> None:
    repo = ProductRepository(session)
    created = await repo.create_many(
        [{"id": None, "sku": "a", "name": "A"}, Product(id=None, sku="b", name="B")]
    )
    assert all(isinstance(p.id, int) for p in created)
    assert len({p.id for p in created}) == 2


async def test_create_many_writes_single_table_inheritance_in_one_statement(
    session: AsyncSession, statements: list[str]
) -> None:
    cars = await CarRepository(session).create_many(
        [{"plate": f"p{n}"} for n in range(5)] + [Car(plate="q", seats=4)]
    )
    assert len(_inserts(statements)) == 1
    assert [type(car) for car in cars] == [Car] * 6
    assert {car.kind for car in cars} == {"car"}
    await session.commit()
    session.expunge_all()
    stored = await VehicleRepository(session).list()
    assert [type(v) for v in stored] == [Car] * 6
    upserted = await CarRepository(session).upsert({"plate": "q", "seats": 2}, on="plate")
    assert (type(upserted), upserted.seats, upserted.kind) == (Car, 2, "car")
    vehicle, created = await VehicleRepository(session).get_or_create({"plate": "v"}, on="plate")
    assert (type(vehicle), vehicle.kind, created) == (Vehicle, "vehicle", True)


async def test_upsert_many_with_keys_one_row_under_the_collation(
    session: AsyncSession, backend: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stored = await ProductRepository(session).upsert_many(
            [{"sku": "x", "name": "lower"}, {"sku": "X", "name": "upper"}], on=["sku"]
        )
    rows = await ProductRepository(session).count()
    assert len({id(p) for p in stored}) == rows  # one object per stored row
    if backend == "mysql":  # a case-insensitive collation: "X" is the row "x"
        assert rows == 1
        assert stored[0] is stored[1]
        assert stored[0].name == "upper"
    else:
        assert rows == 2
    assert all(p in session for p in stored)


async def test_every_write_checks_fields_before_sql(
    session: AsyncSession, statements: list[str]
) -> None:
    repo = ProductRepository(session)
    good = {"sku": "a", "name": "A"}
    bad = {"sku": "b", "name": "B", "no_such": 1}
    with pytest.raises(InvalidFieldError, match="no_such"):
        await repo.upsert_many([good, bad], on=["sku"])
    with pytest.raises(InvalidFieldError, match="no_such"):
        await repo.get_or_create({"sku": "c", "no_such": 1}, on=["sku"])
    with pytest.raises(InvalidFieldError, match="no_such"):
        await repo.get_or_create({"sku": "c"}, on=["sku"], defaults={"no_such": 1})
    with pytest.raises(InvalidFieldError, match="no_such"):
        await repo.update_where(Product.sku == "a", values={"no_such": 1})
    assert statements == []
    assert await repo.count() == 0
