"""The write operations, on ``bench_crud_writes``, reset untimed before every batch.

Each batch's transaction is rolled back at its end; the check reads the table
before that, so every contender must leave the same rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from ._harness import (
    ADVANCED,
    CORE,
    ORM,
    RAW,
    REPO,
    REPO_COUNT,
    Batch,
    BenchmarkError,
    Call,
    Operation,
    Prepare,
    Variant,
)
from ._models import (
    COLUMNS,
    WRITES,
    Columns,
    Sizes,
    Written,
    WrittenRepository,
    WrittenService,
    mapping,
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
    return await batch.fetch(f"SELECT id, code, name, score FROM {TABLE} ORDER BY id")  # noqa: S608


async def table_values(batch: Batch) -> list[tuple[Any, ...]]:
    """The rows without their generated keys."""
    return await batch.fetch(f"SELECT code, name, score FROM {TABLE} ORDER BY code")  # noqa: S608


def key_of(value: object) -> object:
    """The generated key an insert gave back: a key, a row of keys, or an object."""
    if isinstance(value, Columns):
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
        return await table_values(batch)

    return Operation(
        key="create",
        title="create one",
        variants=[
            Variant(RAW, raw, "prepared INSERT (RETURNING id / lastrowid)", raw=True),
            Variant(CORE, core, "conn.execute(insert(table).values(row)).inserted_primary_key"),
            Variant(ORM, orm, "session.add(Item(**row)); session.flush()"),
            Variant(REPO, repo, "repo.create(row)"),
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
        return await table_rows(batch)

    return Operation(
        key="update",
        title="update one by key (not in the session)",
        variants=[
            Variant(RAW, raw, "prepared UPDATE ... SET name = ? WHERE id = ?", raw=True),
            Variant(CORE, core, "conn.execute(update(table).where(id == k).values(name=v))"),
            Variant(ORM, orm, "obj = session.get(Item, k); obj.name = v; session.flush()"),
            Variant(REPO, repo, "repo.update(k, name=v)"),
            Variant(ADVANCED, advanced, "repo.update(Item(id=k, name=v))"),
        ],
        check=check,
        reps=sizes.point_reps,
        rounds=sizes.rounds,
        reset=[EMPTY, copied(2 * sizes.point_reps)],
    )


def delete_one(sizes: Sizes) -> Operation:
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
        return await table_rows(batch)

    return Operation(
        key="delete",
        title="delete one by key (not in the session)",
        variants=[
            Variant(RAW, raw, "prepared DELETE ... WHERE id = ?", raw=True),
            Variant(CORE, core, "conn.execute(delete(table).where(id == k))"),
            Variant(ORM, orm, "session.delete(session.get(Item, k)); session.flush()"),
            Variant(REPO, repo, "repo.delete(k)"),
            Variant(ADVANCED, advanced, "repo.delete(k)"),
        ],
        check=check,
        reps=sizes.point_reps,
        rounds=sizes.rounds,
        reset=[EMPTY, copied(2 * sizes.point_reps)],
    )


def create_many(sizes: Sizes, instances: bool) -> Operation:
    count = sizes.bulk_rows
    kind = "model instances" if instances else "mappings"

    def mappings() -> list[dict[str, Any]]:
        return [without_key(n) for n in range(1, count + 1)]

    def objects(rows: list[dict[str, Any]]) -> list[Written]:
        return [Written(**row) for row in rows]

    def given_items() -> list[Any]:
        """Instances are built in the set-up; from mappings, a call builds what it needs."""
        return objects(mappings()) if instances else mappings()

    async def raw(batch: Batch) -> Call:
        rows = [tuple(row.values()) for row in mappings()]
        if batch.raw.backend == "postgresql":
            return lambda rep: batch.raw.copy(TABLE, FIELDS, rows)
        statement = await batch.raw.prepare(batch.raw.insert_sql(TABLE, FIELDS))
        return lambda rep: statement.executemany(rows)

    async def core(batch: Batch) -> Call:
        connection, rows = await batch.session.connection(), mappings()
        return lambda rep: connection.execute(insert(WRITES), rows)

    async def orm(batch: Batch) -> Call:
        session, given = batch.session, given_items()

        async def call(rep: int) -> object:
            added = given if instances else objects(given)
            session.add_all(added)
            await session.flush()
            return added

        return call

    def repo_way(returning: bool) -> Prepare:
        async def prepare(batch: Batch) -> Call:
            repository, given = WrittenRepository(batch.session), given_items()
            if returning:
                return lambda rep: repository.create_many(given)
            return lambda rep: repository.create_many(given, returning=False)

        return prepare

    async def advanced(batch: Batch) -> Call:
        service, given = WrittenService(session=batch.session), given_items()
        if instances:
            return lambda rep: service.add_many(given)
        return lambda rep: service.add_many(objects(given))

    async def check(batch: Batch, returned: list[object]) -> object:
        for value in returned:
            if isinstance(value, int) and value != count:
                raise BenchmarkError(f"create_many(returning=False) counted {value} rows")
            if isinstance(value, list):
                keys = {key_of(item) for item in value}
                if None in keys or len(keys) != count:
                    raise BenchmarkError("create_many: not every row came back with its key")
        return await table_values(batch)

    raw_how = "COPY (copy_records_to_table) on PostgreSQL, else prepared INSERT executemany"
    orm_how = "session.add_all(" + ("objects" if instances else "[Item(**row) ...]") + "); flush()"
    aa_how = "repo.add_many(" + ("objects" if instances else "[Item(**row) ...]") + ")"
    return Operation(
        key="create-many-instances" if instances else "create-many-mappings",
        title=f"create {count:,} ({kind})",
        variants=[
            Variant(RAW, raw, raw_how + " (rows as tuples)", raw=True),
            Variant(CORE, core, "conn.execute(insert(table), mappings)"),
            Variant(ORM, orm, orm_how),
            Variant(REPO, repo_way(True), f"repo.create_many({kind})"),
            Variant(REPO_COUNT, repo_way(False), f"repo.create_many({kind}, returning=False)"),
            Variant(ADVANCED, advanced, aa_how),
        ],
        check=check,
        reps=1,
        rounds=sizes.bulk_rounds,
        reset=[EMPTY],
    )


def upsert_statement(batch: Batch, target: type[Written] | Table) -> Insert:
    """INSERT ... ON CONFLICT (id) DO UPDATE, or ON DUPLICATE KEY UPDATE, of every field."""
    dialect = batch.env.engine.dialect.name
    if dialect == "mysql":
        statement = mysql.insert(target)
        return statement.on_duplicate_key_update({f: statement.inserted[f] for f in FIELDS})
    if dialect == "postgresql":
        upsert = postgresql.insert(target)
        return upsert.on_conflict_do_update(
            index_elements=["id"], set_={f: upsert.excluded[f] for f in FIELDS}
        )
    lite = sqlite.insert(target)
    return lite.on_conflict_do_update(
        index_elements=["id"], set_={f: lite.excluded[f] for f in FIELDS}
    )


def upsert_many(sizes: Sizes) -> Operation:
    count = sizes.bulk_rows

    def mappings() -> list[dict[str, Any]]:
        return [mapping(n, "new-") for n in range(1, count + 1)]

    async def raw(batch: Batch) -> Call:
        rows = [tuple(row.values()) for row in mappings()]
        statement = await batch.raw.prepare(batch.raw.upsert_sql(TABLE, COLUMNS, "id"))
        return lambda rep: statement.executemany(rows)

    async def core(batch: Batch) -> Call:
        connection, rows = await batch.session.connection(), mappings()
        return lambda rep: connection.execute(upsert_statement(batch, WRITES), rows)

    async def orm(batch: Batch) -> Call:
        session, rows = batch.session, mappings()

        async def call(rep: int) -> object:
            statement = upsert_statement(batch, Written).returning(Written)
            options = {"populate_existing": True}
            return (await session.scalars(statement, rows, execution_options=options)).all()

        return call

    async def repo(batch: Batch) -> Call:
        repository, rows = WrittenRepository(batch.session), mappings()
        return lambda rep: repository.upsert_many(rows)

    async def advanced(batch: Batch) -> Call:
        service, rows = WrittenService(session=batch.session), mappings()
        return lambda rep: service.upsert_many([Written(**row) for row in rows])

    async def check(batch: Batch, returned: list[object]) -> object:
        return await table_rows(batch)

    return Operation(
        key="upsert-many",
        title=f"upsert {count:,} (half of them exist)",
        variants=[
            Variant(
                RAW, raw, "prepared INSERT ... ON CONFLICT/DUPLICATE KEY executemany", raw=True
            ),
            Variant(CORE, core, "conn.execute(dialect insert().on_conflict_do_update(), rows)"),
            Variant(ORM, orm, "session.scalars(<same>.returning(Item), rows, populate_existing)"),
            Variant(REPO, repo, "repo.upsert_many(mappings)"),
            Variant(ADVANCED, advanced, "repo.upsert_many([Item(**row) ...])"),
        ],
        check=check,
        reps=1,
        rounds=sizes.bulk_rounds,
        reset=[EMPTY, copied(count // 2, spread=2)],
    )
