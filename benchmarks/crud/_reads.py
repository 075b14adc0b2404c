"""The read operations, each written once per contender.

Statements are built per call, as application code does; the raw driver prepares
its statement once per batch (untimed) and reuses it. Every call of a batch reads
different rows, so no ORM-based contender finds them in its identity map.
"""

from __future__ import annotations

from advanced_alchemy.filters import LimitOffset
from sqlalchemy import select

from sqla_repo import CursorPage

from . import _mixins
from ._harness import (
    ADVANCED,
    CORE,
    ORM,
    RAW,
    REPO,
    Batch,
    Call,
    Operation,
    Variant,
)
from ._models import (
    ITEMS,
    Item,
    ItemRepository,
    ItemService,
    Sizes,
    as_values,
)

SELECT_ITEMS = "SELECT id, code, name, score FROM bench_crud_items"
NO_KEYSET = "no keyset pagination (LimitOffset only)"


def key_of(rep: int, sizes: Sizes) -> int:
    """A different existing key for every call of a batch, spread over the table."""
    return 1 + (rep * 7919) % sizes.table_rows


async def rows_of(batch: Batch, returned: list[object]) -> object:
    """Every call's rows (one row or a list of them, or a page) as plain tuples."""

    def shape(value: object) -> object:
        found = value.items if isinstance(value, CursorPage) else value
        if isinstance(found, list):
            return [as_values(item) for item in found]
        return as_values(found)

    return [shape(value) for value in returned]


def get(sizes: Sizes) -> Operation:
    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare(f"{SELECT_ITEMS} WHERE id = ?")

        async def call(rep: int) -> object:
            found = await statement.fetch(key_of(rep, sizes))
            return found[0] if found else None

        return call

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            statement = select(ITEMS).where(ITEMS.c.id == key_of(rep, sizes))
            return (await connection.execute(statement)).first()

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session
        return lambda rep: session.get(Item, key_of(rep, sizes))

    async def repo(batch: Batch) -> Call:
        repository = ItemRepository(batch.session)
        return lambda rep: repository.get(key_of(rep, sizes))

    async def advanced(batch: Batch) -> Call:
        service = ItemService(session=batch.session)
        return lambda rep: service.get(key_of(rep, sizes))

    return Operation(
        key="get",
        title="get by key (one session)",
        variants=[
            Variant(RAW, raw, "prepared SELECT ... WHERE id = ?", raw=True),
            Variant(CORE, core, "conn.execute(select(table).where(id == k)).first()"),
            Variant(ORM, orm, "session.get(Item, k)"),
            Variant(REPO, repo, "repo.get(k)"),
            _mixins.get(lambda rep: key_of(rep, sizes)),
            Variant(ADVANCED, advanced, "repo.get(k)"),
        ],
        check=rows_of,
        reps=sizes.point_reps,
        rounds=sizes.rounds,
    )


def get_fresh(sizes: Sizes) -> Operation:
    async def raw(batch: Batch) -> Call:
        pool = batch.env.raw

        async def call(rep: int) -> object:
            async with pool.acquire() as connection:
                found = await connection.fetch(f"{SELECT_ITEMS} WHERE id = ?", key_of(rep, sizes))
            return found[0] if found else None

        return call

    async def core(batch: Batch) -> Call:
        engine = batch.env.engine

        async def call(rep: int) -> object:
            async with engine.connect() as connection:
                statement = select(ITEMS).where(ITEMS.c.id == key_of(rep, sizes))
                return (await connection.execute(statement)).first()

        return call

    async def orm(batch: Batch) -> Call:
        sessions = batch.env.sessions

        async def call(rep: int) -> object:
            async with sessions() as session:
                return await session.get(Item, key_of(rep, sizes))

        return call

    async def repo(batch: Batch) -> Call:
        sessions = batch.env.sessions

        async def call(rep: int) -> object:
            async with sessions() as session:
                return await ItemRepository(session).get(key_of(rep, sizes))

        return call

    async def advanced(batch: Batch) -> Call:
        sessions = batch.env.sessions

        async def call(rep: int) -> object:
            async with sessions() as session:
                return await ItemService(session=session).get(key_of(rep, sizes))

        return call

    return Operation(
        key="get-fresh",
        title="get by key (a session per call)",
        variants=[
            Variant(RAW, raw, "pool.acquire(); SELECT ... WHERE id = ?", raw=True),
            Variant(CORE, core, "engine.connect(); conn.execute(select(...)).first()"),
            Variant(ORM, orm, "sessionmaker(); session.get(Item, k)"),
            Variant(REPO, repo, "sessionmaker(); Repo(session).get(k)"),
            _mixins.get_fresh(lambda rep: key_of(rep, sizes)),
            Variant(ADVANCED, advanced, "sessionmaker(); Repo(session=session).get(k)"),
        ],
        check=rows_of,
        reps=sizes.fresh_reps,
        rounds=sizes.rounds,
    )


