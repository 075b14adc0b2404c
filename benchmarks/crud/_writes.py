"""The point writes (create, update, delete one row) and what every write shares.

The write operations run on ``bench_crud_writes`` (``bench_crud_writes_m`` for
"sqla_repo + mixins"), reset untimed before every batch. Each batch's transaction is
rolled back at its end; the check reads the table before that, so every contender
must leave the same rows (the mixins' contender: the same live rows, on the shared
columns). The bulk writes are in ``_bulk``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, update

from . import _mixins
from ._harness import (
    ADVANCED,
    CORE,
    ORM,
    RAW,
    REPO,
    Batch,
    BenchmarkError,
    Call,
    Operation,
    Variant,
)
from ._models import (
    WRITES,
    Columns,
    MixedColumns,
    Sizes,
    Written,
    WrittenRepository,
    WrittenService,
    without_key,
)

TABLE = WRITES.name
FIELDS = ("code", "name", "score")
EMPTY = f"DELETE FROM {TABLE}"  # noqa: S608


def copied(rows: int, spread: int = 1) -> str:
    """Rows 1..rows of the read table, as rows ``spread * n`` of the written one."""
    return (
        f"INSERT INTO {TABLE} (id, code, name, score) "  # noqa: S608 - integers only
        f"SELECT id * {int(spread)}, code, name, score FROM bench_crud_items WHERE id <= {rows}"
    )


async def table_rows(batch: Batch) -> list[tuple[Any, ...]]:
    source = _mixins.written(batch, TABLE)
    sql = f"SELECT id, code, name, score FROM {source} ORDER BY id"  # noqa: S608
    return await batch.fetch(sql)


async def table_values(batch: Batch) -> list[tuple[Any, ...]]:
    """The rows without their generated keys."""
    source = _mixins.written(batch, TABLE)
    return await batch.fetch(f"SELECT code, name, score FROM {source} ORDER BY code")  # noqa: S608


def key_of(value: object) -> object:
    """The generated key an insert gave back: a key, a row of keys, or an object."""
    if isinstance(value, Columns | MixedColumns):
        return value.id
    if isinstance(value, tuple):
        return value[0]
    return value


def create_one(sizes: Sizes) -> Operation:
    def row(rep: int) -> dict[str, Any]:
        return without_key(rep + 1)

    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare(batch.raw.insert_sql(TABLE, FIELDS, returning=True))
        rows = [tuple(row(rep).values()) for rep in range(sizes.point_reps)]
        return lambda rep: statement.insert(*rows[rep])

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            result = await connection.execute(insert(WRITES).values(row(rep)))
            return result.inserted_primary_key

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session

        async def call(rep: int) -> object:
            obj = Written(**row(rep))
            session.add(obj)
            await session.flush()
            return obj

        return call

    async def repo(batch: Batch) -> Call:
        repository = WrittenRepository(batch.session)
        return lambda rep: repository.create(row(rep))

    async def advanced(batch: Batch) -> Call:
        service = WrittenService(session=batch.session)
        return lambda rep: service.add(Written(**row(rep)))

    async def check(batch: Batch, returned: list[object]) -> object:
        keys = {key_of(value) for value in returned}
        if None in keys or len(keys) != len(returned):
            raise BenchmarkError(f"create: keys given back {sorted(map(repr, keys))[:5]}...")
        await _mixins.expect(batch, _mixins.STAMPED, len(returned), "stamped on insert")
        return await table_values(batch)

    return Operation(
        key="create",
        title="create one",
        variants=[
            Variant(RAW, raw, "prepared INSERT (RETURNING id / lastrowid)", raw=True),
            Variant(CORE, core, "conn.execute(insert(table).values(row)).inserted_primary_key"),
            Variant(ORM, orm, "session.add(Item(**row)); session.flush()"),
            Variant(REPO, repo, "repo.create(row)"),
            _mixins.create(row),
            Variant(ADVANCED, advanced, "repo.add(Item(**row))"),
        ],
        check=check,
        reps=sizes.point_reps,
        rounds=sizes.rounds,
        reset=[EMPTY],
    )


def changed_key(rep: int) -> int:
    """Every other row of the table is changed, so the check sees both kinds."""
    return 2 * (rep + 1)


def update_one(sizes: Sizes) -> Operation:
    rows = 2 * sizes.point_reps

    def name(rep: int) -> str:
        return f"renamed {changed_key(rep)}"

    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare(f"UPDATE {TABLE} SET name = ? WHERE id = ?")  # noqa: S608
        return lambda rep: statement.execute(name(rep), changed_key(rep))

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()

        async def call(rep: int) -> object:
            where = WRITES.c.id == changed_key(rep)
            return await connection.execute(update(WRITES).where(where).values(name=name(rep)))

        return call

    async def orm(batch: Batch) -> Call:
        session = batch.session

        async def call(rep: int) -> object:
            obj = await session.get(Written, changed_key(rep))
            if obj is None:
                raise BenchmarkError(f"no row {changed_key(rep)}")
            obj.name = name(rep)
            await session.flush()
            return obj

        return call

    async def repo(batch: Batch) -> Call:
        repository = WrittenRepository(batch.session)
        return lambda rep: repository.update(changed_key(rep), name=name(rep))

    async def advanced(batch: Batch) -> Call:
        service = WrittenService(session=batch.session)
        return lambda rep: service.update(Written(id=changed_key(rep), name=name(rep)))

    async def check(batch: Batch, returned: list[object]) -> object:
        await _mixins.expect(batch, "updated_at > created_at", len(returned), "stamped on update")
        return await table_rows(batch)

    return Operation(
        key="update",
        title="update one by key (not in the session)",
        variants=[
            Variant(RAW, raw, "prepared UPDATE ... SET name = ? WHERE id = ?", raw=True),
            Variant(CORE, core, "conn.execute(update(table).where(id == k).values(name=v))"),
            Variant(ORM, orm, "obj = session.get(Item, k); obj.name = v; session.flush()"),
            Variant(REPO, repo, "repo.update(k, name=v)"),
            _mixins.update(changed_key, name, [_mixins.EMPTY, _mixins.copied(rows)]),
            Variant(ADVANCED, advanced, "repo.update(Item(id=k, name=v))"),
        ],
        check=check,
        reps=sizes.point_reps,
        rounds=sizes.rounds,
        reset=[EMPTY, copied(rows)],
    )


def delete_one(sizes: Sizes) -> Operation:
    rows = 2 * sizes.point_reps

    async def raw(batch: Batch) -> Call:
        statement = await batch.raw.prepare(f"DELETE FROM {TABLE} WHERE id = ?")  # noqa: S608
        return lambda rep: statement.execute(changed_key(rep))

    async def core(batch: Batch) -> Call:
        connection = await batch.session.connection()
        return lambda rep: connection.execute(delete(WRITES).where(WRITES.c.id == changed_key(rep)))

    async def orm(batch: Batch) -> Call:
        session = batch.session

        async def call(rep: int) -> object:
            obj = await session.get(Written, changed_key(rep))
            await session.delete(obj)
            await session.flush()
            return None

        return call

    async def repo(batch: Batch) -> Call:
        repository = WrittenRepository(batch.session)
        return lambda rep: repository.delete(changed_key(rep))

    async def advanced(batch: Batch) -> Call:
        service = WrittenService(session=batch.session)
        return lambda rep: service.delete(changed_key(rep))

    async def check(batch: Batch, returned: list[object]) -> object:
        await _mixins.expect(batch, "deleted_at IS NOT NULL", len(returned), "marked deleted")
        return await table_rows(batch)

    return Operation(
        key="delete",
        title="delete one by key (not in the session)",
        variants=[
            Variant(RAW, raw, "prepared DELETE ... WHERE id = ?", raw=True),
            Variant(CORE, core, "conn.execute(delete(table).where(id == k))"),
            Variant(ORM, orm, "session.delete(session.get(Item, k)); session.flush()"),
            Variant(REPO, repo, "repo.delete(k)"),
            _mixins.delete(changed_key, [_mixins.EMPTY, _mixins.copied(rows)]),
            Variant(ADVANCED, advanced, "repo.delete(k)"),
        ],
        check=check,
        reps=sizes.point_reps,
        rounds=sizes.rounds,
        reset=[EMPTY, copied(rows)],
    )
