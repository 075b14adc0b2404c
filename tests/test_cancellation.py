"""Units of work cancelled mid-statement, between statements and during COMMIT.

Each cancelled unit writes a pair of rows: afterwards the table holds both rows of a pair
or neither, no connection stays checked out, no server session is left inside a
transaction, and the next unit of work commits.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sqla_repo import unit_of_work
from tests.models import Product, ProductRepository
from tests.servers import SERVERS, admin_connection, checked_out, open_transactions

SLOW_STATEMENT = {
    "postgresql": "SELECT pg_sleep(0.004)",
    "mysql": "SELECT SLEEP(0.004)",
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
        "SELECT count(*) FROM n"
    ),
}
"""A statement that runs for a few milliseconds."""
CANCELLED_UNITS = 200
BATCH = 10
"""Units running at once."""
SEED = 20240611

CancelPoint = Literal["timer", "statement", "between", "commit"]
CANCEL_POINTS: tuple[CancelPoint, ...] = ("timer", "statement", "between", "commit")
"""``timer``: after a random delay, wherever the unit is then (waiting for a connection,
mid-statement, closing...); ``statement``: while the n-th statement is in flight;
``between``: just after the n-th statement returned; ``commit``: while COMMIT is in flight."""


async def _skus(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Product.sku).order_by(Product.sku)))


class _Plan:
    """Cancel a task at the ``at``-th engine event of its ``point``."""

    def __init__(self, point: CancelPoint, at: int) -> None:
        self.point = point
        self.at = at
        self.seen = 0


@contextmanager
def _cancel_at_events(engine: AsyncEngine, plans: dict[asyncio.Task[Any], _Plan]) -> Iterator[None]:
    """Cancel each planned task at its event.

    The engine's events fire in the task itself, just before (``statement``, ``commit``) or
    just after (``between``) the driver call; the cancellation, scheduled for the loop's next
    turn, lands at the task's next wait: the driver's answer, or the unit's next step.
    """

    def listener(point: CancelPoint) -> Any:
        def fire(*args: Any, **kwargs: Any) -> None:
            task = asyncio.current_task()
            plan = plans.get(task) if task is not None else None
            if task is not None and plan is not None and plan.point == point:
                plan.seen += 1
                if plan.seen == plan.at:
                    asyncio.get_running_loop().call_soon(task.cancel)

        return fire

    hooks = [
        ("before_cursor_execute", listener("statement")),
        ("after_cursor_execute", listener("between")),
        ("commit", listener("commit")),
    ]
    for name, fire in hooks:
        event.listen(engine.sync_engine, name, fire)
    try:
        yield
    finally:
        for name, fire in hooks:
            event.remove(engine.sync_engine, name, fire)


async def test_cancelled_units_leave_no_partial_write_no_open_transaction_no_leak(
    backend: str, db_url: URL, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    slow = SLOW_STATEMENT[db_url.get_backend_name()]

    async def pair(n: int) -> None:
        async with unit_of_work(sessions) as session:
            repo = ProductRepository(session)
            await repo.create({"sku": f"{n:03}-a", "name": "a"})
            await session.execute(text(slow))
            await asyncio.sleep(0)
            await repo.create({"sku": f"{n:03}-b", "name": "b"})
            await asyncio.sleep(0)

    def point_of(n: int) -> CancelPoint:
        return CANCEL_POINTS[n % len(CANCEL_POINTS)]

    rng = random.Random(SEED)
    plans: dict[asyncio.Task[Any], _Plan] = {}
    cancelled: set[int] = set()
    failures: list[str] = []
    loop = asyncio.get_running_loop()
    with _cancel_at_events(engine, plans):
        for first in range(0, CANCELLED_UNITS, BATCH):
            tasks = {n: asyncio.create_task(pair(n)) for n in range(first, first + BATCH)}
            for n, task in tasks.items():
                if point_of(n) == "timer":
                    loop.call_later(rng.uniform(0, 0.03), task.cancel)
                else:
                    # three statements at least on every backend (SQLite adds its BEGIN)
                    at = 1 if point_of(n) == "commit" else rng.randint(1, 3)
                    plans[task] = _Plan(point_of(n), at)
            await asyncio.wait(tasks.values())
            for n, task in tasks.items():  # every outcome is retrieved, failures included
                if task.cancelled():
                    cancelled.add(n)
                elif (error := task.exception()) is not None:
                    failures.append(f"unit {n} ({point_of(n)}): {error!r}")
            if failures:
                break
    assert failures == []

    await asyncio.sleep(0.1)  # let the discarded connections' clean-up finish
    assert checked_out(engine) == 0
    if backend in SERVERS:
        async with admin_connection(db_url) as admin:
            assert await open_transactions(admin, backend) == []
    async with unit_of_work(sessions) as session:
        await ProductRepository(session).create({"sku": "next", "name": "next"})

    skus = set(await _skus(sessions))
    assert "next" in skus
    for n in range(CANCELLED_UNITS):
        written = {f"{n:03}-a", f"{n:03}-b"} & skus
        assert len(written) != 1, f"unit {n} ({point_of(n)}) committed half its pair"
        if n not in cancelled:
            assert len(written) == 2, f"unit {n} ran to the end, but its pair is missing"
    landed = {point: sum(point_of(n) == point for n in cancelled) for point in CANCEL_POINTS}
    # each way of cancelling landed many times (a cancellation may also come too late)
    assert all(count >= 10 for count in landed.values()), landed


async def test_a_statement_cut_off_by_cancellation_leaves_no_lock_behind(
    db_url: URL, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """The cut-off unit's locks are gone once it is cancelled, not whenever its objects
    happen to be garbage-collected (collection is off here, to be sure)."""
    slow = SLOW_STATEMENT[db_url.get_backend_name()]
    # its slow statement is the second one sent; SQLite sends its own BEGIN first
    slow_at = 3 if db_url.get_backend_name() == "sqlite" else 2

    async def cut_off() -> None:
        async with unit_of_work(sessions) as session:
            await ProductRepository(session).create({"sku": "cut-off", "name": "x"})
            await session.execute(text(slow))

    gc.disable()
    try:
        task = asyncio.create_task(cut_off())
        with (
            _cancel_at_events(engine, {task: _Plan("statement", slow_at)}),
            pytest.raises(asyncio.CancelledError),
        ):
            await task
        started = time.monotonic()
        async with unit_of_work(sessions) as session:  # no writer waits for the cut-off unit
            await ProductRepository(session).create({"sku": "next", "name": "x"})
        assert time.monotonic() - started < 1.0
    finally:
        gc.enable()
    assert await _skus(sessions) == ["next"]
    assert checked_out(engine) == 0
