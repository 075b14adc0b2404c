"""Query and bulk-write methods of Repository against hand-written SQLAlchemy, as ratios.

    python benchmarks/bench_queries.py [--quick] [--rounds N] [--json PATH] [URL ...]

For each URL (default, or given as ``sqlite``: a SQLite file in a temporary
directory) it measures

1. ``create_many`` of N rows, given as mappings and as model instances, against a
   Core ``conn.execute(insert(table), rows)`` of the same rows (and, to split the
   cost, the same Core insert with ``RETURNING``);
2. a keyset page (``paginate(after=cursor)``) deep in a table against the first
   page, and against OFFSET pagination (``list(offset=...)``) at the same depth, by
   primary key and by an indexed column with ties (``order_by=["-score"]``);
3. ``exists(cond)`` and ``count(cond)`` against the hand-written statements;
4. ``stream()`` of a small and a large table: peak traced Python memory at each
   size, and time per row against ``session.stream_scalars(yield_per=...)``.

Variants of one comparison run side by side: every round runs each of them once,
in a shuffled order, after an untimed warm-up round. Every timed batch runs in a
fresh session and transaction, which is rolled back (a write's table is emptied
first as well), and its result is checked against the other variants' and the
expected one. The machine is shared and noisy, so ratios taken within one round are
the result: the median of the per-round ratios, with their min-max. Tables are
created (after dropping leftovers of a killed run), seeded once per URL by the
server itself, and dropped at the end.

``--quick`` shrinks every size (a smoke run for CI); ``--json PATH`` also writes the
results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Select,
    String,
    Table,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.selectable import FromClause

from sqla_repo import EngineFactory, Repository

TIES = 1000
"""``score`` takes this many distinct values: ``id % TIES``."""
PAGE = 50
BATCH = 1000
TEMP_SQLITE = "sqlite"
"""The URL argument that stands for a SQLite file in a temporary directory."""


# --- models -------------------------------------------------------------------


class BenchBase(DeclarativeBase):
    pass


class Columns:
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    score: Mapped[int] = mapped_column(index=True)


class Written(Columns, BenchBase):
    """Emptied before every create_many batch."""

    __tablename__ = "bench_q_writes"


class Item(Columns, BenchBase):
    """The pages, exists and count table."""

    __tablename__ = "bench_q_items"


class SmallStream(Columns, BenchBase):
    __tablename__ = "bench_q_stream_small"


class LargeStream(Columns, BenchBase):
    __tablename__ = "bench_q_stream_large"


class WrittenRepository(Repository[Written, int]):
    pass


class ItemRepository(Repository[Item, int]):
    pass


class SmallStreamRepository(Repository[SmallStream, int]):
    pass


class LargeStreamRepository(Repository[LargeStream, int]):
    pass


WRITTEN = BenchBase.metadata.tables[Written.__tablename__]


# --- sizes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    create_rows: int
    table_rows: int
    depth: int
    stream_small: int
    stream_large: int
    point_reps: int
    """Calls per timed batch of exists/count."""
    page_reps: int
    """Calls per timed batch of one page."""
    rounds: int
    stream_rounds: int


FULL = Sizes(
    create_rows=10_000,
    table_rows=100_000,
    depth=90_000,
    stream_small=10_000,
    stream_large=1_000_000,
    point_reps=200,
    page_reps=20,
    rounds=7,
    stream_rounds=3,
)
QUICK = Sizes(
    create_rows=1_000,
    table_rows=10_000,
    depth=9_000,
    stream_small=1_000,
    stream_large=10_000,
    point_reps=30,
    page_reps=10,
    rounds=3,
    stream_rounds=2,
)


# --- the harness -------------------------------------------------------------------

Call = Callable[[], Awaitable[object]]
"""One timed operation; what it returns is handed to the comparison's digest."""
Prepare = Callable[[AsyncSession], Awaitable[Call]]
"""Untimed set-up in the batch's session (reset a table, build rows); returns the call."""
Digest = Callable[[AsyncSession, object], Awaitable[object]]
"""Untimed: the comparable result of a batch, from the last call's return value."""


