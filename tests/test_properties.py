"""Property-based: random sequences of repository operations agree with a plain model.

Hypothesis draws sequences of steps (create, update, delete, get, list, upsert,
update_where, and injected failures: a unit that writes then raises, a unit cancelled
mid-flight, a unit whose own connection is killed) and runs each step in its own
``unit_of_work`` through ``ProductRepository``. A plain dict, sku -> committed row,
models what the table must hold. After every step the whole table, read through a
fresh session, must equal the model (a cancelled unit's write: all of it or none of
it), what the repository returned must match it, and every row must be writable (no
transaction left behind holding locks).

How it runs: ``@given`` and async fixtures do not mix, so the test is synchronous. It
opens one ``asyncio.Runner`` (one event loop) per backend, builds the engine in it, and
every Hypothesis example runs its steps with ``runner.run(...)`` on that loop. On the
servers each example starts by emptying the table; on SQLite each example gets a new
database. Examples are derandomized (the same ones on every run) and Hypothesis's
example database is off, so CI runs are reproducible. Cancellations come two ways:
after a drawn delay (what production sees) and at a drawn database call (statement,
COMMIT, ROLLBACK, pool reset), which lands at the same point on every run.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import ColumnElement, delete, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from sqla_repo import (
    CheckViolationError,
    ConflictError,
    DatabaseUnavailableError,
    EngineFactory,
    NotFoundError,
    RepositoryError,
    unit_of_work,
)
from tests.conftest import METADATAS
from tests.models import Product, ProductRepository

MAX_EXAMPLES = int(os.environ.get("SQLA_REPO_PROPERTY_EXAMPLES", "100"))
"""Examples per backend; raise it for a longer local search (CI keeps the default)."""
MAX_STEPS = 20
PRODUCTS = Product.metadata.tables["products"]
MISSING_ID = 999_999
"""A key no row has (the model never gets near it)."""
SETTLE_SECONDS = 5.0
"""How long a killed or cancelled unit's server session may take to end."""


# --- the model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """A committed row; ``id`` is ``None`` for a row a step created, until the table says."""

    id: int | None
    name: str
    price_cents: int
    stock: int


Model = Mapping[str, Stored]
"""sku -> row: what the table holds."""

RowTuple = tuple[int | None, str, str, int, int]
"""(id, sku, name, price_cents, stock): a row as the checks compare it."""


def row_of(model: Model, sku: str) -> RowTuple:
    stored = model[sku]
    return (stored.id, sku, stored.name, stored.price_cents, stored.stock)


def rows_by_id(model: Model) -> list[RowTuple]:
    return sorted((row_of(model, sku) for sku in model), key=lambda row: (row[0] or 0, row[1]))


def product_row(product: object) -> RowTuple:
    assert isinstance(product, Product), f"expected a Product, got {product!r}"
    return (product.id, product.sku, product.name, product.price_cents, product.stock)


def key_of(model: Model, sku: str) -> int:
    """The primary key of the row with ``sku``, or a key no row has."""
    if sku not in model:
        return MISSING_ID
    stored = model[sku]
    assert stored.id is not None
    return stored.id


def agree(candidate: Model, table: Model) -> bool:
    """Whether the table holds exactly the candidate's rows (any key for a new row)."""
    if candidate.keys() != table.keys():
        return False
    for sku, want in candidate.items():
        got = table[sku]
        if (want.name, want.price_cents, want.stock) != (got.name, got.price_cents, got.stock):
            return False
        if want.id is not None and want.id != got.id:
            return False
    return True


@dataclass(frozen=True)
class Expected:
    """What a step must do: fail with one of ``errors`` (table unchanged), or commit ``after``."""

    after: Model
    errors: tuple[type[RepositoryError], ...] = ()


# --- operations -------------------------------------------------------------------------


class Op:
    """One repository call, run in a unit of work of its own."""

    def expect(self, model: Model) -> Expected:
        raise NotImplementedError

    async def perform(self, repo: ProductRepository, model: Model) -> object:
        raise NotImplementedError

    def expected_result(self, before: Model, after: Model) -> object:
        """What ``perform`` must return, given the table before and after."""
        return None

    def observed(self, result: object) -> object:
        """``perform``'s result in the form ``expected_result`` gives it."""
        return result


