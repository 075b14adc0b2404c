"""``Cluster`` on real PostgreSQL topologies (``tests/topology_pg.py``): a primary and two
hot standbys (one can be held back or paused), a failover pair, and PgBouncer."""

from __future__ import annotations

import asyncio
import collections
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from sqla_repo import (
    Base,
    Cluster,
    CommitOutcomeUnknownError,
    DatabaseUnavailableError,
    EngineFactory,
    RoutingConfig,
    UserRepository,
    unit_of_work,
)
from tests.topology_pg import PgBouncer, PgTopology, multi_host_url

pytestmark = pytest.mark.timeout(180)


def make_cluster(topology: PgTopology, driver: str = "asyncpg", **routing: float) -> Cluster:
    return EngineFactory(
        topology.primary.url(driver=driver),
        replicas=[standby.url(driver=driver) for standby in topology.standbys],
        routing=RoutingConfig(**routing),
    ).create_cluster()


@pytest.fixture
async def topology(pg_topology: PgTopology) -> AsyncIterator[PgTopology]:
    """The session's topology with an empty ``users`` table, healed afterwards."""
    cluster = make_cluster(pg_topology)
    try:
        async with cluster.primary.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await cluster.dispose()
    for standby in pg_topology.standbys:
        pg_topology.wait_caught_up(standby)
    yield pg_topology
    for standby in pg_topology.standbys:
        if not standby.running:
            standby.start()
        pg_topology.release(standby)
        pg_topology.resume_replay(standby)
        pg_topology.wait_caught_up(standby)


async def port_of(cluster: Cluster, **read: str | None) -> int:
    async with cluster.read_session(**read) as session:
        return int(await session.scalar(text("SELECT inet_server_port()")) or 0)


async def add_user(cluster: Cluster, email: str) -> None:
    async with unit_of_work(cluster.sessionmaker()) as session:
        await UserRepository(session).create({"email": email})


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_reads_see_the_last_write_and_never_wait_for_a_held_back_standby(
    topology: PgTopology, driver: str
) -> None:
    held, _ = topology.standbys
    topology.hold_back(held, 30.0)
    cluster = make_cluster(topology, driver, max_lag=60.0)
    try:
        for n in range(10):
            await add_user(cluster, f"user{n}@example.com")
            started = time.monotonic()
            async with cluster.read_session() as session:
                port = int(await session.scalar(text("SELECT inet_server_port()")) or 0)
                assert port != held.port
                assert await UserRepository(session).count() == n + 1  # never older
            assert time.monotonic() - started < 5.0  # never the held standby's 30 s
    finally:
        await cluster.dispose()


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_a_paused_standby_is_skipped_once_it_lags_past_max_lag(
    topology: PgTopology, driver: str
) -> None:
    paused, _ = topology.standbys
    cluster = make_cluster(topology, driver, max_lag=0.5)
    try:
        topology.pause_replay(paused)
        await add_user(cluster, "lag@example.com")
        await asyncio.sleep(1.5)  # WAL received, not replayed, for longer than max_lag
        reader = make_cluster(topology, driver, max_lag=0.5)  # no position of its own
        try:
            ports = {await port_of(reader) for _ in range(20)}
        finally:
            await reader.dispose()
        assert paused.port not in ports
    finally:
        await cluster.dispose()


async def test_a_stopped_standby_fails_no_read(topology: PgTopology) -> None:
    stopped, other = topology.standbys
    cluster = make_cluster(topology, cooldown=30.0)
    try:
        await add_user(cluster, "stop@example.com")
        topology.wait_caught_up(other)
        stopped.stop("immediate")
        for _ in range(20):
            async with cluster.read_session() as session:
                assert await UserRepository(session).count() == 1
    finally:
        await cluster.dispose()


async def test_read_sessions_spread_over_two_caught_up_standbys(topology: PgTopology) -> None:
    cluster = make_cluster(topology)
    try:
        await add_user(cluster, "spread@example.com")
        for standby in topology.standbys:
            topology.wait_caught_up(standby)
        counts = collections.Counter([await port_of(cluster) for _ in range(200)])
        assert counts[topology.primary.port] < 20  # under 10 %
        for standby in topology.standbys:
            assert counts[standby.port] >= 30  # at least 15 % each
    finally:
        await cluster.dispose()


async def test_a_token_reads_another_processes_write(topology: PgTopology) -> None:
    writer, reader = make_cluster(topology), make_cluster(topology)
    try:
        for standby in topology.standbys:
            topology.pause_replay(standby)
        await add_user(writer, "token@example.com")
        token = writer.position
        assert token is not None
        assert re.fullmatch(r"[A-Za-z0-9._~-]+", token)  # URL-safe
        async with reader.read_session(after=token) as session:
            assert await UserRepository(session).count() == 1  # from the primary
        for standby in topology.standbys:
            topology.resume_replay(standby)
            topology.wait_caught_up(standby)
        ports = {await port_of(reader, after=token) for _ in range(10)}
        assert topology.primary.port not in ports
    finally:
        await writer.dispose()
        await reader.dispose()


# --- failover --------------------------------------------------------------------------------


async def test_failover_loses_only_the_transaction_in_flight(pg_failover_pair: PgTopology) -> None:
    pair = pg_failover_pair
    primary, standby = pair.primary, pair.standbys[0]
    url = multi_host_url([primary, standby])
    factory = EngineFactory(url)
    engine = factory.create_async_engine()
    sessions = factory.create_sessionmaker(engine)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        for n in range(5):
            async with unit_of_work(sessions) as session:
                await UserRepository(session).create({"email": f"kept{n}@example.com"})
        pair.wait_caught_up(standby)
        with pytest.raises((DatabaseUnavailableError, CommitOutcomeUnknownError)):
            async with unit_of_work(sessions) as session:
                await UserRepository(session).create({"email": "in-flight@example.com"})
                await asyncio.to_thread(primary.stop, "immediate")
                await UserRepository(session).create({"email": "after@example.com"})
        await asyncio.to_thread(standby.promote)
        async with unit_of_work(sessions) as session:  # no restart: the pool reconnects
            await UserRepository(session).create({"email": "new@example.com"})
        async with sessions() as session:
            emails = sorted(user.email for user in await UserRepository(session).list())
        assert emails == [*(f"kept{n}@example.com" for n in range(5)), "new@example.com"]
        assert int(standby.sql("SELECT pg_is_in_recovery()::int").strip() or "1") == 0
    finally:
        await engine.dispose()


# --- PgBouncer in transaction mode ---------------------------------------------------------------

LOAD = Path(__file__).with_name("pgbouncer_load.py")


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_three_processes_of_twenty_workers_through_pgbouncer_never_fail(
    pgbouncer: PgBouncer, pg_topology: PgTopology, driver: str
) -> None:
    url = pgbouncer.url(driver=driver)
    table = f"bouncer_{driver}"
    pg_topology.primary.sql(
        f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (worker text PRIMARY KEY, n int)"
    )
    try:
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.pgbouncer_load",
                url,
                table,
                f"p{n}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=str(LOAD.parent.parent),
            )
            for n in range(3)
        ]
        outputs = [await process.communicate() for process in processes]
        for process, (out, err) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, err.decode()[-2000:]
            assert out.decode().split() == ["ok", "500"], err.decode()[-2000:]
        total = pg_topology.primary.sql(f"SELECT sum(n) FROM {table}").strip()
        assert total == str(3 * 20 * 25)
    finally:
        pg_topology.primary.sql(f"DROP TABLE IF EXISTS {table}")