class BenchmarkError(RuntimeError):
    """A variant gave a result other than the expected one."""


@dataclass(frozen=True)
class Variant:
    name: str
    prepare: Prepare
    units: int = 1
    """How many units (rows) one call handles: times are reported per unit."""


@dataclass(frozen=True)
class Pair:
    variant: str
    against: str
    target: float | None = None
    target_note: str = ""


@dataclass(frozen=True)
class Comparison:
    title: str
    variants: Sequence[Variant]
    pairs: Sequence[Pair]
    digest: Digest
    rounds: int
    reps: int = 1
    unit: str = "op"
    same_result: Sequence[Sequence[str]] = ()
    """Groups of variants whose results must be equal (within a round and across rounds)."""
    expected: dict[str, object] = field(default_factory=dict)
    """Variant name -> the result it must give."""


@dataclass
class PairResult:
    section: str
    variant: str
    against: str
    unit: str
    variant_seconds: float
    against_seconds: float
    ratio_median: float
    ratio_min: float
    ratio_max: float
    target: float | None
    target_note: str
    met: bool | None


async def run_batch(
    sessions: async_sessionmaker[AsyncSession], variant: Variant, reps: int, digest: Digest
) -> tuple[float, object]:
    """Seconds per unit of one batch of ``reps`` calls, and the batch's result."""
    gc.collect()
    async with sessions() as session:
        await session.connection()  # checkout and BEGIN stay outside the timing
        call = await variant.prepare(session)
        returned: object = None
        start = time.perf_counter()
        for _ in range(reps):
            returned = await call()
        elapsed = time.perf_counter() - start
        result = await digest(session, returned)
        del returned
        await session.rollback()
    return elapsed / (reps * variant.units), result


async def compare(
    sessions: async_sessionmaker[AsyncSession], comparison: Comparison, shuffle: random.Random
) -> list[PairResult]:
    """Run the variants interleaved, ``rounds`` times after a warm-up; ratios per round."""
    times: dict[str, list[float]] = {variant.name: [] for variant in comparison.variants}
    first_results: dict[str, object] = {}
    for round_number in range(comparison.rounds + 1):  # round 0: the warm-up
        order = list(comparison.variants)
        shuffle.shuffle(order)
        results: dict[str, object] = {}
        for variant in order:
            seconds, result = await run_batch(sessions, variant, comparison.reps, comparison.digest)
            results[variant.name] = result
            if round_number > 0:
                times[variant.name].append(seconds)
        check_results(comparison, results, first_results)
        first_results = first_results or results
    found: list[PairResult] = []
    for pair in comparison.pairs:
        mine, theirs = times[pair.variant], times[pair.against]
        ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
        median = statistics.median(ratios)
        found.append(
            PairResult(
                section=comparison.title,
                variant=pair.variant,
                against=pair.against,
                unit=comparison.unit,
                variant_seconds=statistics.median(mine),
                against_seconds=statistics.median(theirs),
                ratio_median=median,
                ratio_min=min(ratios),
                ratio_max=max(ratios),
                target=pair.target,
                target_note=pair.target_note,
                met=None if pair.target is None else median <= pair.target,
            )
        )
    return found


def check_results(
    comparison: Comparison, results: dict[str, object], first: dict[str, object]
) -> None:
    for name, result in results.items():
        if name in comparison.expected and result != comparison.expected[name]:
            raise BenchmarkError(
                f"{comparison.title}: {name} gave {short(result)}, "
                f"expected {short(comparison.expected[name])}"
            )
        if first and result != first[name]:
            raise BenchmarkError(f"{comparison.title}: {name} changed its result between rounds")
    for group in comparison.same_result:
        distinct = {repr(results[name]) for name in group}
        if len(distinct) > 1:
            shown = ", ".join(f"{name}: {short(results[name])}" for name in group)
            raise BenchmarkError(f"{comparison.title}: results differ ({shown})")


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# --- seeding ---------------------------------------------------------------------