@dataclass(frozen=True)
class Get(Op):
    sku: str

    def expect(self, model: Model) -> Expected:
        return Expected(model)

    async def perform(self, repo: ProductRepository, model: Model) -> object:
        return await repo.get(key_of(model, self.sku))

    def expected_result(self, before: Model, after: Model) -> object:
        return row_of(before, self.sku) if self.sku in before else None

    def observed(self, result: object) -> object:
        return None if result is None else product_row(result)


@dataclass(frozen=True)
class ListRows(Op):
    min_price: int | None

    def expect(self, model: Model) -> Expected:
        return Expected(model)

    async def perform(self, repo: ProductRepository, model: Model) -> object:
        where: list[ColumnElement[bool]] = []
        if self.min_price is not None:
            where.append(Product.price_cents >= self.min_price)
        return await repo.list(*where)

    def expected_result(self, before: Model, after: Model) -> object:
        return [
            row for row in rows_by_id(before) if self.min_price is None or row[3] >= self.min_price
        ]

    def observed(self, result: object) -> object:
        assert isinstance(result, list)
        return [product_row(product) for product in result]


@dataclass(frozen=True)
class Create(Op):
    sku: str
    name: str
    price_cents: int
    stock: int

    def expect(self, model: Model) -> Expected:
        errors: list[type[RepositoryError]] = []
        if self.sku in model:
            errors.append(ConflictError)
        if self.price_cents < 0:
            errors.append(CheckViolationError)  # with a duplicate too: either is right
        if errors:
            return Expected(model, tuple(errors))
        return Expected({**model, self.sku: Stored(None, self.name, self.price_cents, self.stock)})

    async def perform(self, repo: ProductRepository, model: Model) -> object:
        return await repo.create(
            {
                "sku": self.sku,
                "name": self.name,
                "price_cents": self.price_cents,
                "stock": self.stock,
            }
        )

    def expected_result(self, before: Model, after: Model) -> object:
        return row_of(after, self.sku)

    def observed(self, result: object) -> object:
        return product_row(result)


@dataclass(frozen=True)
class Update(Op):
    sku: str
    new_sku: str | None
    name: str | None
    price_cents: int | None
    stock: int | None

    def changes(self) -> dict[str, object]:
        fields = {
            "sku": self.new_sku,
            "name": self.name,
            "price_cents": self.price_cents,
            "stock": self.stock,
        }
        return {name: value for name, value in fields.items() if value is not None}

    def target(self) -> str:
        return self.sku if self.new_sku is None else self.new_sku

    def expect(self, model: Model) -> Expected:
        if self.sku not in model:
            return Expected(model, (NotFoundError,))
        errors: list[type[RepositoryError]] = []
        if self.target() != self.sku and self.target() in model:
            errors.append(ConflictError)
        if self.price_cents is not None and self.price_cents < 0:
            errors.append(CheckViolationError)
        if errors:
            return Expected(model, tuple(errors))
        old = model[self.sku]
        new = Stored(
            old.id,
            old.name if self.name is None else self.name,
            old.price_cents if self.price_cents is None else self.price_cents,
            old.stock if self.stock is None else self.stock,
        )
        after = {sku: stored for sku, stored in model.items() if sku != self.sku}
        after[self.target()] = new
        return Expected(after)

    async def perform(self, repo: ProductRepository, model: Model) -> object:
        return await repo.update(key_of(model, self.sku), self.changes())

    def expected_result(self, before: Model, after: Model) -> object:
        return row_of(after, self.target())

    def observed(self, result: object) -> object:
        return product_row(result)


@dataclass(frozen=True)
class Delete(Op):
    sku: str

    def expect(self, model: Model) -> Expected:
        if self.sku not in model:
            return Expected(model, (NotFoundError,))
        return Expected({sku: stored for sku, stored in model.items() if sku != self.sku})

    async def perform(self, repo: ProductRepository, model: Model) -> object:
        await repo.delete(key_of(model, self.sku))
        return None


@dataclass(frozen=True)
class Upsert(Op):
    """Insert, or update name, price and stock of the row with the same sku."""

    sku: str
    name: str
    price_cents: int
    stock: int

    def expect(self, model: Model) -> Expected:
        if self.price_cents < 0:
            return Expected(model, (CheckViolationError,))
        old_id = model[self.sku].id if self.sku in model else None
        return Expected(
            {**model, self.sku: Stored(old_id, self.name, self.price_cents, self.stock)}
        )

    async def perform(self, repo: ProductRepository, model: Model) -> object:
        item = {
            "sku": self.sku,
            "name": self.name,
            "price_cents": self.price_cents,
            "stock": self.stock,
        }
        return await repo.upsert(item, on=["sku"])

    def expected_result(self, before: Model, after: Model) -> object:
        return row_of(after, self.sku)

    def observed(self, result: object) -> object:
        return product_row(result)


