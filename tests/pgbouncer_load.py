"""One process of the PgBouncer load test: ``python -m tests.pgbouncer_load URL TABLE NAME``.

20 concurrent workers, each running 25 transactions of 4 different statements through
``EngineFactory(URL, pgbouncer=True)``; prints ``ok 500`` when every transaction
committed, else the first failure and exits 1.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from sqla_repo import EngineFactory, PoolConfig, unit_of_work

WORKERS = 20
TRANSACTIONS = 25


async def main(url: str, table: str, name: str) -> int:
    factory = EngineFactory(url, pgbouncer=True, pool=PoolConfig(size=10, max_overflow=10))
    engine = factory.create_async_engine()
    sessions = factory.create_sessionmaker(engine)
    done = 0

    async def worker(number: int) -> None:
        nonlocal done
        key = f"{name}-{number}"
        for _ in range(TRANSACTIONS):
            async with unit_of_work(sessions) as session:
                await session.execute(
                    text(f"INSERT INTO {table} (worker, n) VALUES (:k, 0) ON CONFLICT DO NOTHING"),
                    {"k": key},
                )
                await session.execute(
                    text(f"UPDATE {table} SET n = n + 1 WHERE worker = :k"), {"k": key}
                )
                await session.execute(text(f"SELECT n FROM {table} WHERE worker = :k"), {"k": key})
                await session.execute(
                    text("SELECT count(*) FROM pg_class WHERE relname = :t"), {"t": table}
                )
            done += 1

    try:
        await asyncio.gather(*(worker(n) for n in range(WORKERS)))
    except Exception as err:  # the first failure, for the test's message
        print(f"failed after {done}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print("ok", done)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