def numbers(dialect: Dialect, count: int) -> Select[Any]:
    """``SELECT n`` for n in 1..count, generated by the server (one column, ``n``)."""
    if dialect.name == "postgresql":
        return select(func.generate_series(1, count).column_valued("n").label("n"))
    if getattr(dialect, "is_mariadb", False):  # the SEQUENCE engine's virtual tables
        sequence = table(f"seq_1_to_{count}", column("seq"))
        return select(sequence.c.seq.label("n"))
    # SQLite, MySQL: the decimal digits of n - 1, one cross-joined 10-row table each
    digits = union_all(*(select(literal(digit).label("d")) for digit in range(10)))
    number: ColumnElement[Any] = literal(1)
    product: FromClause | None = None
    place = 0
    while 10**place < count:
        digit = digits.subquery(f"d{place}")
        number = number + digit.c.d * 10**place
        product = digit if product is None else product.join(digit, true())  # a cross join
        place += 1
    if product is None:
        return select(number.label("n"))
    return select(number.label("n")).select_from(product).where(number <= count)


async def seed(engine: AsyncEngine, target: Table, count: int) -> None:
    """Fill ``target`` with rows 1..count: ``code-<n>``, ``name <n>``, score ``n % TIES``."""
    async with engine.begin() as connection:
        source = numbers(connection.dialect, count).subquery("numbers")
        n = source.c.n
        rows = select(
            n,
            literal("code-") + cast(n, String),
            literal("name ") + cast(n, String),
            n % TIES,
        )
        statement = insert(target).from_select(["id", "code", "name", "score"], rows)
        await connection.execute(statement)
    quoted = engine.dialect.identifier_preparer.quote(target.name)
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":  # VACUUM cannot run in a transaction
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql(f"VACUUM ANALYZE {quoted}")
        else:
            keyword = "ANALYZE TABLE" if engine.dialect.name == "mysql" else "ANALYZE"
            await connection.exec_driver_sql(f"{keyword} {quoted}")
            await connection.commit()
    async with engine.connect() as connection:
        stored = (await connection.execute(select(func.count()).select_from(target))).scalar()
    if stored != count:
        raise BenchmarkError(f"seeding {target.name}: {stored} rows, expected {count}")


# --- 1. create_many ---------------------------------------------------------------