@dataclass(frozen=True)
class UpdateWhere(Op):
    """``column = column + delta WHERE price_cents > min_price``: returns the rows matched."""

    min_price: int
    column: Literal["stock", "price_cents"]
    delta: int

    def matched(self, model: Model) -> list[str]:
        return [sku for sku, stored in model.items() if stored.price_cents > self.min_price]

    def expect(self, model: Model) -> Expected:
        after = dict(model)
        for sku in self.matched(model):
            old = model[sku]
            if self.column == "stock":
                after[sku] = Stored(old.id, old.name, old.price_cents, old.stock + self.delta)
            elif old.price_cents + self.delta < 0:
                return Expected(model, (CheckViolationError,))
            else:
                after[sku] = Stored(old.id, old.name, old.price_cents + self.delta, old.stock)
        return Expected(after)

    async def perform(self, repo: ProductRepository, model: Model) -> object:
        column = Product.stock if self.column == "stock" else Product.price_cents
        return await repo.update_where(
            Product.price_cents > self.min_price, values={column: column + self.delta}
        )

    def expected_result(self, before: Model, after: Model) -> object:
        return len(self.matched(before))


Write = Create | Update | Delete | Upsert | UpdateWhere


# --- injected failures ------------------------------------------------------------------


class InjectedError(Exception):
    """Raised by a unit after it wrote: the unit must roll back."""


@dataclass(frozen=True)
class Failing:
    """The unit writes, then raises: nothing of it is committed."""

    write: Write


@dataclass(frozen=True)
class Cancelled:
    """The unit's task is cancelled ``delay_ms`` after it started: its write is then all
    there or not at all."""

    write: Write
    delay_ms: float


@dataclass(frozen=True)
class CancelledAt:
    """The unit's task is cancelled while its ``call``-th database call (a statement,
    COMMIT, ROLLBACK or the pool's reset) is in flight: reproducible, unlike a delay."""

    write: Write
    call: int


@dataclass(frozen=True)
class Killed:
    """The unit's own connection is killed mid-unit: before its write, or after it and
    then the unit reads or commits. The unit fails with DatabaseUnavailableError."""

    write: Write
    when: Literal["before write", "then read", "then commit"]


Step = Op | Failing | Cancelled | CancelledAt | Killed


# --- strategies -------------------------------------------------------------------------

SKUS = st.sampled_from(("a", "b", "c", "d", "e"))
NAMES = st.text(alphabet="xyé€ ", max_size=6)
PRICES = st.one_of(st.integers(0, 1000), st.integers(-3, -1))
STOCKS = st.integers(-5, 50)

WRITES: st.SearchStrategy[Write] = st.one_of(
    st.builds(Create, SKUS, NAMES, PRICES, STOCKS),
    st.builds(
        Update,
        SKUS,
        st.none() | SKUS,
        st.none() | NAMES,
        st.none() | PRICES,
        st.none() | STOCKS,
    ).filter(lambda update: bool(update.changes())),
    st.builds(Delete, SKUS),
    st.builds(Upsert, SKUS, NAMES, PRICES, STOCKS),
    st.builds(
        UpdateWhere,
        st.integers(-1, 1000),
        st.sampled_from(("stock", "price_cents")),
        st.integers(-300, 300),
    ),
)


def steps(kill: bool) -> st.SearchStrategy[list[Step]]:
    choices: list[st.SearchStrategy[Step]] = [
        st.builds(Get, SKUS),
        st.builds(ListRows, st.none() | st.integers(0, 1000)),
        WRITES,
        WRITES,
        WRITES,
        st.builds(Failing, WRITES),
        st.builds(Cancelled, WRITES, st.integers(0, 40).map(lambda n: n / 8)),
        st.builds(CancelledAt, WRITES, st.integers(1, 6)),
    ]
    if kill:
        whens = st.sampled_from(("before write", "then read", "then commit"))
        choices.append(st.builds(Killed, WRITES, whens))
    return st.lists(st.one_of(choices), min_size=1, max_size=MAX_STEPS)


