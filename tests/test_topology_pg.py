"""Smoke tests of the PostgreSQL topologies of ``tests/topology_pg.py``: replication, the
lag helpers, read-only standbys, PgBouncer in transaction mode and a failover.

They run in ``make test`` (``tests/topology-deps.sh`` installs PgBouncer); under ``CI=true``
a missing binary fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.topology_pg import PgBouncer, PgServer, PgTopology, multi_host_url

pytestmark = pytest.mark.timeout(120)


async def _scalar(url: str, statement: str, **connect_args: Any) -> Any:
    engine = create_async_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


@pytest.fixture
def table(pg_topology: PgTopology) -> Iterator[str]:
    """A fresh table ``(id int)`` on the primary, dropped afterwards."""
    name = f"smoke_{uuid.uuid4().hex[:12]}"
    pg_topology.primary.sql(f"CREATE TABLE {name} (id int)")
    yield name
    pg_topology.primary.sql(f"DROP TABLE {name}")


def _lsn_behind(topology: PgTopology, standby: PgServer) -> bool:
    primary = topology.primary.sql("SELECT pg_current_wal_lsn()")
    return standby.sql(f"SELECT pg_last_wal_replay_lsn() < '{primary}'::pg_lsn") == "t"


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_primary_writes_reach_both_standbys(
    pg_topology: PgTopology, table: str, driver: str
) -> None:
    await _scalar(pg_topology.primary.url(driver=driver), f"INSERT INTO {table} VALUES (1)")
    for standby in pg_topology.standbys:
        pg_topology.wait_caught_up(standby)
        assert await _scalar(standby.url(driver=driver), f"SELECT count(*) FROM {table}") == 1
        assert await _scalar(standby.url(driver=driver), "SELECT pg_is_in_recovery()") is True


def test_paused_replay_lags_until_resumed(pg_topology: PgTopology, table: str) -> None:
    standby = pg_topology.standbys[0]
    pg_topology.wait_caught_up(standby)
    pg_topology.pause_replay(standby)
    try:
        pg_topology.primary.sql(f"INSERT INTO {table} VALUES (1)")
        written = pg_topology.primary.sql("SELECT pg_current_wal_lsn()")
        received = f"SELECT pg_last_wal_receive_lsn() >= '{written}'::pg_lsn"
        standby.until(received, "t", "received the insert")  # received, yet not replayed:
        assert _lsn_behind(pg_topology, standby)
        assert standby.sql(f"SELECT count(*) FROM {table}") == "0"
    finally:
        pg_topology.resume_replay(standby)
    pg_topology.wait_caught_up(standby, timeout=10)
    assert standby.sql(f"SELECT count(*) FROM {table}") == "1"
    assert not _lsn_behind(pg_topology, standby)


def test_hold_back_delays_commits(pg_topology: PgTopology, table: str) -> None:
    standby = pg_topology.standbys[1]
    pg_topology.wait_caught_up(standby)
    pg_topology.hold_back(standby, 2.0)
    try:
        began = time.monotonic()
        pg_topology.primary.sql(f"INSERT INTO {table} VALUES (1)")
        time.sleep(0.3)
        assert standby.sql(f"SELECT count(*) FROM {table}") == "0"
        pg_topology.wait_caught_up(standby, timeout=10)
        assert time.monotonic() - began >= 1.5
        assert standby.sql(f"SELECT count(*) FROM {table}") == "1"
    finally:
        pg_topology.release(standby)
    began = time.monotonic()
    pg_topology.primary.sql(f"INSERT INTO {table} VALUES (2)")
    pg_topology.wait_caught_up(standby, timeout=10)
    assert time.monotonic() - began < 1.5  # applied without the delay


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_standbys_refuse_writes(pg_topology: PgTopology, table: str, driver: str) -> None:
    for standby in pg_topology.standbys:
        pg_topology.wait_caught_up(standby)
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await _scalar(standby.url(driver=driver), f"INSERT INTO {table} VALUES (1)")


async def _concurrently(url: str, **connect_args: Any) -> None:
    """Ten connections, each running eleven statements, in five transactions at a time."""
    engine = create_async_engine(url, pool_size=10, connect_args=connect_args)

    async def work(number: int) -> None:
        async with engine.connect() as connection:
            for round_ in range(11):
                value = (await connection.execute(text(f"SELECT {number} + {round_}"))).scalar()
                assert value == number + round_
                await connection.commit()

    try:
        await asyncio.gather(*(work(number) for number in range(10)))
    finally:
        await engine.dispose()


async def test_pgbouncer_transaction_mode_asyncpg(pgbouncer: PgBouncer) -> None:
    assert "pool_mode|transaction" in pgbouncer.admin("SHOW CONFIG")
    # PgBouncer 1.18 keeps no prepared statements across transactions: unnamed-looking,
    # unique statement names and no statement caches.
    url = pgbouncer.url() + "?prepared_statement_cache_size=0"
    connect_args = {
        "statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__",
    }
    assert await _scalar(url, "SELECT 1", **connect_args) == 1
    await _concurrently(url, **connect_args)


async def test_pgbouncer_transaction_mode_psycopg(pgbouncer: PgBouncer) -> None:
    url = pgbouncer.url("psycopg")
    assert await _scalar(url, "SELECT 1", prepare_threshold=None) == 1
    await _concurrently(url, prepare_threshold=None)


async def test_failover_pair_promotion_reached_by_multi_host_url(
    pg_failover_pair: PgTopology,
) -> None:
    primary, standby = pg_failover_pair.primary, pg_failover_pair.standbys[0]
    primary.sql("CREATE TABLE before_failover (id int)")
    primary.sql("INSERT INTO before_failover VALUES (1)")
    pg_failover_pair.wait_caught_up(standby)
    url = multi_host_url(pg_failover_pair.servers)
    assert await _scalar(url, "SELECT inet_server_port()") == primary.port

    primary.stop("immediate")
    assert not primary.running
    standby.promote()

    assert await _scalar(url, "SELECT pg_is_in_recovery()") is False
    assert await _scalar(url, "SELECT inet_server_port()") == standby.port
    await _scalar(url, "INSERT INTO before_failover VALUES (2)")
    assert await _scalar(url, "SELECT count(*) FROM before_failover") == 2