def create_many_comparison(sizes: Sizes) -> Comparison:
    count = sizes.create_rows

    def mappings() -> list[dict[str, Any]]:
        return [{"code": f"code-{i}", "name": f"name {i}", "score": i % TIES} for i in range(count)]

    async def emptied(session: AsyncSession) -> None:
        await session.execute(delete(WRITTEN))

    async def repo_mappings(session: AsyncSession) -> Call:
        await emptied(session)
        repo, rows = WrittenRepository(session), mappings()
        return lambda: repo.create_many(rows)

    async def repo_instances(session: AsyncSession) -> Call:
        await emptied(session)
        repo, objects = WrittenRepository(session), [Written(**row) for row in mappings()]
        return lambda: repo.create_many(objects)

    async def core(session: AsyncSession) -> Call:
        await emptied(session)
        connection, rows = await session.connection(), mappings()
        return lambda: connection.execute(insert(WRITTEN), rows)

    async def core_returning(session: AsyncSession) -> Call:
        await emptied(session)
        connection, rows = await session.connection(), mappings()

        async def call() -> object:
            statement = insert(WRITTEN).returning(WRITTEN.c.id)
            return (await connection.execute(statement, rows)).all()

        return call

    async def orm_returning(session: AsyncSession) -> Call:
        await emptied(session)
        rows = mappings()

        async def call() -> object:
            statement = insert(Written).returning(Written)
            return list((await session.scalars(statement, rows)).all())

        return call

    async def digest(session: AsyncSession, returned: object) -> object:
        if isinstance(returned, list):
            ids = [getattr(item, "id", None) for item in returned]
            if len(ids) != count or None in ids or len(set(ids)) != count:
                raise BenchmarkError("create_many: not every row came back with its key")
        summary = select(
            func.count(),
            func.sum(WRITTEN.c.score),
            func.min(WRITTEN.c.code),
            func.max(WRITTEN.c.code),
        )
        stored, total, low, high = (await session.execute(summary)).one()
        return int(stored), int(total), low, high

    names = {
        "mappings": "create_many(mappings)",
        "instances": "create_many(instances)",
        "core": "Core insert(table), rows",
        "returning": "Core insert(table).returning(id), rows",
        "orm": "ORM session.scalars(insert(Model).returning(Model), rows)",
    }
    expected_rows = mappings()
    expected = (
        count,
        sum(row["score"] for row in expected_rows),
        min(row["code"] for row in expected_rows),
        max(row["code"] for row in expected_rows),
    )
    return Comparison(
        title=f"create_many, {count:,} rows",
        variants=[
            Variant(names["mappings"], repo_mappings),
            Variant(names["instances"], repo_instances),
            Variant(names["core"], core),
            Variant(names["returning"], core_returning),
            Variant(names["orm"], orm_returning),
        ],
        pairs=[
            Pair(names["mappings"], names["core"], 1.2),
            Pair(names["instances"], names["core"]),
            Pair(names["returning"], names["core"]),
            Pair(names["orm"], names["core"]),
            Pair(names["mappings"], names["orm"]),
        ],
        digest=digest,
        rounds=sizes.rounds,
        unit=f"{count:,} rows",
        same_result=[list(names.values())],
        expected=dict.fromkeys(names.values(), expected),
    )


# --- 2. keyset pages ----------------------------------------------------------------


async def cursor_at(
    sessions: async_sessionmaker[AsyncSession], order_by: list[str] | None, depth: int
) -> str:
    """The cursor that follows the first ``depth`` rows, walked in bounded steps."""
    cursor: str | None = None
    walked = 0
    while walked < depth:
        step = min(10_000, depth - walked)
        async with sessions() as session:
            page = await ItemRepository(session).paginate(
                order_by=order_by, limit=step, after=cursor
            )
        if page.next_cursor is None:
            raise BenchmarkError(f"the table ends before depth {depth:,}")
        cursor, walked = page.next_cursor, walked + step
    if cursor is None:
        raise BenchmarkError("depth must be positive")
    return cursor


async def ids_of(session: AsyncSession, returned: object) -> object:
    items = getattr(returned, "items", returned)
    if not isinstance(items, list):
        raise BenchmarkError(f"expected a page or a list, not {type(items).__name__}")
    return [item.id for item in items]