# --- running steps against a database ---------------------------------------------------


@dataclass
class Outcome:
    """What the table may hold after a step (first that agrees wins), and a check of the
    step's result against the table it left."""

    candidates: list[Model]
    check: Callable[[Model], None] = lambda table: None


async def products_engine(factory: EngineFactory) -> AsyncEngine:
    """An engine over the factory's database, holding an empty ``products`` table."""
    engine = factory.create_async_engine()
    async with engine.begin() as connection:
        for metadata in reversed(METADATAS):
            await connection.run_sync(metadata.drop_all)
        await connection.run_sync(Product.metadata.create_all, tables=[PRODUCTS])
    return engine


_TOUCH_EVERY_ROW = {
    # a no-op write of every row, which waits a short while for a lock a step left behind
    "postgresql": ("SET LOCAL lock_timeout = '2s'", "UPDATE products SET stock = stock"),
    "mysql": ("SET STATEMENT innodb_lock_wait_timeout = 2 FOR UPDATE products SET stock = stock",),
    "sqlite-file": ("UPDATE products SET stock = stock",),
    "sqlite-memory": ("UPDATE products SET stock = stock",),
}


@dataclass
class Harness:
    backend: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    admin: AsyncConnection | None
    """An autocommit connection that kills and watches the units' server sessions."""
    fresh: Callable[[], EngineFactory] | None
    """SQLite: a new database for every example. A connection leaked with its locks (a
    bug) stays in its own example's database, so Hypothesis blames the right example."""

    @classmethod
    async def open(
        cls, backend: str, db_url: URL, factory: EngineFactory, scratch: Path
    ) -> Harness:
        fresh: Callable[[], EngineFactory] | None = None
        if backend == "sqlite-file":
            numbers = itertools.count()

            def fresh() -> EngineFactory:
                path = scratch / f"example-{next(numbers)}.db"
                return EngineFactory(db_url.set(database=str(path)), pool=factory.pool)

        elif backend == "sqlite-memory":

            def fresh() -> EngineFactory:
                return EngineFactory(db_url, pool=factory.pool)

        engine = await products_engine(factory)
        admin: AsyncConnection | None = None
        if backend in ("postgresql", "mysql"):
            admin_engine = create_async_engine(
                db_url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
            )
            admin = await admin_engine.connect()
        return cls(backend, engine, factory.create_sessionmaker(engine), admin, fresh)

    async def close(self) -> None:
        try:
            if self.admin is not None:
                await self.admin.close()
                await self.admin.engine.dispose()
            async with self.engine.begin() as connection:
                await connection.run_sync(Product.metadata.drop_all, tables=[PRODUCTS])
        finally:
            await self.engine.dispose()

    # --- the table ----------------------------------------------------------------------

    async def table(self) -> dict[str, Stored]:
        """Every row, read through a fresh session."""
        columns = (Product.id, Product.sku, Product.name, Product.price_cents, Product.stock)
        async with self.sessions() as session:
            rows = (await session.execute(select(*columns).order_by(Product.id))).all()
        return {sku: Stored(id_, name, price, stock) for id_, sku, name, price, stock in rows}

    async def assert_unlocked(self, number: int, step: Step) -> None:
        """Every row can be written: the step left no transaction holding locks behind."""
        sqlite = self.backend.startswith("sqlite")
        async with self.engine.connect() as connection:
            if sqlite:  # wait 0.25 s, not the engine's busy timeout, for a lock left behind
                busy_timeout = await connection.scalar(text("PRAGMA busy_timeout"))
                await connection.execute(text("PRAGMA busy_timeout = 250"))
            try:
                for statement in _TOUCH_EVERY_ROW[self.backend]:
                    await connection.execute(text(statement))
                await connection.commit()
            except Exception as err:
                raise AssertionError(
                    f"step {number} {step!r} left the table locked: another writer gets "
                    f"{type(err).__name__}: {str(err).splitlines()[0]}"
                ) from err
            finally:
                await connection.rollback()
                if sqlite:
                    await connection.execute(text(f"PRAGMA busy_timeout = {int(busy_timeout)}"))
                    await connection.commit()

    # --- examples and steps -------------------------------------------------------------

    async def run(self, sequence: Sequence[Step]) -> None:
        if self.fresh is None:
            async with self.engine.begin() as connection:
                await connection.execute(delete(Product))
            await self.run_steps(sequence)
            return
        factory = self.fresh()
        engine = await products_engine(factory)
        shared = self.engine, self.sessions
        self.engine, self.sessions = engine, factory.create_sessionmaker(engine)
        try:
            await self.run_steps(sequence)
        finally:
            self.engine, self.sessions = shared
            await engine.dispose()  # a file database stays in the test's tmp_path

    async def run_steps(self, sequence: Sequence[Step]) -> None:
        model: Model = {}
        assert await self.table() == model
        for number, step in enumerate(sequence, 1):
            note(f"step {number}: {step!r}")
            outcome = await self.step(step, model)
            table = await self.table()
            agreeing = [candidate for candidate in outcome.candidates if agree(candidate, table)]
            assert agreeing, (
                f"step {number} {step!r}: the table disagrees with the model\n"
                f"table:    {rows_by_id(table)}\n"
                + "".join(f"expected: {rows_by_id(c)}\n" for c in outcome.candidates)
            )
            outcome.check(table)
            await self.assert_unlocked(number, step)
            model = table

    async def step(self, step: Step, model: Model) -> Outcome:
        if isinstance(step, Failing):
            return await self.failing(step, model)
        if isinstance(step, Cancelled | CancelledAt):
            return await self.cancelled(step, model)
        if isinstance(step, Killed):
            return await self.killed(step, model)
        return await self.plain(step, model)

    async def plain(self, op: Op, before: Model) -> Outcome:
        expected = op.expect(before)
        try:
            async with unit_of_work(self.sessions) as session:
                result = await op.perform(ProductRepository(session), before)
        except RepositoryError as err:
            assert_expected_error(op, err, expected)
            return Outcome([before])
        assert not expected.errors, f"{op!r} succeeded; expected one of {expected.errors}"
        return Outcome([expected.after], result_check(op, result, before))

    async def failing(self, step: Failing, before: Model) -> Outcome:
        expected = step.write.expect(before)
        try:
            async with unit_of_work(self.sessions) as session:
                await step.write.perform(ProductRepository(session), before)
                raise InjectedError
        except InjectedError:
            assert not expected.errors, f"{step!r}: the write should have failed first"
        except RepositoryError as err:
            assert_expected_error(step.write, err, expected)
        return Outcome([before])

    async def cancelled(self, step: Cancelled | CancelledAt, before: Model) -> Outcome:
        expected = step.write.expect(before)
        server_session: list[int] = []

        async def unit() -> object:
            async with unit_of_work(self.sessions) as session:
                if self.admin is not None:
                    server_session.append(await self.server_session_id(session))
                return await step.write.perform(ProductRepository(session), before)

        task = asyncio.create_task(unit())
        if isinstance(step, Cancelled):
            await asyncio.sleep(step.delay_ms / 1000)
            task.cancel()
            landed = await self.wait_for(task)
        else:
            with cancel_at_call(self.engine, task, step.call):
                landed = await self.wait_for(task)
        if landed == "cancelled":
            event("cancellation landed mid-unit")
            outcome = Outcome([before, expected.after])
        elif isinstance(landed, RepositoryError):
            assert_expected_error(step.write, landed, expected)
            outcome = Outcome([before])
        else:
            event("cancellation came too late")
            assert not expected.errors, f"{step!r} succeeded; expected one of {expected.errors}"
            outcome = Outcome([expected.after], result_check(step.write, landed.result, before))
        if server_session:
            # the server session must end or be idle outside any transaction; until it
            # is, its COMMIT may still be landing
            await self.settled(server_session[0], step)
        return outcome

    @staticmethod
    async def wait_for(task: asyncio.Task[object]) -> Literal["cancelled"] | Done | RepositoryError:
        try:
            return Done(await task)
        except asyncio.CancelledError:
            if not task.cancelled():  # this test's own task was cancelled
                raise
            return "cancelled"
        except RepositoryError as err:
            return err

    async def killed(self, step: Killed, before: Model) -> Outcome:
        # killed before its write, the unit cannot fail any other way
        expected = Expected(before) if step.when == "before write" else step.write.expect(before)
        try:
            async with unit_of_work(self.sessions) as session:
                victim = await self.server_session_id(session)
                repo = ProductRepository(session)
                if step.when == "before write":
                    await self.kill(victim, step)
                await step.write.perform(repo, before)
                if step.when != "before write":
                    await self.kill(victim, step)
                if step.when == "then read":
                    await repo.list()
        except DatabaseUnavailableError:
            event(f"killed: {step.when}")
        except RepositoryError as err:
            assert_expected_error(step.write, err, expected)
        else:
            pytest.fail(f"{step!r}: a unit whose connection was killed raised nothing")
        return Outcome([before])

    # --- server sessions ----------------------------------------------------------------

    async def server_session_id(self, session: AsyncSession) -> int:
        query = (
            "SELECT pg_backend_pid()" if self.backend == "postgresql" else "SELECT CONNECTION_ID()"
        )
        return int(await session.scalar(text(query)))

    async def kill(self, victim: int, step: Killed) -> None:
        assert self.admin is not None
        if self.backend == "postgresql":
            # waits (up to 5 s) until the backend has exited
            terminated = await self.admin.scalar(
                text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": victim}
            )
            assert terminated is True, f"{step!r}: pg_terminate_backend({victim}) failed"
        else:
            await self.admin.execute(text(f"KILL CONNECTION {victim:d}"))
            deadline = time.monotonic() + SETTLE_SECONDS
            while await self.admin.scalar(
                text("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = :id"),
                {"id": victim},
            ):
                assert time.monotonic() < deadline, f"{step!r}: KILL {victim} did not end it"
                await asyncio.sleep(0.005)

    async def settled(self, victim: int, step: Cancelled | CancelledAt) -> None:
        """Wait until the server session ``victim`` is gone or idle outside a transaction."""
        assert self.admin is not None
        if self.backend == "postgresql":
            query = text("SELECT state FROM pg_stat_activity WHERE pid = :id")
        else:
            query = text(
                "SELECT CONCAT(p.COMMAND, IF(t.trx_id IS NULL, '', ' in transaction')) "
                "FROM information_schema.PROCESSLIST p "
                "LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID "
                "WHERE p.ID = :id"
            )
        settled_states = (None, "idle", "Sleep")
        deadline = time.monotonic() + SETTLE_SECONDS
        while (state := await self.admin.scalar(query, {"id": victim})) not in settled_states:
            assert time.monotonic() < deadline, (
                f"{step!r}: {SETTLE_SECONDS} s after the cancellation the unit's server "
                f"session {victim} is still {state!r}"
            )
            await asyncio.sleep(0.005)


