"""A database of the benchmark's own on each backend, dropped when the run ends.

On PostgreSQL and MariaDB the server's database named in the URL (``test``) is only
connected to, to create ``sqla_repo_bench_realworld`` (dropped first when a killed run
left it behind) and to drop it at the end: no table of the URL's database is touched.
SQLite is a file in a temporary directory.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

DATABASE = "sqla_repo_bench_realworld"
TEMP_SQLITE = "sqlite"
"""The URL argument that stands for a SQLite file in a temporary directory."""


@dataclass(frozen=True)
class Target:
    url: str
    """The benchmark's own database, password included: for the server and the seeding."""
    shown: str
    """What the report says: the given URL, password hidden."""


def _drop(url: URL) -> str:
    if url.get_backend_name() == "postgresql":
        return f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'
    return f"DROP DATABASE IF EXISTS `{DATABASE}`"


def _create(url: URL) -> str:
    if url.get_backend_name() == "postgresql":
        return f'CREATE DATABASE "{DATABASE}"'
    return f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4"


async def _run(url: URL, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def own_database(given: str) -> AsyncIterator[Target]:
    """The benchmark's database for the URL ``given`` (or ``sqlite``), removed on exit."""
    if given == TEMP_SQLITE:
        with tempfile.TemporaryDirectory(prefix="bench_realworld_") as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'conduit.db'}"
            yield Target(url, "a temporary SQLite file")
        return
    server = make_url(given)
    shown = server.render_as_string(hide_password=True)
    if server.get_backend_name() == "sqlite":
        raise ValueError(f"{shown}: give 'sqlite' for SQLite (a temporary file)")
    await _run(server, _drop(server), _create(server))
    try:
        own = server.set(database=DATABASE).render_as_string(hide_password=False)
        yield Target(own, shown)
    finally:
        await _run(server, _drop(server))
