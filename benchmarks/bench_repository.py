"""Repository overhead against hand-written SQLAlchemy, side by side in one run.

    python benchmarks/bench_repository.py [URL ...]

For each URL (default: in-memory SQLite) it times the same operations written both
ways, alternating the variants over several rounds so machine noise hits both
alike, and prints the median time per operation and the ratio repository / raw.
Ratios, not absolute times, are the result: the machine is shared and noisy.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_repo import EngineFactory, Repository

ROUNDS = 7
OPS = 300


class BenchBase(DeclarativeBase):
    pass


class Item(BenchBase):
    __tablename__ = "bench_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class ItemRepository(Repository[Item, int]):
    pass


Op = Callable[[AsyncSession, int], Awaitable[object]]


async def raw_create(session: AsyncSession, n: int) -> object:
    item = Item(code=f"raw-{n}-{time.perf_counter_ns()}", name="x")
    session.add(item)
    await session.flush()
    return item


async def repo_create(session: AsyncSession, n: int) -> object:
    return await ItemRepository(session).create(
        {"code": f"repo-{n}-{time.perf_counter_ns()}", "name": "x"}
    )


async def raw_get(session: AsyncSession, n: int) -> object:
    session.expunge_all()
    return await session.get(Item, 1 + n % 50)


async def repo_get(session: AsyncSession, n: int) -> object:
    session.expunge_all()
    return await ItemRepository(session).get(1 + n % 50)


async def raw_list(session: AsyncSession, n: int) -> object:
    result = await session.scalars(select(Item).where(Item.id <= 20).order_by(Item.id).limit(20))
    return list(result.all())


async def repo_list(session: AsyncSession, n: int) -> object:
    return await ItemRepository(session).list(Item.id <= 20, limit=20)


async def raw_update(session: AsyncSession, n: int) -> object:
    item = await session.get(Item, 1 + n % 50)
    if item is None:
        raise LookupError(n)
    item.name = f"raw-{n}"
    await session.flush()
    return item


async def repo_update(session: AsyncSession, n: int) -> object:
    return await ItemRepository(session).update(1 + n % 50, name=f"repo-{n}")


PAIRS: dict[str, tuple[Op, Op]] = {
    "create": (raw_create, repo_create),
    "get": (raw_get, repo_get),
    "list": (raw_list, repo_list),
    "update": (raw_update, repo_update),
}


async def time_op(sessions: async_sessionmaker[AsyncSession], op: Op) -> float:
    async with sessions() as session, session.begin():
        start = time.perf_counter()
        for n in range(OPS):
            await op(session, n)
        elapsed = time.perf_counter() - start
        await session.rollback()
    return elapsed / OPS


async def bench(url: str) -> None:
    factory = EngineFactory(url)
    engine = factory.create_async_engine()
    sessions = factory.create_sessionmaker(engine)
    async with engine.begin() as connection:
        await connection.run_sync(BenchBase.metadata.drop_all)
        await connection.run_sync(BenchBase.metadata.create_all)
    async with sessions.begin() as session:
        session.add_all(Item(code=f"seed-{n}", name="seed") for n in range(100))
    print(f"\n{url.split('://')[0]}  ({ROUNDS} rounds x {OPS} ops, median per op)")
    print(f"{'operation':<10}{'raw µs':>10}{'repo µs':>10}{'ratio':>8}")
    try:
        for name, (raw, repo) in PAIRS.items():
            raw_times: list[float] = []
            repo_times: list[float] = []
            for _ in range(ROUNDS):
                raw_times.append(await time_op(sessions, raw))
                repo_times.append(await time_op(sessions, repo))
            raw_median = statistics.median(raw_times)
            repo_median = statistics.median(repo_times)
            print(
                f"{name:<10}{raw_median * 1e6:>10.1f}{repo_median * 1e6:>10.1f}"
                f"{repo_median / raw_median:>8.2f}"
            )
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(BenchBase.metadata.drop_all)
        await engine.dispose()


def main() -> None:
    urls = sys.argv[1:] or ["sqlite+aiosqlite:///:memory:"]
    for url in urls:
        asyncio.run(bench(url))


if __name__ == "__main__":
    main()
