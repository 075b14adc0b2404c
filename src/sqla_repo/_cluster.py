"""``Cluster``: a primary and its read replicas, with exact read-your-writes.

Primary sessions (:meth:`Cluster.sessionmaker`) run everything on the primary. When one
commits a transaction that wrote, the cluster reads the commit's position on the same
connection (one round trip, after ``COMMIT`` returned) and keeps the latest.
:meth:`Cluster.read_session` gives a session on a replica that has replayed that
position (see :mod:`sqla_repo._routing`), chosen at its first statement and kept, that refuses
to write: any INSERT, UPDATE, DELETE, DDL or locking read, sent through the ORM, Core
or ``text()``, raises :class:`~sqla_repo.ReadOnlyError` before it reaches a server.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util.concurrency import await_only, in_greenlet

from ._backends import Backend
from ._errors import ReadOnlyError
from ._loading import GuardedSession
from ._replication import Position
from ._routing import Router, RoutingConfig

_ROUTER = "sqla_repo_router"
"""``session.info`` key of a primary session: the cluster's router."""
_ROUTE = "sqla_repo_route"
"""``session.info`` key of a read session: where and after what it reads."""
_CONNECTION = "sqla_repo_connection"
"""``session.info`` key of a primary session: the connection of its transaction."""
_WROTE = "sqla_repo_wrote"
"""``Connection.info`` key: the transaction on this connection sent a write."""
READ_SESSION = "sqla_repo_read_session"
"""Execution option of the engines read sessions run on: no write may be sent."""

_READS = re.compile(
    r"^\s*(?:\(\s*)*(SELECT|SHOW|VALUES|TABLE|EXPLAIN|DESCRIBE|DESC|WITH|SET|SAVEPOINT|"
    r"RELEASE|ROLLBACK|BEGIN|START\s+TRANSACTION|COMMIT|PRAGMA)\b",
    re.IGNORECASE,
)
_LOCKS = re.compile(
    r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b|\bLOCK\s+IN\s+SHARE\s+MODE\b",
    re.IGNORECASE,
)
_CHANGES = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
_INTO = re.compile(r"\bINTO\b", re.IGNORECASE)
_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def is_write(statement: str, context: ExecutionContext | None) -> bool:
    """Whether a statement writes or locks: anything but a plain read or transaction control."""
    if context is not None and any(
        getattr(context, kind, False) for kind in ("isinsert", "isupdate", "isdelete", "isddl")
    ):
        return True
    compiled = getattr(context, "compiled", None)
    if getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None:
        return True  # a locking read, also where the backend renders no lock (SQLite)
    match = _READS.match(statement)
    if match is None:
        return True
    keyword = match.group(1).upper()
    if keyword not in ("SELECT", "WITH", "TABLE"):
        return False
    bare = _LITERALS.sub("''", statement)  # words inside quotes are values and names
    if _LOCKS.search(bare):
        return True  # a locking read
    if keyword == "WITH":
        return bool(_CHANGES.search(bare))  # a data-modifying WITH
    return keyword == "SELECT" and bool(_INTO.search(bare))  # SELECT ... INTO a table


class _PrimarySession(GuardedSession):
    """A session on the primary whose commits of writes record their position."""


class _ReadSession(GuardedSession):
    """A session bound, at its first statement, to the server its router chooses.

    Until then ``get_bind`` answers with the primary's read-only view, which has the
    same dialect (repositories ask for it before they run anything); the choice itself
    probes the replicas, so it is made only where the session is about to do IO.
    """

    _chosen: Engine | None = None

    def get_bind(self, *args: Any, **kwargs: Any) -> Engine:
        if self._chosen is not None:
            return self._chosen
        route: _Route = self.info[_ROUTE]
        if not in_greenlet():
            return route.views[route.router.primary.sync_engine]  # the dialect, no IO
        engine = await_only(route.router.choose(route.position, primary_only=route.primary_only))
        self._chosen = route.views[engine.sync_engine]
        return self._chosen


@dataclass(frozen=True)
class _Route:
    router: Router
    views: Mapping[Engine, Engine]
    position: Position | None
    primary_only: bool


