"""Replication positions per backend: what a commit leaves behind, what a replica has
replayed, how far behind it says it is, and the token that carries a position.

A *position* is a backend's own measure of "this much of the primary's history":

- PostgreSQL: a WAL LSN as an ``int``. The position recorded for a commit is
  ``pg_current_wal_insert_lsn()`` read right after ``COMMIT`` returned on the same
  connection, which is at or after the commit record; a standby has replayed it when
  ``pg_last_wal_replay_lsn()`` is at least that.
- MariaDB: the GTIDs ``((domain, server, sequence), ...)`` of ``@@last_gtid`` read after
  ``COMMIT``; a replica has replayed them when its ``Gtid_Slave_Pos`` holds, in each of
  those domains, a sequence number at least as high (sequence numbers only grow within
  a domain under ``gtid_strict_mode``).

The rows here are reached through :class:`sqla_repo._backends.Backend.replication`;
nothing outside this module reads a position's insides.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

Position = Any
"""A backend's position: ``int`` (PostgreSQL) or ``tuple[tuple[int, int, int], ...]``."""


@dataclass(frozen=True, slots=True)
class ReplicaReport:
    """What one probe of a replica found."""

    replayed: Position | None
    """How far it has replayed (``None``: it cannot say)."""
    lag: float
    """Seconds it reports itself behind (``inf`` when it cannot tell, or is stopped)."""


@dataclass(frozen=True, slots=True)
class Replication:
    """How one backend family records, compares and carries replication positions."""

    commit_position: Callable[[Any], Awaitable[Position | None]]
    """Reads the position of the commit that just ended, on the same driver connection."""
    probe: Callable[[Any], Awaitable[ReplicaReport]]
    """Reads a replica's replayed position and lag, on a driver connection of its own."""
    covers: Callable[[Position, Position], bool]
    """``covers(replayed, wanted)``: whether a replica at ``replayed`` has ``wanted``."""
    later: Callable[[Position, Position], Position]
    """The later of two positions (merged per domain for GTIDs)."""
    encode: Callable[[Position], str]
    decode: Callable[[str], Position]
    """Raises ``ValueError`` for a payload that is not a position of this backend."""


# --- driver calls -----------------------------------------------------------------------
# Each runs one statement on the raw driver connection, outside the pool's transaction
# handling, so that it costs one round trip and leaves no transaction open.


async def _asyncpg_row(raw: Any, sql: str) -> Sequence[Any] | None:
    row = await raw.fetchrow(sql)
    return None if row is None else tuple(row)


async def _psycopg_row(raw: Any, sql: str) -> Sequence[Any] | None:
    autocommit = raw.autocommit
    if not autocommit:
        await raw.set_autocommit(True)  # no transaction to roll back afterwards
    try:
        cursor = await raw.execute(sql)
        row = await cursor.fetchone()
    finally:
        if not autocommit:
            await raw.set_autocommit(False)
    return None if row is None else tuple(row)


async def _aiomysql_rows(raw: Any, sql: str) -> list[dict[str, Any]]:
    cursor = await raw.cursor()
    try:
        await cursor.execute(sql)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
    finally:
        await cursor.close()


def _postgresql_row(raw: Any, sql: str) -> Awaitable[Sequence[Any] | None]:
    # asyncpg connections have fetchrow; psycopg's AsyncConnection has set_autocommit
    return _asyncpg_row(raw, sql) if hasattr(raw, "fetchrow") else _psycopg_row(raw, sql)


# --- PostgreSQL ---------------------------------------------------------------------------

_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")

_PG_COMMIT_SQL = "SELECT pg_current_wal_insert_lsn()::text"
# Replayed position and lag. A standby that has replayed everything it received is not
# behind, however long ago its last transaction was; a server that is not in recovery
# (a promoted standby) has replayed its own history.
_PG_PROBE_SQL = """
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text
            ELSE pg_current_wal_lsn()::text END,
       CASE WHEN NOT pg_is_in_recovery() THEN 0.0
            WHEN pg_last_wal_receive_lsn() IS NULL
                 OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0.0
            ELSE EXTRACT(EPOCH FROM (clock_timestamp() - pg_last_xact_replay_timestamp()))
       END::float8
""".strip()


def parse_lsn(text: object) -> int:
    """``"16/B374D848"`` -> its integer; ``ValueError`` for anything else."""
    match = _LSN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("not a PostgreSQL WAL position")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


