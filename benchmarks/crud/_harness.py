"""The measuring harness: interleaved rounds, paired ratios, checked results, statement counts.

An :class:`Operation` is measured for every contender (a :class:`Variant`) in rounds:
each round runs one batch per contender, in a shuffled order, after an untimed
warm-up round. A batch runs in a fresh session (or raw connection) and transaction,
which is rolled back at the end: first the operation's reset SQL (or the variant's
own, for a contender with tables of its own) and the variant's set-up (untimed),
then ``reps`` timed calls, then the untimed check, whose result must be equal for
every contender and every round (for "sqla_repo + mixins", on the shared columns of
its live rows; it must also send as many statements as sqla_repo). The machine is
shared and noisy, so the result is the median of the per-round ratios between two
contenders, with their min-max, rather than absolute times.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ._raw import RawConnection, RawPool, StatementCounter

RAW = "raw driver"
CORE = "Core"
ORM = "ORM"
REPO = "sqla_repo"
REPO_COUNT = "sqla_repo (returning=False)"
REPO_MIXINS = "sqla_repo + mixins"
"""sqla_repo over models with the key, timestamp and soft-delete mixins (``_mixins``)."""
ADVANCED = "advanced-alchemy"
CONTENDERS = (RAW, CORE, ORM, REPO, REPO_COUNT, REPO_MIXINS, ADVANCED)
BASELINE = ORM
PAIRS = (
    *((name, BASELINE) for name in CONTENDERS if name != BASELINE),
    (REPO, RAW),
    (REPO, CORE),
    (REPO_COUNT, RAW),
    (REPO_COUNT, CORE),
    (REPO_MIXINS, REPO),
)
"""The ratios reported (numerator, denominator), where an operation has both."""


class BenchmarkError(RuntimeError):
    """A contender gave a result other than the others'."""


@dataclass
class Env:
    """One backend: the engine every SQLAlchemy-based contender shares, and the raw pool."""

    backend: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    raw: RawPool
    counter: StatementCounter

    def count_statements(self) -> None:
        """Count every cursor execute of the engine (executemany batches included)."""

        def counted(*_: object) -> None:
            self.counter.count += 1

        event.listen(self.engine.sync_engine, "before_cursor_execute", counted)


@dataclass
class Batch:
    """What one batch runs in: a session, or a raw connection for the raw driver."""

    env: Env
    contender: str
    _session: AsyncSession | None = None
    _raw: RawConnection | None = None
    traced: bool = False
    """The warm-up batch of an operation whose memory is traced."""

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise TypeError("a raw-driver batch has no session")
        return self._session

    @property
    def raw(self) -> RawConnection:
        if self._raw is None:
            raise TypeError("a SQLAlchemy batch has no raw connection")
        return self._raw

    async def execute(self, sql: str) -> None:
        """Plain SQL without parameters, in the batch's transaction (reset)."""
        if self._raw is not None:
            await self._raw.execute(sql)
        else:
            await self.session.execute(text(sql))

    async def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of plain SQL without parameters, in the batch's transaction (checks)."""
        if self._raw is not None:
            return [tuple(row) for row in await self._raw.fetch(sql)]
        return [tuple(row) for row in await self.session.execute(text(sql))]


@asynccontextmanager
async def open_batch(env: Env, variant: Variant) -> AsyncIterator[Batch]:
    """A batch in a new transaction, rolled back at the end."""
    if variant.raw:
        async with env.raw.acquire() as connection:
            await connection.begin()
            try:
                yield Batch(env, variant.contender, _raw=connection)
            finally:
                await connection.rollback()
    else:
        async with env.sessions() as session:
            await session.connection()  # checkout and BEGIN stay outside the timing
            try:
                yield Batch(env, variant.contender, _session=session)
            finally:
                await session.rollback()


Call = Callable[[int], Awaitable[object]]
"""One timed call; its argument is the call's number in the batch (0..reps-1)."""
Prepare = Callable[[Batch], Awaitable[Call]]
"""Untimed set-up in the batch (build rows, a repository, prepare statements)."""
Check = Callable[[Batch, list[object]], Awaitable[object]]
"""Untimed, in the batch: the comparable result, from every call's return value."""


@dataclass(frozen=True)
class Variant:
    contender: str
    prepare: Prepare
    how: str
    """What the contender calls, for the report."""
    raw: bool = False
    """Runs on a raw driver connection instead of a session."""
    reset: Sequence[str] | None = None
    """The variant's own reset SQL, run instead of the operation's (its own tables)."""


