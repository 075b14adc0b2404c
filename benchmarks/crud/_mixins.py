"""The "sqla_repo + mixins" contender: each operation through a ``Repository`` over a model
with ``BigIntPrimaryKeyMixin``, ``TimestampMixin`` and ``SoftDeleteMixin``.

Its tables are its own (``bench_crud_*_m``, see ``_models``): the same rows, plus the
timestamps and ``deleted_at``. Each function gives the variant of one operation, from
the operation's own helpers (the keys, rows and sizes of each call), so the calls are
exactly those of the plain sqla_repo contender. What the mixins change shows: reads
leave marked rows out (``deleted_at IS NULL``), writes stamp ``created_at`` and
``updated_at`` in Python, and ``delete`` is a soft delete, one ``UPDATE`` setting
``deleted_at``. A write check compares the live rows, on the shared columns, and
:func:`expect` checks what the mixins wrote.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from typing import Any

from ._harness import REPO_MIXINS, Batch, BenchmarkError, Call, Variant
from ._models import (
    MIXED_ITEMS,
    MIXED_WRITES,
    MixedItem,
    MixedItemRepository,
    MixedStreamed,
    MixedStreamedRepository,
    MixedWritten,
    MixedWrittenRepository,
)

TABLE = MIXED_WRITES.name
EMPTY = f"DELETE FROM {TABLE}"  # noqa: S608
LIVE = "deleted_at IS NULL"
STAMPED = "created_at = updated_at"
"""Both timestamps of a row inserted by one statement hold its one instant."""
NOTE = " (mixins model)"

Key = Callable[[int], int]
"""The key (or bound) a call uses, from its number in the batch."""


def copied(rows: int, spread: int = 1) -> str:
    """Rows 1..rows of the mixins' read table, timestamps included, as rows ``spread * n``."""
    return (
        f"INSERT INTO {TABLE} (id, code, name, score, created_at, updated_at) "  # noqa: S608
        f"SELECT id * {int(spread)}, code, name, score, created_at, updated_at "
        f"FROM {MIXED_ITEMS.name} WHERE id <= {int(rows)}"
    )


def written(batch: Batch, table: str) -> str:
    """What a write check reads: ``table``, or the mixins' live rows for their contender."""
    return f"{TABLE} WHERE {LIVE}" if batch.contender == REPO_MIXINS else table


async def expect(batch: Batch, condition: str, count: int, what: str) -> None:
    """For the mixins' contender: ``count`` rows of its table meet ``condition``."""
    if batch.contender != REPO_MIXINS:
        return
    found = await batch.fetch(f"SELECT count(*) FROM {TABLE} WHERE {condition}")  # noqa: S608
    if int(found[0][0]) != count:
        raise BenchmarkError(f"{REPO_MIXINS}: {found[0][0]} rows {what}, expected {count}")


# --- reads -----------------------------------------------------------------------------


def get(key: Key) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedItemRepository(batch.session)
        return lambda rep: repository.get(key(rep))

    return Variant(REPO_MIXINS, prepare, "repo.get(k)" + NOTE)


def get_fresh(key: Key) -> Variant:
    async def prepare(batch: Batch) -> Call:
        sessions = batch.env.sessions

        async def call(rep: int) -> object:
            async with sessions() as session:
                return await MixedItemRepository(session).get(key(rep))

        return call

    return Variant(REPO_MIXINS, prepare, "sessionmaker(); Repo(session).get(k)" + NOTE)


def list_rows(start: Key, page: int) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedItemRepository(batch.session)
        return lambda rep: repository.list(MixedItem.id > start(rep), limit=page)

    return Variant(REPO_MIXINS, prepare, "repo.list(Item.id > k, limit=n)" + NOTE)


def page_keyset(deep_key: Key, page: int, reps: int) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedItemRepository(batch.session)
        cursors: list[str] = []
        for rep in range(reps):
            before = await repository.paginate(MixedItem.id >= deep_key(rep), limit=1)
            if before.next_cursor is None:
                raise RuntimeError("the table ends before the page")
            cursors.append(before.next_cursor)
        return lambda rep: repository.paginate(limit=page, after=cursors[rep])

    return Variant(REPO_MIXINS, prepare, "repo.paginate(limit=n, after=cursor)" + NOTE)


def page_offset(deep_key: Key, page: int) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedItemRepository(batch.session)
        return lambda rep: repository.list(limit=page, offset=deep_key(rep))

    return Variant(REPO_MIXINS, prepare, "repo.list(limit=n, offset=k)" + NOTE)


def count(below: int) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedItemRepository(batch.session)
        return lambda rep: repository.count(MixedItem.score < below)

    return Variant(REPO_MIXINS, prepare, "repo.count(cond)" + NOTE)


def exists(score: int) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedItemRepository(batch.session)
        return lambda rep: repository.exists(MixedItem.score == score)

    return Variant(REPO_MIXINS, prepare, "repo.exists(cond)" + NOTE)


def stream(
    last: Callable[[Batch], int],
    batch_size: int,
    consume: Callable[[AsyncIterable[MixedStreamed]], Awaitable[object]],
) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedStreamedRepository(batch.session)
        return lambda rep: consume(
            repository.stream(MixedStreamed.id <= last(batch), batch_size=batch_size)
        )

    return Variant(REPO_MIXINS, prepare, f"repo.stream(batch_size={batch_size})" + NOTE)


# --- writes ----------------------------------------------------------------------------


def create(row: Callable[[int], dict[str, Any]]) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedWrittenRepository(batch.session)
        return lambda rep: repository.create(row(rep))

    return Variant(REPO_MIXINS, prepare, "repo.create(row)" + NOTE, reset=[EMPTY])


def update(key: Key, name: Callable[[int], str], reset: Sequence[str]) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedWrittenRepository(batch.session)
        return lambda rep: repository.update(key(rep), name=name(rep))

    return Variant(REPO_MIXINS, prepare, "repo.update(k, name=v)" + NOTE, reset=reset)


def delete(key: Key, reset: Sequence[str]) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository = MixedWrittenRepository(batch.session)
        return lambda rep: repository.delete(key(rep))

    how = "repo.delete(k), a soft delete: one UPDATE of deleted_at" + NOTE
    return Variant(REPO_MIXINS, prepare, how, reset=reset)


def create_many(
    mappings: Callable[[], list[dict[str, Any]]], instances: bool, kind: str
) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository, rows = MixedWrittenRepository(batch.session), mappings()
        given: list[Any] = [MixedWritten(**row) for row in rows] if instances else rows
        return lambda rep: repository.create_many(given)

    return Variant(REPO_MIXINS, prepare, f"repo.create_many({kind})" + NOTE, reset=[EMPTY])


def upsert_many(mappings: Callable[[], list[dict[str, Any]]], reset: Sequence[str]) -> Variant:
    async def prepare(batch: Batch) -> Call:
        repository, rows = MixedWrittenRepository(batch.session), mappings()
        return lambda rep: repository.upsert_many(rows)

    return Variant(REPO_MIXINS, prepare, "repo.upsert_many(mappings)" + NOTE, reset=reset)