async def _pg_commit_position(raw: Any) -> Position | None:
    row = await _postgresql_row(raw, _PG_COMMIT_SQL)
    return None if row is None or row[0] is None else parse_lsn(row[0])


async def _pg_probe(raw: Any) -> ReplicaReport:
    row = await _postgresql_row(raw, _PG_PROBE_SQL)
    if row is None or row[0] is None:
        return ReplicaReport(None, math.inf)
    lag = math.inf if row[1] is None else max(float(row[1]), 0.0)
    return ReplicaReport(parse_lsn(row[0]), lag)


def _pg_decode(payload: str) -> Position:
    if not re.fullmatch(r"[0-9a-f]{1,16}", payload):
        raise ValueError("not a PostgreSQL WAL position")
    return int(payload, 16)


POSTGRESQL_REPLICATION = Replication(
    commit_position=_pg_commit_position,
    probe=_pg_probe,
    covers=lambda replayed, wanted: bool(replayed >= wanted),
    later=max,
    encode=lambda position: format(position, "x"),
    decode=_pg_decode,
)


# --- MariaDB --------------------------------------------------------------------------------

_GTID = re.compile(r"^(\d{1,10})-(\d{1,10})-(\d{1,20})$")
Gtids = tuple[tuple[int, int, int], ...]


def parse_gtids(text: object) -> Gtids:
    """``"0-1-5,1-2-9"`` -> ``((0, 1, 5), (1, 2, 9))`` (by domain); ``""`` -> ``()``."""
    if not isinstance(text, str):
        raise ValueError("not a MariaDB GTID list")
    found: dict[int, tuple[int, int, int]] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = _GTID.match(part)
        if match is None:
            raise ValueError("not a MariaDB GTID list")
        domain, server, sequence = (int(group) for group in match.groups())
        if domain in found:
            raise ValueError("a MariaDB GTID list names each domain once")
        found[domain] = (domain, server, sequence)
    return tuple(found[domain] for domain in sorted(found))


def _gtids_cover(replayed: Gtids, wanted: Gtids) -> bool:
    have = {domain: sequence for domain, _, sequence in replayed}
    return all(have.get(domain, -1) >= sequence for domain, _, sequence in wanted)


def _gtids_later(first: Gtids, second: Gtids) -> Gtids:
    merged = {gtid[0]: gtid for gtid in first}
    for gtid in second:
        if gtid[0] not in merged or merged[gtid[0]][2] < gtid[2]:
            merged[gtid[0]] = gtid
    return tuple(merged[domain] for domain in sorted(merged))


async def _mariadb_commit_position(raw: Any) -> Position | None:
    rows = await _aiomysql_rows(raw, "SELECT @@last_gtid AS gtid")
    gtids = parse_gtids(rows[0]["gtid"] or "") if rows else ()
    return gtids or None


async def _mariadb_probe(raw: Any) -> ReplicaReport:
    """``SHOW ALL REPLICAS STATUS`` (``SHOW REPLICA STATUS`` with ``Gtid_Slave_Pos``, what
    has been applied; needs ``SLAVE MONITOR``): a server that shows no replication, or
    stopped threads, reports nothing it could be trusted with."""
    rows = await _aiomysql_rows(raw, "SHOW ALL REPLICAS STATUS")
    if not rows:
        return ReplicaReport(None, math.inf)
    lag = 0.0
    for row in rows:
        running = row.get("Slave_IO_Running") == "Yes" and row.get("Slave_SQL_Running") == "Yes"
        behind = row.get("Seconds_Behind_Master")
        lag = math.inf if not running or behind is None else max(lag, float(behind))
    return ReplicaReport(parse_gtids(str(rows[0].get("Gtid_Slave_Pos") or "")), lag)


def _gtids_encode(gtids: Gtids) -> str:
    return "~".join(f"{domain}-{server}-{sequence}" for domain, server, sequence in gtids)


def _gtids_decode(payload: str) -> Gtids:
    gtids = parse_gtids(payload.replace("~", ","))
    if not gtids:
        raise ValueError("not a MariaDB GTID list")
    return gtids


MARIADB_REPLICATION = Replication(
    commit_position=_mariadb_commit_position,
    probe=_mariadb_probe,
    covers=_gtids_cover,
    later=_gtids_later,
    encode=_gtids_encode,
    decode=_gtids_decode,
)
