"""``unit_of_work`` and ``run_in_transaction``: transactions that commit, nest, retry, fail typed.

A unit of work owns one session and its transaction: it commits when its block
ends, rolls back on any exception, and turns database errors (those at ``COMMIT``
included) into :class:`~sqla_repo.RepositoryError` subclasses. A unit entered
inside another of the same sessionmaker in the same task runs in a SAVEPOINT of the
outer unit's session. A cancelled unit discards its connection instead of reusing
it: a statement cut off mid-flight leaves the connection in an unknown state.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast, get_args

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ._backends import find_backend
from ._errors import (
    CommitOutcomeUnknownError,
    DatabaseUnavailableError,
    RepositoryError,
    SerializationError,
    StaleDataError,
)
from ._translate import ErrorContext, translate

SessionT = TypeVar("SessionT", bound=AsyncSession)
T = TypeVar("T")

IsolationLevel = Literal["SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED", "READ UNCOMMITTED"]
"""The isolation levels as SQLAlchemy names them."""

ISOLATION_LEVELS: tuple[str, ...] = get_args(IsolationLevel)

RETRY_BASE_DELAY = 0.05
"""Seconds: the delay before re-run ``n`` is random in ``[0, min(1, base * 2**n)]``."""
RETRY_MAX_DELAY = 1.0

_CANCELLED = "sqla_repo.cancelled"
"""``session.info`` key: a nested unit was cancelled, so the transaction is lost."""


@dataclass(frozen=True, slots=True)
class _Unit:
    """An open unit of work, as nested units of the same task find it."""

    sessions: object
    task: asyncio.Task[Any] | None
    session: AsyncSession
    isolation_level: str | None
    read_only: bool


_open_units: ContextVar[tuple[_Unit, ...]] = ContextVar("sqla_repo_open_units", default=())


def unit_of_work(
    sessions: async_sessionmaker[SessionT],
    *,
    isolation_level: IsolationLevel | None = None,
    read_only: bool = False,
) -> AbstractAsyncContextManager[SessionT]:
    """A transaction around a block: ``async with unit_of_work(Session) as session: ...``.

    Commits when the block ends, rolls back on any exception, which propagates (a
    database error as its :class:`~sqla_repo.RepositoryError` subclass, also one
    raised by ``COMMIT``). A connection lost while ``COMMIT`` was in flight raises
    :class:`~sqla_repo.CommitOutcomeUnknownError`: the transaction may have been
    applied.

    Entered inside another unit of the same ``sessions`` in the same task, it runs in
    a SAVEPOINT of the outer unit's session: its failure undoes only its own writes,
    and the outer unit decides the commit (an outer rollback discards it too). A
    nested unit cannot change the isolation level or read-only mode (``ValueError``).

    ``isolation_level`` (``None``: the engine's default) runs as the next stronger
    level where a backend lacks it (SQLite runs every level as ``SERIALIZABLE``).
    ``read_only=True`` makes a write raise :class:`~sqla_repo.ReadOnlyError`, on
    every backend.

    On cancellation the transaction is rolled back by discarding the connection (a
    statement may have been cut off mid-flight), and the ``CancelledError``
    propagates unchanged. A cancellation that lands while ``COMMIT`` is in flight
    comes too late for that: as with :class:`~sqla_repo.CommitOutcomeUnknownError`,
    the transaction may have been applied (the server finishes a ``COMMIT`` it has
    received).
    """
    _check_isolation_level(isolation_level)
    if not isinstance(read_only, bool):
        raise TypeError(f"read_only must be a bool, not {type(read_only).__name__}")
    outer = _enclosing_unit(sessions)
    if outer is None:
        return top_level(sessions, isolation_level, read_only)
    if (isolation_level is not None and isolation_level != outer.isolation_level) or (
        read_only and not outer.read_only
    ):
        raise ValueError(
            "a nested unit_of_work runs in its outer unit's transaction and cannot change "
            "its isolation_level or read_only mode; set them on the outer unit"
        )
    return _nested(cast("SessionT", outer.session))


async def run_in_transaction(
    sessions: async_sessionmaker[SessionT],
    fn: Callable[[SessionT], Awaitable[T]],
    *,
    retries: int = 3,
    isolation_level: IsolationLevel | None = None,
    read_only: bool = False,
) -> T:
    """``await fn(session)`` in a fresh session and transaction, committed; its result.

    A :class:`~sqla_repo.SerializationError` (serialization failure, deadlock, lock
    wait timeout, SQLite busy) or :class:`~sqla_repo.StaleDataError` (a lost
    optimistic-lock race) re-runs ``fn`` from the start in a new session, up to
    ``retries`` times, after a random delay in ``[0, min(1 s, 0.05 s * 2**n)]``
    before re-run ``n``. Any other error propagates at once, and so does
    :class:`~sqla_repo.CommitOutcomeUnknownError`: a transaction that may have been
    applied is never run again. ``fn`` must therefore be safe to re-run: no side
    effects outside the database.

    Never nested: even inside a :func:`unit_of_work`, each attempt is a top-level
    transaction of its own.
    """
    _check_isolation_level(isolation_level)
    if not _is_count(retries):
        raise ValueError("retries must be an integer >= 0")
    attempt = 0
    while True:
        try:
            async with top_level(sessions, isolation_level, read_only) as session:
                return await fn(session)
        except (SerializationError, StaleDataError):
            if attempt >= retries:
                raise
        attempt += 1
        # jitter spreads the contenders out; no secret is involved
        delay = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2**attempt)
        await asyncio.sleep(random.uniform(0, delay))  # noqa: S311


@asynccontextmanager
async def top_level(
    sessions: async_sessionmaker[SessionT],
    isolation_level: str | None,
    read_only: bool,
    *,
    writes: bool = False,
) -> AsyncIterator[SessionT]:
    """The session of a unit of work that no other encloses: committed at the end of
    the block, rolled back and translated on an error, closed in every case.

    ``writes``: the transaction is known to write (``sqla_repo.fastapi`` passes it for
    requests of an unsafe HTTP method), so it begins as the backend's row asks for such
    a transaction (``BEGIN IMMEDIATE`` on SQLite).
    """
    session = _writing(sessions) if writes and not read_only else sessions()
    unit = _Unit(sessions, _current_task(), session, isolation_level, read_only)
    token = _open_units.set((*_open_units.get(), unit))
    try:
        try:
            if isolation_level is not None or read_only:
                await _configure(session, isolation_level, read_only)
            yield session
            if session.info.pop(_CANCELLED, False):
                raise RepositoryError(
                    "a nested unit of work was cancelled, so this transaction was rolled back"
                )
            await _flush(session)
            await _commit(session)
        except asyncio.CancelledError:
            await _discard(session)
            raise
        except BaseException as err:
            await _roll_back(session)
            translated = _translated(session, err)
            if translated is not None:
                raise translated from err
            raise
    finally:
        _open_units.reset(token)
        await _close(session)


@asynccontextmanager
async def _nested(session: SessionT) -> AsyncIterator[SessionT]:
    with _typed(session):
        savepoint = await session.begin_nested()
    try:
        yield session
        await _flush(session)
        if savepoint.is_active:
            await savepoint.commit()
    except asyncio.CancelledError:
        # the connection may be mid-statement: the outer unit discards it
        session.info[_CANCELLED] = True
        raise
    except BaseException as err:
        # a failed flush deactivates the savepoint, which still has to be rolled back
        if session.sync_session.get_nested_transaction() is savepoint.sync_transaction:
            try:
                await savepoint.rollback()
            except Exception as rollback_error:
                translated = _translated(session, rollback_error)
                raise (translated or rollback_error) from err
        translated = _translated(session, err)
        if translated is not None:
            raise translated from err
        raise


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _enclosing_unit(sessions: object) -> _Unit | None:
    task = _current_task()
    for unit in reversed(_open_units.get()):
        if unit.sessions is sessions and unit.task is task:
            return unit
    return None


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # pragma: no cover - no running loop
        return None


def _check_isolation_level(level: object) -> None:
    if level is not None and level not in ISOLATION_LEVELS:
        raise ValueError(
            f"isolation_level must be None or one of {', '.join(ISOLATION_LEVELS)}, not {level!r}"
        )


def _writing(sessions: async_sessionmaker[SessionT]) -> SessionT:
    """A session whose transaction begins as one that writes, where the backend's row
    asks for that (SQLite); otherwise a plain one.

    The options ride on the bind (an engine view sharing the pool), so the transaction
    still begins with the session's first statement, not before work that comes first
    (hashing a password).
    """
    bind = sessions.kw.get("bind")
    if isinstance(bind, AsyncEngine):
        backend = find_backend(bind.dialect.name)
        if backend is not None and backend.write_intent:
            writer = _writers.get(bind.sync_engine)
            if writer is None:
                writer = _writers[bind.sync_engine] = bind.execution_options(**backend.write_intent)
            return sessions(bind=writer)
    return sessions()


_writers: weakref.WeakKeyDictionary[Engine, AsyncEngine] = weakref.WeakKeyDictionary()


async def _configure(session: AsyncSession, isolation_level: str | None, read_only: bool) -> None:
    """Start the session's transaction with the isolation level and read-only mode asked for."""
    with _typed(session):
        bind = session.get_bind()
        backend = find_backend(bind.dialect.name)
        if backend is None:  # pragma: no cover - EngineFactory builds supported engines only
            raise TypeError(f"sqla_repo does not support the {bind.dialect.name} dialect")
        setup = backend.transaction_setup(isolation_level, read_only)
        connection = await session.connection(execution_options=setup.execution_options)
        if setup.statement is not None:
            await connection.exec_driver_sql(setup.statement)


async def _flush(session: AsyncSession) -> None:
    with _typed(session):
        await session.flush()


@contextmanager
def _typed(session: AsyncSession) -> Iterator[None]:
    """Raise the database errors of the block as :class:`~sqla_repo.RepositoryError` subclasses."""
    try:
        yield
    except Exception as err:
        translated = _translated(session, err)
        if translated is not None:
            raise translated from err
        raise


async def _commit(session: AsyncSession) -> None:
    """``COMMIT``; a connection lost meanwhile leaves the outcome unknown."""
    try:
        await session.commit()
    except Exception as err:
        translated = _translated(session, err)
        # the connection was lost, or the driver stopped waiting for the answer (asyncpg's
        # command_timeout): either way the server may have committed
        if isinstance(translated, DatabaseUnavailableError) or isinstance(err, TimeoutError):
            translated = CommitOutcomeUnknownError(
                f"the outcome of COMMIT is unknown: {translated}, while COMMIT was in flight; "
                f"the transaction may or may not have been applied: check before running it again"
            )
        if translated is not None:
            raise translated from err
        raise


def _translated(session: AsyncSession, err: BaseException) -> RepositoryError | None:
    if isinstance(err, RepositoryError) or not isinstance(err, Exception):
        return None
    return translate(err, lambda: ErrorContext.of_session(session))


async def _roll_back(session: AsyncSession) -> None:
    """Roll back after a failure; a connection that cannot roll back is discarded."""
    try:
        await session.rollback()
    except Exception:
        await _discard(session)


async def _discard(session: AsyncSession) -> None:
    """Close the session invalidating its connections: the server rolls back their work."""
    try:
        await session.invalidate()
    except Exception:  # the connection is already gone: nothing is left to roll back
        session.sync_session.expunge_all()


async def _close(session: AsyncSession) -> None:
    try:
        await session.close()
    except Exception:
        await _discard(session)
