"""``Cluster`` on real MariaDB topologies (``tests/topology_mariadb.py``): a GTID primary
and read-only replica, written as the non-admin ``app`` user, and a three-node Galera
cluster."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sqla_repo import (
    Base,
    Cluster,
    DatabaseUnavailableError,
    EngineFactory,
    RoutingConfig,
    User,
    UserRepository,
    run_in_transaction,
    unit_of_work,
)
from tests.topology_mariadb import GaleraCluster, MariaReplication


@pytest.fixture
def replication(mariadb_replication: MariaReplication) -> Iterator[MariaReplication]:
    yield mariadb_replication
    mariadb_replication.heal()


def make_cluster(topology: MariaReplication, **routing: float) -> Cluster:
    return EngineFactory(
        topology.primary.url(),
        replicas=[topology.replica.url()],
        routing=RoutingConfig(**routing),
    ).create_cluster()


@pytest.fixture
async def users(replication: MariaReplication) -> MariaReplication:
    """An empty ``users`` table on the primary, replicated."""
    cluster = make_cluster(replication)
    try:
        async with cluster.primary.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await cluster.dispose()
    replication.wait_caught_up()
    return replication


async def server_port(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT @@port")) or 0)


async def add_user(cluster: Cluster, email: str) -> None:
    async with unit_of_work(cluster.sessionmaker()) as session:
        await UserRepository(session).create({"email": email})


async def test_a_caught_up_replica_serves_the_reads(users: MariaReplication) -> None:
    cluster = make_cluster(users)
    try:
        await add_user(cluster, "a@example.com")
        assert cluster.position is not None
        users.wait_caught_up()
        async with cluster.read_session() as session:
            assert await server_port(session) == users.replica.port
            assert await UserRepository(session).count() == 1
    finally:
        await cluster.dispose()


async def test_a_replica_behind_the_position_is_not_read_and_not_waited_for(
    users: MariaReplication,
) -> None:
    cluster = make_cluster(users)
    try:
        users.stop_replica_sql()  # events arrive, none is applied
        await add_user(cluster, "b@example.com")
        started = time.monotonic()
        async with cluster.read_session() as session:
            assert await server_port(session) == users.primary.port
            assert [u.email for u in await UserRepository(session).list()] == ["b@example.com"]
        assert time.monotonic() - started < 5.0  # wait=0: no waiting for the replica
    finally:
        await cluster.dispose()


async def test_a_read_session_waits_up_to_wait_for_the_replica(users: MariaReplication) -> None:
    cluster = make_cluster(users, wait=10.0, max_lag=60.0)
    try:
        users.stop_replica_sql()
        await add_user(cluster, "c@example.com")

        async def resume() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(users.start_replica_sql)

        resuming = asyncio.create_task(resume())
        async with cluster.read_session() as session:
            assert await server_port(session) == users.replica.port
            assert await UserRepository(session).count() == 1
        await resuming
    finally:
        await cluster.dispose()


async def test_a_read_session_waits_no_longer_than_wait_then_reads_the_primary(
    users: MariaReplication,
) -> None:
    cluster = make_cluster(users, wait=0.5, max_lag=60.0)
    try:
        users.stop_replica_sql()  # the replica stays short of the position
        await add_user(cluster, "g@example.com")
        started = time.monotonic()
        async with cluster.read_session() as session:
            assert await server_port(session) == users.primary.port
            assert await UserRepository(session).count() == 1
        waited = time.monotonic() - started
        assert 0.5 <= waited < 3.0  # re-read the replica for `wait`, then gave up
    finally:
        await cluster.dispose()


async def test_a_token_carries_the_position_to_another_cluster(users: MariaReplication) -> None:
    writer, reader = make_cluster(users), make_cluster(users)
    try:
        users.stop_replica_sql()
        await add_user(writer, "d@example.com")
        token = writer.position
        assert token is not None
        assert re.fullmatch(r"[A-Za-z0-9._~-]+", token)  # URL-safe
        assert reader.position is None
        async with reader.read_session(after=token) as session:
            assert await server_port(session) == users.primary.port
            assert await UserRepository(session).count() == 1
        users.start_replica_sql()
        users.wait_caught_up()
        async with reader.read_session(after=token) as session:
            assert await server_port(session) == users.replica.port
            assert await UserRepository(session).count() == 1
    finally:
        await writer.dispose()
        await reader.dispose()


async def test_stopped_replication_is_lag_and_is_skipped(users: MariaReplication) -> None:
    cluster = make_cluster(users)  # no write of its own: no position to wait for
    try:
        users.stop_replica_sql()
        async with cluster.read_session() as session:
            assert await server_port(session) == users.primary.port
    finally:
        await cluster.dispose()


async def test_a_stopped_replica_fails_no_read_and_is_left_alone_for_cooldown(
    users: MariaReplication,
) -> None:
    cluster = make_cluster(users, cooldown=30.0)
    try:
        await add_user(cluster, "e@example.com")
        users.wait_caught_up()
        users.stop_replica_server()
        for _ in range(5):
            async with cluster.read_session() as session:
                assert await server_port(session) == users.primary.port
                assert await UserRepository(session).count() == 1
        users.start_replica_server()
        users.wait_caught_up()
        async with cluster.read_session() as session:  # still cooling down
            assert await server_port(session) == users.primary.port
    finally:
        await cluster.dispose()


async def test_a_replica_whose_status_cannot_be_read_is_never_trusted(
    users: MariaReplication,
) -> None:
    users.primary.sql(
        "CREATE USER IF NOT EXISTS 'blind'@'%' IDENTIFIED BY 'blind-pw';"
        "GRANT SELECT ON app.* TO 'blind'@'%';"
    )
    users.wait_caught_up()
    blind = users.replica.url().replace(
        f"app:{users.replica.url().split(':')[2].split('@')[0]}", "blind:blind-pw"
    )
    cluster = EngineFactory(users.primary.url(), replicas=[blind]).create_cluster()
    try:
        async with cluster.read_session() as session:
            assert await server_port(session) == users.primary.port
    finally:
        await cluster.dispose()
        users.primary.sql("DROP USER IF EXISTS 'blind'@'%'")


# --- Galera -----------------------------------------------------------------------------------


@pytest.fixture
def nodes(galera: GaleraCluster) -> Iterator[GaleraCluster]:
    yield galera
    galera.heal()


async def test_concurrent_increments_over_three_nodes_are_exact(nodes: GaleraCluster) -> None:
    factories = [EngineFactory(node.url()) for node in nodes.nodes]
    engines = [factory.create_async_engine() for factory in factories]
    makers = [
        factory.create_sessionmaker(engine)
        for factory, engine in zip(factories, engines, strict=True)
    ]
    try:
        async with engines[0].begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        async with unit_of_work(makers[0]) as session:
            counter = await UserRepository(session).create({"email": "counter", "name": "0"})
            key = counter.id

        async def increment(session: AsyncSession) -> None:
            row = await session.get(User, key, with_for_update=True)
            assert row is not None
            row.name = str(int(row.name or "0") + 1)

        await asyncio.gather(
            *(run_in_transaction(makers[n % 3], increment, retries=10) for n in range(20))
        )
        for maker in makers:  # every node agrees
            async with maker() as session:
                stored = await session.scalar(select(User.name).where(User.id == key))
                assert stored == "20"
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_node_without_quorum_is_unavailable(nodes: GaleraCluster) -> None:
    node = nodes.nodes[2]
    factory = EngineFactory(node.url())
    engine = factory.create_async_engine()
    try:
        nodes.isolate(node)
        with pytest.raises(DatabaseUnavailableError):
            async with unit_of_work(factory.create_sessionmaker(engine)) as session:
                await session.execute(select(func.count()).select_from(User))
    finally:
        await engine.dispose()


async def test_the_server_is_chosen_at_the_first_statement_and_kept(
    users: MariaReplication,
) -> None:
    cluster = make_cluster(users)
    try:
        await add_user(cluster, "f@example.com")
        users.wait_caught_up()
        async with cluster.read_session() as session:
            users.stop_replica_server()  # after the session opened, before it read
            assert await server_port(session) == users.primary.port
            users.start_replica_server()
            users.wait_caught_up()
            assert await server_port(session) == users.primary.port  # kept
    finally:
        await cluster.dispose()
