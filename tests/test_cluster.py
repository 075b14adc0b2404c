"""``Cluster`` and ``RoutingConfig`` on one server: arguments, positions, tokens, read
sessions that never write. The replicated topologies are in ``test_cluster_replicas*``."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pydantic
import pytest
from sqlalchemy import delete, event, func, insert, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from sqla_repo import (
    Base,
    Cluster,
    EngineFactory,
    ReadOnlyError,
    RoutingConfig,
    User,
    UserRepository,
    run_in_transaction,
    unit_of_work,
)
from sqla_repo._cluster import is_write
from sqla_repo._replication import parse_gtids, parse_lsn

PG = "postgresql+asyncpg://app@db1:5432/app"
MARIADB = "mysql+aiomysql://app@db1:3306/app"


# --- arguments -----------------------------------------------------------------------------


def test_routing_config_defaults_and_bounds() -> None:
    assert RoutingConfig() == RoutingConfig(max_lag=5.0, cooldown=10.0, wait=0.0)
    for bad in ({"max_lag": 0}, {"cooldown": -1}, {"wait": -0.1}, {"max_lag": math.inf}):
        with pytest.raises(pydantic.ValidationError):
            RoutingConfig(**bad)
    with pytest.raises(pydantic.ValidationError):
        RoutingConfig(lag=1)  # type: ignore[call-arg]
    config = RoutingConfig(wait=0.5)
    with pytest.raises(pydantic.ValidationError):
        config.wait = 1


def test_replicas_are_checked_like_the_primary() -> None:
    factory = EngineFactory(PG, replicas=["postgresql+psycopg://app:secret@db2/app"])
    assert [url.host for url in factory.replicas] == ["db2"]
    assert "secret" not in repr(factory.replicas)
    with pytest.raises(ValueError, match="replicas replicate their primary"):
        EngineFactory(PG, replicas=[MARIADB])
    with pytest.raises(ValueError, match="unsupported database URL"):
        EngineFactory(PG, replicas=["postgresql://app@db2/app"])
    with pytest.raises(ValueError, match="sqlite has no read replicas"):
        EngineFactory("sqlite+aiosqlite:///a.db", replicas=["sqlite+aiosqlite:///b.db"])
    with pytest.raises(TypeError, match="sequence of URLs"):
        EngineFactory(PG, replicas="postgresql+asyncpg://app@db2/app")
    with pytest.raises(TypeError, match="RoutingConfig"):
        EngineFactory(PG, routing={"wait": 1})  # type: ignore[arg-type]


def test_pgbouncer_is_for_postgresql_and_changes_nothing_by_default() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        EngineFactory(MARIADB, pgbouncer=True)
    with pytest.raises(TypeError):
        EngineFactory(PG, pgbouncer="yes")  # type: ignore[arg-type]
    plain = EngineFactory(PG).create_async_engine()
    pooled = EngineFactory(PG, pgbouncer=True).create_async_engine()
    assert plain.get_execution_options() == {}
    assert pooled.get_execution_options() == {"sqla_repo_pgbouncer": True}
    twin = EngineFactory("postgresql+psycopg://app@db1/app", pgbouncer=True).create_engine()
    assert twin.get_execution_options() == {"sqla_repo_pgbouncer": True}


def test_create_cluster_builds_an_engine_per_server_with_the_pool() -> None:
    factory = EngineFactory(PG, replicas=["postgresql+asyncpg://app@db2/app"] * 2)
    cluster = factory.create_cluster()
    assert isinstance(cluster, Cluster)
    assert [engine.url.host for engine in (cluster.primary, *cluster.replicas)] == [
        "db1",
        "db2",
        "db2",
    ]
    assert {engine.pool.size() for engine in (cluster.primary, *cluster.replicas)} == {5}  # type: ignore[attr-defined]
    assert cluster.position is None
    assert cluster.sessionmaker().kw["expire_on_commit"] is False


# --- statements a read session refuses --------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT * FROM users", False),
        ("  select 1", False),
        ("(SELECT 1) UNION (SELECT 2)", False),
        ("SELECT * FROM users WHERE name = 'update me' -- insert", False),
        ("WITH t AS (SELECT 1) SELECT * FROM t", False),
        ("SHOW server_version", False),
        ("SET TRANSACTION READ ONLY", False),
        ("SAVEPOINT sa_1", False),
        ("INSERT INTO users (email) VALUES ('x')", True),
        ("update users set name = 'x'", True),
        ("DELETE FROM users", True),
        ("CREATE TABLE t (id int)", True),
        ("TRUNCATE users", True),
        ("SELECT * FROM users FOR UPDATE", True),
        ("SELECT * FROM users FOR NO KEY UPDATE SKIP LOCKED", True),
        ("SELECT * FROM users LOCK IN SHARE MODE", True),
        ("SELECT * INTO backup FROM users", True),
        ("WITH gone AS (DELETE FROM users RETURNING id) SELECT * FROM gone", True),
        ("CALL do_things()", True),
    ],
)
def test_what_counts_as_a_write(statement: str, writes: bool) -> None:
    assert is_write(statement, None) is writes


# --- positions and tokens --------------------------------------------------------------------


def test_positions_parse_and_refuse_garbage() -> None:
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert parse_gtids("1-2-9,0-1-5") == ((0, 1, 5), (1, 2, 9))
    assert parse_gtids("") == ()
    for bad in ("16-B3", "", "1/2/3"):
        with pytest.raises(ValueError, match="WAL position"):
            parse_lsn(bad)
    for bad in ("0-1", "a-b-c", "0-1-5,0-2-6"):
        with pytest.raises(ValueError, match="GTID list"):
            parse_gtids(bad)


@pytest.mark.parametrize(
    "token",
    ["", "x", "1.abc.1", "2.000000000000.1f", "1.000000000000.", "1.000000000000.zz/1", 5, None],
)
def test_a_malformed_token_raises_value_error(token: Any) -> None:
    cluster = EngineFactory(PG).create_cluster()
    if token is None:
        cluster.read_session(after=token)  # None is the default: this cluster's position
        return
    with pytest.raises(ValueError, match=r"not a read position|another primary"):
        cluster.read_session(after=token)


# --- one server: reads on the primary, writes refused ------------------------------------------


@pytest.fixture
async def cluster(db_url: URL, backend: str) -> AsyncIterator[Cluster]:
    if backend.startswith("sqlite"):
        made = EngineFactory(db_url).create_cluster()
    else:  # the server as its own replica: a primary reports it has replayed everything
        made = EngineFactory(db_url, replicas=[db_url]).create_cluster()
    try:
        async with made.primary.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        yield made
        async with made.primary.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
    finally:
        await made.dispose()


async def test_primary_sessions_write_and_read_sessions_read(cluster: Cluster) -> None:
    sessions = cluster.sessionmaker()
    async with unit_of_work(sessions) as session:
        await UserRepository(session).create({"email": "ada@example.com"})
    async with cluster.read_session() as session:
        assert [user.email for user in await UserRepository(session).list()] == ["ada@example.com"]
    async with cluster.read_session(after=cluster.position) as session:
        assert await UserRepository(session).count() == 1


async def test_run_in_transaction_works_on_primary_sessions(cluster: Cluster) -> None:
    async def add(session: AsyncSession) -> int:
        return (await UserRepository(session).create({"email": "b@example.com"})).id

    assert await run_in_transaction(cluster.sessionmaker(), add) > 0


WRITES: dict[str, Callable[[AsyncSession], Awaitable[object]]] = {
    "repository create": lambda s: UserRepository(s).create({"email": "w@example.com"}),
    "repository update_where": lambda s: UserRepository(s).update_where(
        User.id > 0, values={"name": "x"}
    ),
    "repository delete_where": lambda s: UserRepository(s).delete_where(User.id > 0),
    "for_update": lambda s: UserRepository(s).list(for_update=True),
    "session.add": lambda s: _add_and_flush(s),
    "core insert": lambda s: s.execute(insert(User).values(email="c@example.com")),
    "core delete": lambda s: s.execute(delete(User)),
    "text": lambda s: s.execute(text("UPDATE users SET name = 'x'")),
    "ddl": lambda s: s.execute(text("CREATE TABLE sneaky (id INT)")),
}


async def _add_and_flush(session: AsyncSession) -> None:
    session.add(User(email="orm@example.com"))
    await session.flush()


@pytest.mark.parametrize("write", sorted(WRITES))
async def test_a_write_in_a_read_session_raises_before_any_sql(
    cluster: Cluster, write: str
) -> None:
    async with unit_of_work(cluster.sessionmaker()) as session:
        await UserRepository(session).create({"email": "kept@example.com"})
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    engines = [cluster.primary, *cluster.replicas]
    for engine in engines:
        event.listen(engine.sync_engine, "after_cursor_execute", record)
    try:
        async with cluster.read_session() as session:
            with pytest.raises(ReadOnlyError):
                await WRITES[write](session)
            await session.rollback()
            assert await session.scalar(select(func.count()).select_from(User)) == 1
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "after_cursor_execute", record)
    assert [s for s in sent if is_write(s, None)] == []
    async with cluster.sessionmaker()() as session:
        assert [u.email for u in await UserRepository(session).list()] == ["kept@example.com"]


# --- the price of read-your-writes -------------------------------------------------------------


class RoundTrips:
    """Queries a driver connection sends outside SQLAlchemy's statements (the raw calls
    a cluster makes) and, for aiomysql, every query."""

    def __init__(self, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[str] = []
        if backend == "postgresql":
            import asyncpg.connection

            target: Any = asyncpg.connection.Connection
            name = "fetchrow"  # SQLAlchemy's statements go through prepare() instead
        else:
            import aiomysql.connection  # type: ignore[import-untyped]

            target, name = aiomysql.connection.Connection, "query"
        original = getattr(target, name)

        async def counted(self_: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
            self.sent.append(str(sql))
            return await original(self_, sql, *args, **kwargs)

        monkeypatch.setattr(target, name, counted)

    def positions(self) -> list[str]:
        """The position reads since the last call."""
        found = [q for q in self.sent if "wal" in q.lower() or "gtid" in q.lower()]
        self.sent.clear()
        return found


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
async def test_a_commit_that_wrote_costs_one_statement_and_a_read_only_one_none(
    db_url: URL, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = EngineFactory(db_url).create_cluster()
    trips = RoundTrips(backend, monkeypatch)
    statements: list[str] = []
    event.listen(
        cluster.primary.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: statements.append(statement),
    )
    try:
        async with cluster.primary.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        trips.positions()
        statements.clear()
        sessions = cluster.sessionmaker()
        async with unit_of_work(sessions) as session:
            await UserRepository(session).create({"email": "a@example.com"})
        assert len(trips.positions()) == 1  # one statement, on the raw connection
        assert len(statements) == 1  # the INSERT: nothing else through SQLAlchemy
        for _ in range(3):
            async with unit_of_work(sessions) as session:
                await UserRepository(session).list()
            async with sessions() as session:  # a write rolled back records nothing
                await UserRepository(session).create({"email": "b@example.com"})
                await session.rollback()
        assert trips.positions() == []
        async with sessions() as session, session.begin():
            await UserRepository(session).create({"email": "c@example.com"})
        assert len(trips.positions()) == 1
        async with cluster.primary.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
    finally:
        await cluster.dispose()
