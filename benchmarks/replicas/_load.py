"""The table, the per-server counts and the timed loops of each scenario."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, event, insert, update
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_repo import Cluster, unit_of_work
from sqla_repo._cluster import READ_SESSION

TASKS = 20
"""Concurrent asyncio tasks in every scenario."""
SERVERS = ("primary", "standby 1", "standby 2")


class _Base(DeclarativeBase):
    pass


class Item(_Base):
    __tablename__ = "bench_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int]
    name: Mapped[str] = mapped_column(String(40))


async def create_items(engine: AsyncEngine, rows: int) -> None:
    """``bench_items`` with ``rows`` rows (value 0), on the engine's server."""
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.drop_all)
        await connection.run_sync(_Base.metadata.create_all)
        values = [{"id": key, "value": 0, "name": f"item {key}"} for key in range(1, rows + 1)]
        await connection.execute(insert(Item), values)


class Served:
    """Counts, per server, the ``bench_items`` SELECTs of read sessions (``flagged``) and
    of other sessions: a ``before_cursor_execute`` listener on each engine of a cluster,
    whose events also fire for the read-only views read sessions run on."""

    def __init__(self, cluster: Cluster) -> None:
        self.counts: collections.Counter[tuple[str, bool]] = collections.Counter()
        engines = (cluster.primary, *cluster.replicas)
        for name, engine in zip(SERVERS, engines, strict=True):
            event.listen(engine.sync_engine, "before_cursor_execute", self._listener(name))

    def _listener(self, name: str) -> Callable[..., None]:
        def count(
            conn: Connection,
            cursor: Any,
            statement: str,
            parameters: Any,
            context: ExecutionContext | None,
            executemany: bool,
        ) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "bench_items" in statement:
                flagged = bool(conn.get_execution_options().get(READ_SESSION))
                self.counts[name, flagged] += 1

        return count

    def shares(self, read_sessions: bool) -> dict[str, int]:
        return {name: self.counts[name, read_sessions] for name in SERVERS}


@dataclass
class Result:
    """One scenario: timed read (or baseline) sessions and what served them."""

    scenario: str
    routing: str
    sessions: int
    seconds: float
    latencies: list[float] = field(repr=False)
    served: dict[str, int]
    stale: int
    write_latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.sessions / self.seconds

    def quantile(self, q: float, writes: bool = False) -> float:
        """Nearest rank, in ms."""
        found = sorted(self.write_latencies if writes else self.latencies)
        return 1000 * found[min(len(found) - 1, max(0, round(q * len(found)) - 1))]

    def share(self, server: str) -> float:
        return 100 * self.served[server] / max(1, sum(self.served.values()))


# One step of a task: (read-session seconds, write seconds or None, stale read).
Step = Callable[[int, int], Awaitable[tuple[float, float | None, bool]]]


class Bench:
    """The scenarios' steps, over one cluster; ``expected`` holds each row's last value."""

    def __init__(self, cluster: Cluster, rows: int, expected: dict[int, int]) -> None:
        self.cluster = cluster
        self.rows = rows
        self.expected = expected
        self.served = Served(cluster)

    def _key(self, task: int, step: int) -> int:
        return (task * 7_919 + step * 104_729) % self.rows + 1  # spread, repeatable

    async def primary_lookup(self, task: int, step: int) -> tuple[float, float | None, bool]:
        key = self._key(task, step)
        started = time.perf_counter()
        async with self.cluster.sessionmaker()() as session:
            item = await session.get(Item, key)
        seconds = time.perf_counter() - started
        return seconds, None, item is None or item.value != self.expected.get(key, 0)

    async def read_lookup(self, task: int, step: int) -> tuple[float, float | None, bool]:
        key = self._key(task, step)
        started = time.perf_counter()
        async with self.cluster.read_session() as session:
            item = await session.get(Item, key)
        seconds = time.perf_counter() - started
        return seconds, None, item is None or item.value != self.expected.get(key, 0)

    async def write_then_read(self, task: int, step: int) -> tuple[float, float | None, bool]:
        """UPDATE the task's own row on the primary, then read it back in a read session."""
        key = task + 1  # only this task writes this row
        value = self.expected.get(key, 0) + 1
        started = time.perf_counter()
        async with unit_of_work(self.cluster.sessionmaker()) as session:
            await session.execute(update(Item).where(Item.id == key).values(value=value))
        written = time.perf_counter() - started
        self.expected[key] = value
        started = time.perf_counter()
        async with self.cluster.read_session() as session:
            item = await session.get(Item, key)
            seen = None if item is None else item.value
        return time.perf_counter() - started, written, seen != value

    async def touch(self) -> None:
        """One write in a primary session, so that the cluster has a position."""
        key = self.rows
        async with unit_of_work(self.cluster.sessionmaker()) as session:
            await session.execute(update(Item).where(Item.id == key).values(value=0))
        self.expected[key] = 0


async def run(
    bench: Bench,
    step: Step,
    *,
    scenario: str,
    routing: str,
    sessions: int,
    warmup: int,
    read_sessions: bool = True,
) -> Result:
    """``warmup`` untimed steps, then ``sessions`` timed ones, over :data:`TASKS` tasks."""

    async def loop(task: int, first: int, count: int, out: list[Any]) -> None:
        for number in range(first, first + count):
            out.append(await step(task, number))

    def spread(total: int) -> list[int]:
        return [total // TASKS + (t < total % TASKS) for t in range(TASKS)]

    discard: list[Any] = []
    await asyncio.gather(*(loop(t, 0, n, discard) for t, n in enumerate(spread(warmup))))
    bench.served.counts.clear()
    found: list[tuple[float, float | None, bool]] = []
    started = time.perf_counter()
    await asyncio.gather(*(loop(t, 10**6, n, found) for t, n in enumerate(spread(sessions))))
    seconds = time.perf_counter() - started
    return Result(
        scenario=scenario,
        routing=routing,
        sessions=len(found),
        seconds=seconds,
        latencies=[read for read, _, _ in found],
        served=bench.served.shares(read_sessions),
        stale=sum(stale for _, _, stale in found),
        write_latencies=[write for _, write, _ in found if write is not None],
    )
