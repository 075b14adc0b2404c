"""One table schema in three tables, the repositories over them, sizes and seeding.

- ``bench_crud_items``: the read table (``table_rows`` rows, seeded once);
- ``bench_crud_writes``: what the write operations change, reset before every batch;
- ``bench_crud_stream``: the streamed table (``stream_rows`` rows, seeded once).

The same three again with the model mixins (``bench_crud_items_m`` etc.), for the
"sqla_repo + mixins" contender: the same columns, the key from
``BigIntPrimaryKeyMixin``, plus ``created_at``/``updated_at`` (``TimestampMixin``,
seeded with one instant) and ``deleted_at`` (``SoftDeleteMixin``, seeded NULL).

Row ``n`` is ``(n, "code-<n>", "name <n>", n % TIES)`` everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import (
    ColumnElement,
    Dialect,
    Select,
    String,
    Table,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.selectable import FromClause

from sqla_repo import (
    BigIntPrimaryKeyMixin,
    Repository,
    SoftDeleteMixin,
    TimestampMixin,
    UTCDateTime,
)

TIES = 1000
"""``score`` takes this many distinct values: ``id % TIES``."""
COLUMNS = ("id", "code", "name", "score")
Values = tuple[int, str, str, int]


class BenchBase(DeclarativeBase):
    pass


class Columns:
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    score: Mapped[int] = mapped_column(index=True)


class Item(Columns, BenchBase):
    __tablename__ = "bench_crud_items"


class Written(Columns, BenchBase):
    __tablename__ = "bench_crud_writes"


class Streamed(Columns, BenchBase):
    __tablename__ = "bench_crud_stream"


class MixedColumns(BigIntPrimaryKeyMixin, TimestampMixin, SoftDeleteMixin):
    """The same columns, with the key, timestamps and soft deletion of the mixins."""

    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    score: Mapped[int] = mapped_column(index=True)


class MixedItem(MixedColumns, BenchBase):
    __tablename__ = "bench_crud_items_m"


class MixedWritten(MixedColumns, BenchBase):
    __tablename__ = "bench_crud_writes_m"


class MixedStreamed(MixedColumns, BenchBase):
    __tablename__ = "bench_crud_stream_m"


ITEMS = BenchBase.metadata.tables[Item.__tablename__]
WRITES = BenchBase.metadata.tables[Written.__tablename__]
STREAM = BenchBase.metadata.tables[Streamed.__tablename__]
MIXED_ITEMS = BenchBase.metadata.tables[MixedItem.__tablename__]
MIXED_WRITES = BenchBase.metadata.tables[MixedWritten.__tablename__]
MIXED_STREAM = BenchBase.metadata.tables[MixedStreamed.__tablename__]
STAMPS = ("created_at", "updated_at")


class ItemRepository(Repository[Item, int]):
    pass


class WrittenRepository(Repository[Written, int]):
    pass


class StreamedRepository(Repository[Streamed, int]):
    pass


class MixedItemRepository(Repository[MixedItem, int]):
    pass


class MixedWrittenRepository(Repository[MixedWritten, int]):
    pass


class MixedStreamedRepository(Repository[MixedStreamed, int]):
    pass


class ItemService(SQLAlchemyAsyncRepository[Item]):
    model_type = Item


class WrittenService(SQLAlchemyAsyncRepository[Written]):
    model_type = Written


def values(n: int, prefix: str = "") -> Values:
    """Row ``n`` as seeded; with a prefix, a changed version of it."""
    return n, f"{prefix}code-{n}", f"{prefix}name {n}", n % TIES


def mapping(n: int, prefix: str = "") -> dict[str, Any]:
    return dict(zip(COLUMNS, values(n, prefix), strict=True))


def without_key(n: int, prefix: str = "") -> dict[str, Any]:
    """Row ``n``'s values but its key, for the database to generate one."""
    found = mapping(n, prefix)
    del found["id"]
    return found


def cast_rows(value: object) -> Iterable[Any]:
    if not isinstance(value, Iterable):
        raise TypeError(f"not a row of the table: {value!r}")
    return value


def as_values(value: object) -> Values | None:
    """A model instance, a Core row or a driver's record as ``(id, code, name, score)``."""
    if value is None:
        return None
    if isinstance(value, Columns | MixedColumns):
        return value.id, value.code, value.name, value.score
    found = tuple(cast_rows(value))
    if len(found) != len(COLUMNS):
        raise TypeError(f"not a row of the table: {found!r}")
    return int(found[0]), str(found[1]), str(found[2]), int(found[3])


@dataclass(frozen=True)
class Sizes:
    table_rows: int
    depth: int
    stream_rows: int
    traced_rows: int
    """Rows of the stream's warm-up pass, which traces its memory (tracing is slow)."""
    bulk_rows: int
    page: int
    """Rows of a list or a page."""
    point_reps: int
    """Calls per batch of get, create, update and delete."""
    fresh_reps: int
    list_reps: int
    page_reps: int
    offset_reps: int
    count_reps: int
    rounds: int
    bulk_rounds: int
    stream_rounds: int


FULL = Sizes(
    table_rows=100_000,
    depth=90_000,
    stream_rows=1_000_000,
    traced_rows=100_000,
    bulk_rows=10_000,
    page=100,
    point_reps=200,
    fresh_reps=100,
    list_reps=50,
    page_reps=50,
    offset_reps=10,
    count_reps=20,
    rounds=7,
    bulk_rounds=5,
    stream_rounds=2,
)
QUICK = Sizes(
    table_rows=2_000,
    depth=1_800,
    stream_rows=5_000,
    traced_rows=2_000,
    bulk_rows=400,
    page=20,
    point_reps=10,
    fresh_reps=10,
    list_reps=5,
    page_reps=5,
    offset_reps=5,
    count_reps=5,
    rounds=2,
    bulk_rounds=2,
    stream_rounds=2,
)


# --- seeding ---------------------------------------------------------------------------


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
    """Fill ``target`` with rows 1..count, as :func:`values` gives them; then ANALYZE.

    A mixins' table gets one instant in both timestamps of every row (``deleted_at``
    stays NULL: every row is live).
    """
    async with engine.begin() as connection:
        source = numbers(connection.dialect, count).subquery("numbers")
        n = source.c.n
        columns: list[str] = list(COLUMNS)
        selected: list[ColumnElement[Any]] = [
            n,
            literal("code-") + cast(n, String),
            literal("name ") + cast(n, String),
            n % TIES,
        ]
        if STAMPS[0] in target.c:
            now = literal(datetime.now(UTC), UTCDateTime())
            columns += STAMPS
            selected += [now] * len(STAMPS)
        rows = select(*selected)
        await connection.execute(insert(target).from_select(columns, rows))
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
        raise RuntimeError(f"seeding {target.name}: {stored} rows, expected {count}")
