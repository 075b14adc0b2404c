"""count, exists and stream, each written once per contender."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

from sqlalchemy import exists, func, select

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
    STREAM,
    TIES,
    Item,
    ItemRepository,
    ItemService,
    MixedStreamed,
    Sizes,
    Streamed,
    StreamedRepository,
)

STREAM_BATCH = 1000
NO_STREAM = "no streaming method"


async def as_returned(batch: Batch, returned: list[object]) -> object:
    return [value if isinstance(value, int | tuple) else bool(value) for value in returned]


async def as_ints(batch: Batch, returned: list[object]) -> object:
    return [int(value) for value in returned]  # type: ignore[call-overload]


def count(sizes: Sizes) -> Operation:
    below = TIES // 10

    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare("SELECT count(*) FROM bench_crud_items WHERE score < ?")
        return lambda rep: statement.fetchval(below)

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            statement = select(func.count()).select_from(ITEMS).where(ITEMS.c.score < below)
            return (await connection.execute(statement)).scalar_one()

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session

        async def call(rep: int) -> object:
            statement = select(func.count()).select_from(Item).where(Item.score < below)
            return await session.scalar(statement)

        return call

    async def repo(batch: Batch) -> Call:
        repository = ItemRepository(batch.session)
        return lambda rep: repository.count(Item.score < below)

    async def advanced(batch: Batch) -> Call:
        service = ItemService(session=batch.session)
        return lambda rep: service.count(Item.score < below)

    return Operation(
        key="count",
        title=f"count (10 % of {sizes.table_rows:,} rows match, indexed)",
        variants=[
            Variant(RAW, raw, "prepared SELECT count(*) ... WHERE score < ?", raw=True),
            Variant(CORE, core, "conn.execute(select(func.count()).select_from(table).where())"),
            Variant(ORM, orm, "session.scalar(select(func.count()).select_from(Item).where())"),
            Variant(REPO, repo, "repo.count(cond)"),
            _mixins.count(below),
            Variant(ADVANCED, advanced, "repo.count(cond)"),
        ],
        check=as_ints,
        reps=sizes.count_reps,
        rounds=sizes.rounds,
    )


def exists_match(sizes: Sizes) -> Operation:
    score = TIES // 2

    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare(
            "SELECT EXISTS (SELECT 1 FROM bench_crud_items WHERE score = ?)"
        )
        return lambda rep: statement.fetchval(score)

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            statement = select(exists().where(ITEMS.c.score == score))
            return (await connection.execute(statement)).scalar_one()

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session
        return lambda rep: session.scalar(select(exists().where(Item.score == score)))

    async def repo(batch: Batch) -> Call:
        repository = ItemRepository(batch.session)
        return lambda rep: repository.exists(Item.score == score)

    async def advanced(batch: Batch) -> Call:
        service = ItemService(session=batch.session)
        return lambda rep: service.exists(Item.score == score)

    async def as_bools(batch: Batch, returned: list[object]) -> object:
        return [bool(value) for value in returned]

    return Operation(
        key="exists",
        title="exists (a match, indexed)",
        variants=[
            Variant(RAW, raw, "prepared SELECT EXISTS (SELECT 1 ... WHERE score = ?)", raw=True),
            Variant(CORE, core, "conn.execute(select(exists().where(cond))).scalar_one()"),
            Variant(ORM, orm, "session.scalar(select(exists().where(cond)))"),
            Variant(REPO, repo, "repo.exists(cond)"),
            _mixins.exists(score),
            Variant(ADVANCED, advanced, "repo.exists(cond) (a count > 0)"),
        ],
        check=as_bools,
        reps=sizes.count_reps,
        rounds=sizes.rounds,
    )


async def rows_in(partitions: AsyncIterable[Sequence[Any]]) -> AsyncIterator[Any]:
    """The rows of a result's partitions: one await per batch, not one per row."""
    async for partition in partitions:
        for row in partition:
            yield row


async def consume(rows: AsyncIterable[Any], key: Any) -> tuple[int, int]:
    """Count the rows and sum their keys, keeping no reference to a row once counted."""
    counted = total = 0
    async for row in rows:
        counted += 1
        total += key(row)
    return counted, total


def stream(sizes: Sizes) -> Operation:
    def by_index(row: Any) -> int:
        return int(row[0])

    def by_attribute(obj: Streamed | MixedStreamed) -> int:
        return obj.id

    def last(batch: Batch) -> int:
        """Only the first rows in the warm-up, whose memory is traced (tracing is slow)."""
        return sizes.traced_rows if batch.traced else sizes.stream_rows

    async def raw(batch: Batch) -> Call:
        sql = (
            f"SELECT id, code, name, score FROM {STREAM.name} "  # noqa: S608 - an integer
            f"WHERE id <= {int(last(batch))} ORDER BY id"
        )
        return lambda rep: consume(batch.raw.stream(sql, STREAM_BATCH), by_index)

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            statement = select(STREAM).where(STREAM.c.id <= last(batch)).order_by(STREAM.c.id)
            options = {"yield_per": STREAM_BATCH}
            result = await connection.stream(statement.execution_options(**options))
            return await consume(rows_in(result.partitions(STREAM_BATCH)), by_index)

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session

        async def call(rep: int) -> object:
            statement = select(Streamed).where(Streamed.id <= last(batch)).order_by(Streamed.id)
            options = {"yield_per": STREAM_BATCH}
            result = await session.stream_scalars(statement.execution_options(**options))
            return await consume(rows_in(result.partitions(STREAM_BATCH)), by_attribute)

        return call

    async def repo(batch: Batch) -> Call:
        repository = StreamedRepository(batch.session)
        return lambda rep: consume(
            repository.stream(Streamed.id <= last(batch), batch_size=STREAM_BATCH), by_attribute
        )

    return Operation(
        key="stream",
        title=f"stream {sizes.stream_rows:,} rows (time per row)",
        variants=[
            Variant(RAW, raw, "server-side cursor, 1,000 rows a fetch", raw=True),
            Variant(CORE, core, "conn.stream(select(table), yield_per=1000).partitions()"),
            Variant(ORM, orm, "session.stream_scalars(select(Item), yield_per=1000).partitions()"),
            Variant(REPO, repo, "repo.stream(batch_size=1000)"),
            _mixins.stream(last, STREAM_BATCH, lambda rows: consume(rows, by_attribute)),
        ],
        check=as_returned,
        reps=1,
        rounds=sizes.stream_rounds,
        unit="row",
        units=sizes.stream_rows,
        missing={ADVANCED: NO_STREAM},
        memory=True,
    )