async def keyset_comparison(
    sessions: async_sessionmaker[AsyncSession], sizes: Sizes, order_by: list[str] | None
) -> Comparison:
    depth = sizes.depth
    after = await cursor_at(sessions, order_by, depth)

    async def first(session: AsyncSession) -> Call:
        repo = ItemRepository(session)
        return lambda: repo.paginate(order_by=order_by, limit=PAGE)

    async def keyset(session: AsyncSession) -> Call:
        repo = ItemRepository(session)
        return lambda: repo.paginate(order_by=order_by, limit=PAGE, after=after)

    async def offset(session: AsyncSession) -> Call:
        repo = ItemRepository(session)
        return lambda: repo.list(order_by=order_by, limit=PAGE, offset=depth)

    ids = range(1, sizes.table_rows + 1)
    # "-score": score descending, then the primary key ascending
    ordered = sorted(ids, key=lambda i: (-(i % TIES), i)) if order_by else list(ids)
    names = {
        "first": "paginate(limit=50), first page",
        "keyset": f"paginate(limit=50, after=cursor) @{depth:,}",
        "offset": f"list(limit=50, offset={depth:,})",
    }
    ordering = f"order_by={order_by}" if order_by else "by primary key"
    return Comparison(
        title=f"page of {PAGE} in {sizes.table_rows:,} rows, {ordering}",
        variants=[
            Variant(names["first"], first),
            Variant(names["keyset"], keyset),
            Variant(names["offset"], offset),
        ],
        pairs=[
            Pair(names["keyset"], names["first"], 1.5),
            Pair(names["offset"], names["first"]),
            Pair(names["offset"], names["keyset"]),
        ],
        digest=ids_of,
        rounds=sizes.rounds,
        reps=sizes.page_reps,
        unit="page",
        same_result=[[names["keyset"], names["offset"]]],
        expected={
            names["first"]: ordered[:PAGE],
            names["keyset"]: ordered[depth : depth + PAGE],
            names["offset"]: ordered[depth : depth + PAGE],
        },
    )


# --- 3. exists and count ---------------------------------------------------------


def exists_comparison(sizes: Sizes, label: str, condition: ColumnElement[bool]) -> Comparison:
    async def repo(session: AsyncSession) -> Call:
        repository = ItemRepository(session)
        return lambda: repository.exists(condition)

    async def raw(session: AsyncSession) -> Call:
        async def call() -> object:  # built per call, as application code does
            statement = select(exists().where(condition))
            return bool((await session.execute(statement)).scalar_one())

        return call

    names = ("repo.exists(cond)", "select(exists().where(cond))")
    return point_comparison(sizes, f"exists, {label}", names, repo, raw)


def count_comparison(sizes: Sizes, label: str, condition: ColumnElement[bool]) -> Comparison:
    async def repo(session: AsyncSession) -> Call:
        repository = ItemRepository(session)
        return lambda: repository.count(condition)

    async def raw(session: AsyncSession) -> Call:
        async def call() -> object:  # built per call, as application code does
            statement = select(func.count()).select_from(Item).where(condition)
            return int((await session.execute(statement)).scalar_one())

        return call

    names = ("repo.count(cond)", "select(func.count()).select_from(Item).where(cond)")
    return point_comparison(sizes, f"count, {label}", names, repo, raw)


def point_comparison(
    sizes: Sizes, title: str, names: tuple[str, str], repo: Prepare, raw: Prepare
) -> Comparison:
    async def digest(session: AsyncSession, returned: object) -> object:
        return returned

    return Comparison(
        title=title,
        variants=[Variant(names[0], repo), Variant(names[1], raw)],
        pairs=[Pair(names[0], names[1], 1.0, "never slower")],
        digest=digest,
        rounds=sizes.rounds,
        reps=sizes.point_reps,
        same_result=[names],
    )


# --- 4. stream ---------------------------------------------------------------------

StreamModel = type[SmallStream] | type[LargeStream]


async def consume(stream: AsyncIterable[Columns]) -> tuple[int, int]:
    """Count and sum the ids, keeping no reference to a row once it is counted."""
    count = total = 0
    async for obj in stream:
        count += 1
        total += obj.id
    return count, total


def repo_stream(model: StreamModel) -> Prepare:
    async def prepare(session: AsyncSession) -> Call:
        repo = (SmallStreamRepository if model is SmallStream else LargeStreamRepository)(session)
        return lambda: consume(repo.stream(batch_size=BATCH))

    return prepare


def raw_stream(model: StreamModel) -> Prepare:
    async def prepare(session: AsyncSession) -> Call:
        statement = select(model).order_by(model.id).execution_options(yield_per=BATCH)

        async def objects() -> AsyncIterator[Any]:
            result = await session.stream_scalars(statement)
            async for partition in result.partitions(BATCH):
                for obj in partition:
                    yield obj

        return lambda: consume(objects())

    return prepare