def list_rows(sizes: Sizes) -> Operation:
    page = sizes.page

    def start(rep: int) -> int:
        return rep * page % (sizes.table_rows - page)

    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare(f"{SELECT_ITEMS} WHERE id > ? ORDER BY id LIMIT ?")
        return lambda rep: statement.fetch(start(rep), page)

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            statement = (
                select(ITEMS).where(ITEMS.c.id > start(rep)).order_by(ITEMS.c.id).limit(page)
            )
            return (await connection.execute(statement)).all()

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session

        async def call(rep: int) -> object:
            statement = select(Item).where(Item.id > start(rep)).order_by(Item.id).limit(page)
            return (await session.scalars(statement)).all()

        return call

    async def repo(batch: Batch) -> Call:
        repository = ItemRepository(batch.session)
        return lambda rep: repository.list(Item.id > start(rep), limit=page)

    async def advanced(batch: Batch) -> Call:
        service = ItemService(session=batch.session)

        async def call(rep: int) -> object:
            window = LimitOffset(limit=page, offset=0)
            return await service.get_many(Item.id > start(rep), window, order_by=(Item.id, False))

        return call

    return Operation(
        key="list",
        title=f"list {page} rows",
        variants=[
            Variant(RAW, raw, "prepared SELECT ... WHERE id > ? ORDER BY id LIMIT ?", raw=True),
            Variant(CORE, core, "conn.execute(select(table).where().order_by().limit()).all()"),
            Variant(ORM, orm, "session.scalars(select(Item).where().order_by().limit()).all()"),
            Variant(REPO, repo, "repo.list(Item.id > k, limit=n)"),
            _mixins.list_rows(start, page),
            Variant(ADVANCED, advanced, "repo.get_many(cond, LimitOffset(n, 0), order_by=)"),
        ],
        check=rows_of,
        reps=sizes.list_reps,
        rounds=sizes.rounds,
    )


def deep_key(rep: int, sizes: Sizes) -> int:
    """The last key before a page at 90 % depth (a different page for every call)."""
    return sizes.depth + rep * sizes.page


def page_keyset(sizes: Sizes) -> Operation:
    page = sizes.page

    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare(f"{SELECT_ITEMS} WHERE id > ? ORDER BY id LIMIT ?")
        return lambda rep: statement.fetch(deep_key(rep, sizes), page)

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            after = deep_key(rep, sizes)
            statement = select(ITEMS).where(ITEMS.c.id > after).order_by(ITEMS.c.id).limit(page)
            return (await connection.execute(statement)).all()

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session

        async def call(rep: int) -> object:
            after = deep_key(rep, sizes)
            statement = select(Item).where(Item.id > after).order_by(Item.id).limit(page)
            return (await session.scalars(statement)).all()

        return call

    async def repo(batch: Batch) -> Call:
        repository = ItemRepository(batch.session)
        cursors: list[str] = []
        for rep in range(sizes.page_reps):  # cursors are bound to the ordering, not the filter
            before = await repository.paginate(Item.id >= deep_key(rep, sizes), limit=1)
            if before.next_cursor is None:
                raise RuntimeError("the table ends before the page")
            cursors.append(before.next_cursor)
        return lambda rep: repository.paginate(limit=page, after=cursors[rep])

    return Operation(
        key="page-keyset",
        title=f"keyset page of {page} at {sizes.depth:,} of {sizes.table_rows:,} rows",
        variants=[
            Variant(RAW, raw, "prepared SELECT ... WHERE id > ? ORDER BY id LIMIT ?", raw=True),
            Variant(CORE, core, "select(table).where(id > last).order_by(id).limit(n)"),
            Variant(ORM, orm, "select(Item).where(Item.id > last).order_by(Item.id).limit(n)"),
            Variant(REPO, repo, "repo.paginate(limit=n, after=cursor)"),
            _mixins.page_keyset(lambda rep: deep_key(rep, sizes), page, sizes.page_reps),
        ],
        check=rows_of,
        reps=sizes.page_reps,
        rounds=sizes.rounds,
        missing={ADVANCED: NO_KEYSET},
    )


def page_offset(sizes: Sizes) -> Operation:
    page = sizes.page

    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare(f"{SELECT_ITEMS} ORDER BY id LIMIT ? OFFSET ?")
        return lambda rep: statement.fetch(page, deep_key(rep, sizes))

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            skip = deep_key(rep, sizes)
            statement = select(ITEMS).order_by(ITEMS.c.id).limit(page).offset(skip)
            return (await connection.execute(statement)).all()

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session

        async def call(rep: int) -> object:
            skip = deep_key(rep, sizes)
            statement = select(Item).order_by(Item.id).limit(page).offset(skip)
            return (await session.scalars(statement)).all()

        return call

    async def repo(batch: Batch) -> Call:
        repository = ItemRepository(batch.session)
        return lambda rep: repository.list(limit=page, offset=deep_key(rep, sizes))

    async def advanced(batch: Batch) -> Call:
        service = ItemService(session=batch.session)

        async def call(rep: int) -> object:
            window = LimitOffset(limit=page, offset=deep_key(rep, sizes))
            return await service.get_many(window, order_by=(Item.id, False))

        return call

    return Operation(
        key="page-offset",
        title=f"OFFSET page of {page} at {sizes.depth:,} (reference)",
        variants=[
            Variant(RAW, raw, "prepared SELECT ... ORDER BY id LIMIT ? OFFSET ?", raw=True),
            Variant(CORE, core, "select(table).order_by(id).limit(n).offset(k)"),
            Variant(ORM, orm, "select(Item).order_by(Item.id).limit(n).offset(k)"),
            Variant(REPO, repo, "repo.list(limit=n, offset=k)"),
            _mixins.page_offset(lambda rep: deep_key(rep, sizes), page),
            Variant(ADVANCED, advanced, "repo.get_many(LimitOffset(n, k), order_by=)"),
        ],
        check=rows_of,
        reps=sizes.offset_reps,
        rounds=sizes.rounds,
    )