class Cluster:
    """A primary engine and its replica engines, made by :meth:`EngineFactory.create_cluster`.

    - :attr:`primary`, :attr:`replicas`: the engines, each built like
      ``EngineFactory.create_async_engine()`` with the factory's ``PoolConfig``.
    - :meth:`sessionmaker`: sessions on the primary (``expire_on_commit=False``).
    - :meth:`read_session`: a read-only session that never sees data older than the
      position it is given (default: :attr:`position`).
    - :attr:`position`: the latest commit position of a write this cluster's primary
      sessions made, as an opaque URL-safe token to carry to other processes.

    Without replicas every read session runs on the primary.
    """

    def __init__(
        self,
        primary: AsyncEngine,
        replicas: Sequence[AsyncEngine],
        *,
        backend: Backend,
        routing: RoutingConfig,
        identity: str,
    ) -> None:
        self._backend = backend
        self._router = Router(primary, tuple(replicas), routing, backend.replication, identity)
        read_options = {
            **backend.transaction_setup(None, True).execution_options,
            READ_SESSION: True,
        }
        self._views: dict[Engine, Engine] = {}
        for engine in (primary, *replicas):
            sync = engine.sync_engine
            event.listen(sync, "before_cursor_execute", _refuse_writes_of_read_sessions)
            self._views[sync] = sync.execution_options(**read_options)
        event.listen(primary.sync_engine, "begin", _forget_writes)
        event.listen(primary.sync_engine, "before_cursor_execute", _note_writes)
        self._primary_sessions = async_sessionmaker(
            primary,
            expire_on_commit=False,
            sync_session_class=_PrimarySession,
            info={_ROUTER: self._router},
        )

    @property
    def primary(self) -> AsyncEngine:
        return self._router.primary

    @property
    def replicas(self) -> tuple[AsyncEngine, ...]:
        return tuple(self._router.replicas)

    @property
    def routing(self) -> RoutingConfig:
        return self._router.routing

    @property
    def position(self) -> str | None:
        """The latest recorded commit position, as a token; ``None`` before the first."""
        return self._router.token

    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """Sessions on the primary; a commit that wrote records its position."""
        return self._primary_sessions

    def read_session(
        self, *, after: str | None = None
    ) -> AbstractAsyncContextManager[AsyncSession]:
        """``async with cluster.read_session() as session:`` a read-only session.

        It reads from a replica that has replayed ``after`` (a token from
        :attr:`position`, of this process or another; default: this cluster's latest),
        waiting up to ``routing.wait`` for one, else from the primary. The server is
        chosen at the session's first statement (one probe per replica tried) and kept
        for the whole session. A malformed
        token, or one of a cluster over another primary, raises ``ValueError`` at once.
        """
        wanted = self._router.wanted(after)
        return self._read_session(wanted)

    @asynccontextmanager
    async def _read_session(
        self, wanted: tuple[Position | None, bool]
    ) -> AsyncIterator[AsyncSession]:
        position, primary_only = wanted
        route = _Route(self._router, self._views, position, primary_only)
        session = AsyncSession(
            expire_on_commit=False, sync_session_class=_ReadSession, info={_ROUTE: route}
        )
        async with session:
            yield session

    async def dispose(self) -> None:
        """Dispose of every engine of the cluster."""
        await self._router.dispose()

    def __repr__(self) -> str:
        return f"Cluster(primary={self.primary.url!r}, replicas={len(self.replicas)})"


# --- events ------------------------------------------------------------------------------


def _refuse_writes_of_read_sessions(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext | None,
    executemany: bool,
) -> None:
    if conn.get_execution_options().get(READ_SESSION) and is_write(statement, context):
        raise ReadOnlyError(
            "a read session does not write: use a session from cluster.sessionmaker()"
        )


def _forget_writes(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


def _note_writes(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext | None,
    executemany: bool,
) -> None:
    if _WROTE not in conn.info and is_write(statement, context):
        conn.info[_WROTE] = True


@event.listens_for(_PrimarySession, "after_begin")
def _keep_connection(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    session.info[_CONNECTION] = connection


@event.listens_for(_PrimarySession, "after_commit")
def _record_position(session: Session) -> None:
    connection: Connection | None = session.info.pop(_CONNECTION, None)
    if connection is None or not connection.info.pop(_WROTE, False):
        return  # read only: nothing to record, no round trip
    router: Router = session.info[_ROUTER]
    replication = router.replication
    if replication is None:
        return
    try:
        position = connection.connection.dbapi_connection.run_async(  # type: ignore[union-attr]
            replication.commit_position
        )
    except Exception:  # committed, position unknown: reads go to the primary
        position = None
    router.record(position)


@event.listens_for(_PrimarySession, "after_rollback")
def _drop_connection(session: Session) -> None:
    session.info.pop(_CONNECTION, None)


@event.listens_for(_ReadSession, "before_flush")
def _refuse_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if session.new or session.deleted or any(session.is_modified(obj) for obj in session.dirty):
        raise ReadOnlyError(
            "a read session does not write: use a session from cluster.sessionmaker()"
        )