@dataclass(frozen=True)
class Operation:
    key: str
    title: str
    variants: Sequence[Variant]
    check: Check
    reps: int
    rounds: int
    reset: Sequence[str] = ()
    """Plain SQL run untimed at the start of every batch."""
    unit: str = "op"
    units: int = 1
    """Units per call: times are reported per unit (a row of a stream)."""
    missing: Mapping[str, str] = field(default_factory=dict)
    """Contender -> why it has no such operation."""
    memory: bool = False
    """Trace the warm-up round's peak Python memory per contender."""


@dataclass
class Ratio:
    median: float
    low: float
    high: float


@dataclass
class ContenderResult:
    how: str
    seconds: float
    """Median seconds per unit."""
    statements: float
    """Statements sent per call."""
    peak_bytes: int | None = None


@dataclass
class OperationResult:
    key: str
    title: str
    unit: str
    reps: int
    rounds: int
    contenders: dict[str, ContenderResult]
    ratios: dict[str, Ratio]
    """``"a / b"`` -> the median of the per-round ratios of a's time to b's."""
    missing: dict[str, str]


@dataclass
class BatchResult:
    seconds: float
    statements: int
    result: object
    peak_bytes: int | None


async def run_batch(env: Env, operation: Operation, variant: Variant, traced: bool) -> BatchResult:
    async with open_batch(env, variant) as batch:
        batch.traced = traced
        for sql in operation.reset if variant.reset is None else variant.reset:
            await batch.execute(sql)
        call = await variant.prepare(batch)
        gc.collect()
        returned: list[object] = []
        peak: int | None = None
        if traced:
            tracemalloc.start()
            tracemalloc.reset_peak()
        try:
            counted = env.counter.count
            start = time.perf_counter()
            for rep in range(operation.reps):
                returned.append(await call(rep))
            elapsed = time.perf_counter() - start
            statements = env.counter.count - counted
            if traced:
                peak = tracemalloc.get_traced_memory()[1]
        finally:
            if traced:
                tracemalloc.stop()
        result = await operation.check(batch, returned)
    return BatchResult(elapsed, statements, result, peak)


async def measure(env: Env, operation: Operation, shuffle: random.Random) -> OperationResult:
    """Run every variant interleaved, ``rounds`` times after the warm-up round."""
    times: dict[str, list[float]] = {variant.contender: [] for variant in operation.variants}
    statements: dict[str, int] = {}
    peaks: dict[str, int] = {}
    firsts: dict[bool, tuple[str, object]] = {}
    """The first result, of a traced batch and of an untraced one."""
    for round_number in range(operation.rounds + 1):  # round 0: the warm-up
        order = list(operation.variants)
        shuffle.shuffle(order)
        for variant in order:
            traced = operation.memory and round_number == 0
            done = await run_batch(env, operation, variant, traced)
            first_name, first = firsts.setdefault(traced, (variant.contender, done.result))
            if done.result != first:
                raise BenchmarkError(
                    f"{operation.title}: {variant.contender} gave {short(done.result)}, "
                    f"{first_name} gave {short(first)}"
                )
            if done.peak_bytes is not None:
                peaks[variant.contender] = done.peak_bytes
            if round_number > 0:
                times[variant.contender].append(done.seconds / (operation.reps * operation.units))
            statements[variant.contender] = done.statements
    mixed, plain = statements.get(REPO_MIXINS), statements.get(REPO)
    if mixed is not None and plain is not None and mixed != plain:  # the mixins' promise
        raise BenchmarkError(
            f"{operation.title}: {REPO_MIXINS} sent {mixed} statements, {REPO} {plain}"
        )
    contenders = {
        variant.contender: ContenderResult(
            how=variant.how,
            seconds=statistics.median(times[variant.contender]),
            statements=statements[variant.contender] / operation.reps,
            peak_bytes=peaks.get(variant.contender),
        )
        for variant in operation.variants
    }
    ratios: dict[str, Ratio] = {}
    for mine, theirs in PAIRS:
        if mine in times and theirs in times:
            per_round = [a / b for a, b in zip(times[mine], times[theirs], strict=True)]
            ratios[f"{mine} / {theirs}"] = Ratio(
                statistics.median(per_round), min(per_round), max(per_round)
            )
    return OperationResult(
        key=operation.key,
        title=operation.title,
        unit=operation.unit,
        reps=operation.reps,
        rounds=operation.rounds,
        contenders=contenders,
        ratios=ratios,
        missing=dict(operation.missing),
    )


def short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 160 else shown[:157] + "..."