@dataclass(frozen=True)
class Done:
    """A unit's task that ran to the end, and what it returned."""

    result: object


@contextmanager
def cancel_at_call(engine: AsyncEngine, task: asyncio.Task[object], call: int) -> Iterator[None]:
    """Cancel ``task`` while its ``call``-th database call is in flight.

    The engine's events fire just before the driver is called (in the task itself);
    the cancellation, scheduled for the next turn of the loop, lands while the task
    awaits the driver's answer.
    """
    calls = 0

    def count(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        if asyncio.current_task() is task:
            calls += 1
            if calls == call:
                asyncio.get_running_loop().call_soon(task.cancel)

    hooks = [
        (engine.sync_engine, "before_cursor_execute"),
        (engine.sync_engine, "commit"),
        (engine.sync_engine, "rollback"),
        (engine.sync_engine.pool, "reset"),
    ]
    for target, name in hooks:
        sa_event.listen(target, name, count)
    try:
        yield
    finally:
        for target, name in hooks:
            sa_event.remove(target, name, count)


def assert_expected_error(op: Op, err: RepositoryError, expected: Expected) -> None:
    assert expected.errors, f"{op!r} raised {err!r}; expected success"
    assert isinstance(err, expected.errors), (
        f"{op!r} raised {err!r}; expected one of {expected.errors}"
    )


def result_check(op: Op, result: object, before: Model) -> Callable[[Model], None]:
    def check(table: Model) -> None:
        got, want = op.observed(result), op.expected_result(before, table)
        assert got == want, f"{op!r} returned {got!r}; the table says {want!r}"

    return check


# --- the test ---------------------------------------------------------------------------


def test_repositories_agree_with_a_model_through_failures(
    backend: str, db_url: URL, factory: EngineFactory, tmp_path: Path
) -> None:
    with asyncio.Runner() as runner:
        harness = runner.run(Harness.open(backend, db_url, factory, tmp_path))
        try:

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            @given(sequence=steps(kill=harness.admin is not None))
            def example(sequence: list[Step]) -> None:
                runner.run(harness.run(sequence))

            example()
        finally:
            runner.run(harness.close())
