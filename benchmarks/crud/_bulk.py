"""The bulk writes: create and upsert 10,000 rows (see ``_writes`` for what writes share)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from . import _mixins
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
    Sizes,
    Written,
    WrittenRepository,
    WrittenService,
    mapping,
    without_key,
)
from ._writes import EMPTY, FIELDS, TABLE, copied, key_of, table_rows, table_values


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
        await _mixins.expect(batch, _mixins.STAMPED, count, "stamped on insert")
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
            _mixins.create_many(mappings, instances, kind),
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
        await _mixins.expect(batch, "updated_at > created_at", count // 2, "stamped on update")
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
            _mixins.upsert_many(mappings, [_mixins.EMPTY, _mixins.copied(count // 2, spread=2)]),
            Variant(ADVANCED, advanced, "repo.upsert_many([Item(**row) ...])"),
        ],
        check=check,
        reps=1,
        rounds=sizes.bulk_rounds,
        reset=[EMPTY, copied(count // 2, spread=2)],
    )