STREAM_REPO = "repo.stream(batch_size=1000)"
STREAM_RAW = "session.stream_scalars(yield_per=1000).partitions()"


def stream_name(kind: str, rows: int) -> str:
    return f"{kind} of {rows:,} rows"


def stream_comparison(sizes: Sizes) -> Comparison:
    small, large = sizes.stream_small, sizes.stream_large
    variants = [
        Variant(stream_name(STREAM_REPO, small), repo_stream(SmallStream), small),
        Variant(stream_name(STREAM_RAW, small), raw_stream(SmallStream), small),
        Variant(stream_name(STREAM_REPO, large), repo_stream(LargeStream), large),
        Variant(stream_name(STREAM_RAW, large), raw_stream(LargeStream), large),
    ]

    async def digest(session: AsyncSession, returned: object) -> object:
        return returned

    def sums(rows: int) -> tuple[int, int]:
        return rows, rows * (rows + 1) // 2

    return Comparison(
        title=f"stream, time per row ({sizes.stream_rounds} rounds)",
        variants=variants,
        pairs=[
            Pair(variants[0].name, variants[1].name),
            Pair(variants[2].name, variants[3].name),
            Pair(variants[2].name, variants[0].name, target_note="linear: ~1"),
        ],
        digest=digest,
        rounds=sizes.stream_rounds,
        unit="row",
        expected={
            variants[0].name: sums(small),
            variants[1].name: sums(small),
            variants[2].name: sums(large),
            variants[3].name: sums(large),
        },
    )


@dataclass
class MemoryResult:
    variant: str
    small_rows: int
    large_rows: int
    small_peak_bytes: int
    large_peak_bytes: int
    ratio: float


async def stream_peak(sessions: async_sessionmaker[AsyncSession], prepare: Prepare) -> int:
    """Peak traced Python memory allocated while one stream runs to its end."""
    gc.collect()
    async with sessions() as session:
        await session.connection()
        call = await prepare(session)
        tracemalloc.start()
        try:
            start, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            await call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await session.rollback()
    return peak - start


async def stream_memory(
    sessions: async_sessionmaker[AsyncSession], sizes: Sizes
) -> list[MemoryResult]:
    found = []
    for kind, make in ((STREAM_REPO, repo_stream), (STREAM_RAW, raw_stream)):
        small = await stream_peak(sessions, make(SmallStream))
        large = await stream_peak(sessions, make(LargeStream))
        found.append(
            MemoryResult(kind, sizes.stream_small, sizes.stream_large, small, large, large / small)
        )
    return found


# --- one backend -------------------------------------------------------------------


@dataclass
class BackendResult:
    backend: str
    url: str
    server_version: str
    quick: bool
    sizes: Sizes
    seed_seconds: float
    seeded_rows: int
    pairs: list[PairResult]
    stream_memory: list[MemoryResult]


