"""Smoke tests of the MariaDB topologies (``tests/topology_mariadb.py``): GTID replication
and a three-node Galera cluster, seen through ``aiomysql`` as the non-admin ``app`` user."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from tests.topology_mariadb import (
    GaleraCluster,
    MariaReplication,
    SqlError,
)


@pytest.fixture
def replication(mariadb_replication: MariaReplication) -> Iterator[MariaReplication]:
    """The session's replication, healed (both up, caught up) after the test."""
    yield mariadb_replication
    mariadb_replication.heal()


@pytest.fixture
def cluster(galera: GaleraCluster) -> Iterator[GaleraCluster]:
    """The session's Galera cluster, healed (three nodes, ready) after the test."""
    yield galera
    galera.heal()


async def run(url: str, *statements: str) -> list[Sequence[Any]]:
    """Run ``statements`` in one transaction on ``url``; the last one's rows."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            rows: list[Sequence[Any]] = []
            for statement in statements:
                result = await connection.execute(text(statement))
                rows = list(result.all()) if result.returns_rows else []
            return rows
    finally:
        await engine.dispose()


def error_code(err: DBAPIError) -> int:
    code = err.orig.args[0] if err.orig is not None else None
    assert isinstance(code, int), err
    return code


def new_table() -> str:
    return f"t_{secrets.token_hex(4)}"


async def test_replication_write_reaches_replica(replication: MariaReplication) -> None:
    table = new_table()
    await run(
        replication.primary.url(),
        f"CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(20))",
        f"INSERT INTO {table} VALUES (1, 'written')",
    )
    replication.wait_caught_up()
    assert await run(replication.replica.url(), f"SELECT * FROM {table}") == [(1, "written")]
    admin = await run(replication.replica.admin_url(), "SELECT CURRENT_USER(), @@read_only")
    assert admin == [("root@127.0.0.1", 1)]


async def test_last_gtid_names_the_commit(replication: MariaReplication) -> None:
    table = new_table()
    engine = create_async_engine(replication.primary.url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f"CREATE TABLE {table} (id INT PRIMARY KEY)"))
            await connection.execute(text(f"INSERT INTO {table} VALUES (1)"))
            await connection.commit()
            last = await connection.scalar(text("SELECT @@last_gtid"))
    finally:
        await engine.dispose()
    assert isinstance(last, str)
    assert re.fullmatch(r"0-1-\d+", last), last
    assert last == replication.primary.variable("@@gtid_binlog_pos")
    assert replication.wait_caught_up() == last


async def test_stopped_sql_thread_holds_the_replica_behind(replication: MariaReplication) -> None:
    table = new_table()
    await run(replication.primary.url(), f"CREATE TABLE {table} (id INT PRIMARY KEY)")
    replication.wait_caught_up()
    replication.stop_replica_sql()
    await run(replication.primary.url(), f"INSERT INTO {table} VALUES (1)")
    primary_pos = replication.primary.variable("@@gtid_binlog_pos")

    # received (the IO thread runs), not applied
    status = await replica_status(replication)
    for _ in range(100):
        if status["Gtid_IO_Pos"] == primary_pos:
            break
        await asyncio.sleep(0.1)
        status = await replica_status(replication)
    assert (status["Slave_IO_Running"], status["Slave_SQL_Running"]) == ("Yes", "No")
    assert status["Gtid_IO_Pos"] == primary_pos
    assert replication.replica.variable("@@gtid_slave_pos") != primary_pos
    assert await run(replication.replica.url(), f"SELECT * FROM {table}") == []

    replication.start_replica_sql()
    replication.wait_caught_up()
    assert replication.replica.variable("@@gtid_slave_pos") == primary_pos
    assert await run(replication.replica.url(), f"SELECT * FROM {table}") == [(1,)]


async def replica_status(replication: MariaReplication) -> dict[str, Any]:
    """``SHOW REPLICA STATUS`` as ``app`` (it holds SLAVE MONITOR)."""
    engine = create_async_engine(replication.replica.url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(text("SHOW REPLICA STATUS"))).mappings().one()
            return dict(row)
    finally:
        await engine.dispose()


async def test_replica_refuses_writes_by_app(replication: MariaReplication) -> None:
    table = new_table()
    await run(replication.primary.url(), f"CREATE TABLE {table} (id INT PRIMARY KEY)")
    replication.wait_caught_up()
    with pytest.raises(DBAPIError) as caught:
        await run(replication.replica.url(), f"INSERT INTO {table} VALUES (1)")
    assert error_code(caught.value) == 1290, caught.value
    assert "--read-only" in str(caught.value)


async def test_replica_restart_resumes_replication(replication: MariaReplication) -> None:
    table = new_table()
    await run(replication.primary.url(), f"CREATE TABLE {table} (id INT PRIMARY KEY)")
    replication.stop_replica_server()
    assert not replication.replica.running
    await run(replication.primary.url(), f"INSERT INTO {table} VALUES (7)")
    replication.start_replica_server()
    replication.wait_caught_up()
    assert await run(replication.replica.url(), f"SELECT * FROM {table}") == [(7,)]


async def test_galera_row_reaches_every_node(cluster: GaleraCluster) -> None:
    table = new_table()
    first, *others = cluster.nodes
    await run(first.url(), f"CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(20))")
    await run(first.url(), f"INSERT INTO {table} VALUES (1, 'everywhere')")
    for node in others:  # wsrep_sync_wait: the read waits for the node to apply all before it
        rows = await run(node.url(), "SET SESSION wsrep_sync_wait = 1", f"SELECT * FROM {table}")
        assert rows == [(1, "everywhere")], node


async def test_galera_conflicting_commits_deadlock(cluster: GaleraCluster) -> None:
    table = new_table()
    one, two = cluster.nodes[0], cluster.nodes[1]
    await run(one.url(), f"CREATE TABLE {table} (id INT PRIMARY KEY, value INT)")
    await run(one.url(), f"INSERT INTO {table} VALUES (1, 0)")
    await run(two.url(), "SET SESSION wsrep_sync_wait = 1", f"SELECT * FROM {table}")
    engines = [create_async_engine(node.url(), poolclass=NullPool) for node in (one, two)]
    try:
        async with engines[0].connect() as first, engines[1].connect() as second:
            await update(first, table, 1)
            await update(second, table, 2)
            await first.commit()
            with pytest.raises(DBAPIError) as caught:
                await second.commit()
    finally:
        for engine in engines:
            await engine.dispose()
    assert error_code(caught.value) == 1213, caught.value
    assert "Deadlock found" in str(caught.value)
    rows = await run(two.url(), "SET SESSION wsrep_sync_wait = 1", f"SELECT value FROM {table}")
    assert rows == [(1,)]


async def update(connection: AsyncConnection, table: str, value: int) -> None:
    await connection.execute(text(f"UPDATE {table} SET value = {value} WHERE id = 1"))


async def test_galera_isolated_node_refuses_then_rejoins(cluster: GaleraCluster) -> None:
    table = new_table()
    first, *_, last = cluster.nodes
    await run(first.url(), f"CREATE TABLE {table} (id INT PRIMARY KEY)")
    engine = create_async_engine(last.url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:  # connected before the node is cut off
            cluster.isolate(last)
            assert last.variable("wsrep_ready") == "OFF"
            assert await connection.scalar(text("SELECT 1")) == 1  # no table: answered
            with pytest.raises(DBAPIError) as caught:
                await connection.execute(text(f"SELECT * FROM {table}"))
            assert error_code(caught.value) == 1047, caught.value
            assert "WSREP has not yet prepared node for application use" in str(caught.value)
            # even ROLLBACK is refused, so SQLAlchemy's first connect (it rolls back) fails too
            with pytest.raises(SqlError) as refused:
                last.sql("ROLLBACK", admin=False)
            assert refused.value.code == 1047
            await connection.invalidate()
        with pytest.raises(DBAPIError) as caught:
            await run(last.url(), "SELECT 1")
        assert error_code(caught.value) == 1047, caught.value
    finally:
        await engine.dispose()
    await run(first.url(), f"INSERT INTO {table} VALUES (1)")  # the majority carries on

    cluster.rejoin(last)
    rows = await run(last.url(), "SET SESSION wsrep_sync_wait = 1", f"SELECT * FROM {table}")
    assert rows == [(1,)]