async def bench(
    url: str, sizes: Sizes, quick: bool, progress: Callable[[str], None]
) -> BackendResult:
    factory = EngineFactory(url)
    engine = factory.create_async_engine()
    sessions = factory.create_sessionmaker(engine)
    shuffle = random.SystemRandom()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(BenchBase.metadata.drop_all)  # a killed run's leftovers
            await connection.run_sync(BenchBase.metadata.create_all)
        dialect = engine.dialect
        backend = "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name
        version = ".".join(str(part) for part in dialect.server_version_info or ())
        progress(f"{backend}: seeding")
        started = time.perf_counter()
        seeded = {
            Item: sizes.table_rows,
            SmallStream: sizes.stream_small,
            LargeStream: sizes.stream_large,
        }
        for model, count in seeded.items():
            await seed(engine, BenchBase.metadata.tables[model.__tablename__], count)
        seed_seconds = time.perf_counter() - started

        pairs: list[PairResult] = []
        comparisons: list[Comparison] = [create_many_comparison(sizes)]
        comparisons.append(await keyset_comparison(sessions, sizes, None))
        comparisons.append(await keyset_comparison(sessions, sizes, ["-score"]))
        comparisons += [
            exists_comparison(sizes, "a match (score == 500, indexed)", Item.score == TIES // 2),
            exists_comparison(sizes, "no match (score == -1, indexed)", Item.score == -1),
            count_comparison(sizes, f"score < {TIES // 10} (10% of rows)", Item.score < TIES // 10),
            stream_comparison(sizes),
        ]
        for comparison in comparisons:
            progress(f"{backend}: {comparison.title}")
            pairs += await compare(sessions, comparison, shuffle)
        progress(f"{backend}: stream peak memory")
        memory = await stream_memory(sessions, sizes)
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(BenchBase.metadata.drop_all)
        await engine.dispose()
    return BackendResult(
        backend=backend,
        url=make_url(url).render_as_string(hide_password=True),
        server_version=version,
        quick=quick,
        sizes=sizes,
        seed_seconds=seed_seconds,
        seeded_rows=sum(seeded.values()),
        pairs=pairs,
        stream_memory=memory,
    )


# --- report ------------------------------------------------------------------------


def duration(seconds: float) -> str:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def size(count: int) -> str:
    return f"{count / 2**20:.2f} MiB" if count >= 2**20 else f"{count / 2**10:.0f} KiB"


def markdown(result: BackendResult) -> str:
    quick = ", --quick" if result.quick else ""
    lines = [
        f"### {result.backend} {result.server_version} (`{result.url}`{quick})",
        "",
        f"Medians of per-round ratios (min-max) over {result.sizes.rounds} interleaved rounds "
        f"after a warm-up ({result.sizes.stream_rounds} for stream timing); seeding "
        f"{result.seeded_rows:,} rows took {result.seed_seconds:.1f} s.",
        "",
        "| benchmark | variant | against | variant time | against time "
        "| ratio (median) | min-max | target |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for pair in result.pairs:
        if pair.target is None:
            target = pair.target_note
        else:
            verdict = "met" if pair.met else "**missed**"
            note = f" ({pair.target_note})" if pair.target_note else ""
            target = f"<= {pair.target:.2f}{note}: {verdict}"
        lines.append(
            f"| {pair.section} | {pair.variant} | {pair.against} "
            f"| {duration(pair.variant_seconds)}/{pair.unit} "
            f"| {duration(pair.against_seconds)}/{pair.unit} "
            f"| {pair.ratio_median:.2f}x | {pair.ratio_min:.2f}-{pair.ratio_max:.2f}x | {target} |"
        )
    lines += [
        "",
        "| stream, peak traced Python memory | small | large | large / small |",
        "|---|---:|---:|---:|",
    ]
    for memory in result.stream_memory:
        lines.append(
            f"| {memory.variant} | {size(memory.small_peak_bytes)} @{memory.small_rows:,} rows "
            f"| {size(memory.large_peak_bytes)} @{memory.large_rows:,} rows "
            f"| {memory.ratio:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "urls",
        nargs="*",
        metavar="URL",
        help=f"database URLs; {TEMP_SQLITE!r} (the default): a SQLite file in a temporary dir",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a CI smoke run")
    parser.add_argument("--rounds", type=int, help="timed rounds per comparison")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error("--rounds must be at least 1")
        sizes = Sizes(**{**asdict(sizes), "rounds": args.rounds})

    def progress(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    results: list[BackendResult] = []
    with tempfile.TemporaryDirectory(prefix="bench_queries_") as directory:
        temporary = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        for given in args.urls or [TEMP_SQLITE]:
            url = temporary if given == TEMP_SQLITE else given
            result = asyncio.run(bench(url, sizes, args.quick, progress))
            results.append(result)
            print(markdown(result), end="\n\n", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(result) for result in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
