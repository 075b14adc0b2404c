"""``RoutingConfig`` and the router that picks a server for a read session.

A read session is given a position (the last commit it must see). The router probes
the replicas in a random order, each with one statement on a connection of its own,
and takes the first that is reachable, not behind by more than ``max_lag`` and has
replayed the position. A replica that cannot be reached is left alone for
``cooldown`` seconds. When none qualifies, the router re-reads the replicas that are
only behind for up to ``wait`` seconds, then answers with the primary: a read never
sees data older than its position, and never waits longer than ``wait``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from ._replication import Position, ReplicaReport, Replication

_POLL_SECONDS = 0.005
"""Between two readings of a replica's position while a read session waits for it."""
_TOKEN = re.compile(r"^1\.([0-9a-f]{12})\.([A-Za-z0-9~._-]{1,512})$")


class RoutingConfig(BaseModel):
    """How read sessions choose among the replicas; validated when built.

    - ``max_lag``: seconds a replica may report itself behind and still serve reads
      (> 0, default 5).
    - ``cooldown``: seconds a replica that could not be reached is left alone (> 0,
      default 10).
    - ``wait``: seconds a read session may wait for a replica to replay its position
      before it reads from the primary (>= 0, default 0: at once).
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True, extra="forbid")

    max_lag: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5.0
    cooldown: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 10.0
    wait: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


def cluster_id(url: URL) -> str:
    """Names the primary a position belongs to, the same in every process configured alike."""
    parts = [url.get_backend_name(), url.host or "", str(url.port or ""), url.database or ""]
    hosts = url.query.get("host", ())
    parts.extend(sorted([hosts] if isinstance(hosts, str) else hosts))
    return hashlib.blake2b("|".join(parts).encode(), digest_size=6).hexdigest()


@dataclass
class _Replica:
    engine: AsyncEngine
    down_until: float = 0.0


@dataclass
class Router:
    """Chooses the engine of each read session; one per :class:`~sqla_repo.Cluster`."""

    primary: AsyncEngine
    replicas: Sequence[AsyncEngine]
    routing: RoutingConfig
    replication: Replication | None
    identity: str
    _slots: list[_Replica] = field(init=False)
    _position: Position | None = field(init=False, default=None)
    _position_lost: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._slots = [_Replica(engine) for engine in self.replicas]

    # --- positions ---------------------------------------------------------------------

    def record(self, position: Position | None) -> None:
        """A primary session committed a write at ``position`` (``None``: unknown)."""
        if position is None or self.replication is None:
            # a write whose position could not be read: until a later one is known, read
            # sessions without an explicit position go to the primary
            self._position_lost = True
            return
        known = self._position
        self._position = position if known is None else self.replication.later(known, position)
        self._position_lost = False

    @property
    def token(self) -> str | None:
        if self._position is None or self.replication is None:
            return None
        return f"1.{self.identity}.{self.replication.encode(self._position)}"

    def decode(self, token: object) -> Position:
        """The position a token carries; ``ValueError`` for a malformed one, or one made
        by a cluster over another primary."""
        match = _TOKEN.match(token) if isinstance(token, str) else None
        if match is None or self.replication is None:
            raise ValueError("not a read position of sqla_repo (cluster.position)")
        if match.group(1) != self.identity:
            raise ValueError("this read position was made by a cluster over another primary")
        return self.replication.decode(match.group(2))

    def wanted(self, after: str | None) -> tuple[Position | None, bool]:
        """``(position, primary_only)`` for a read session given ``after``."""
        if after is not None:
            return self.decode(after), False
        return self._position, self._position_lost

    # --- choice -------------------------------------------------------------------------

    async def choose(self, wanted: Position | None, *, primary_only: bool = False) -> AsyncEngine:
        """The engine a read session at ``wanted`` uses: a caught-up replica, else the primary."""
        replication = self.replication
        if primary_only or replication is None or not self._slots:
            return self.primary
        deadline = time.monotonic() + self.routing.wait
        candidates = [slot for slot in self._slots if slot.down_until <= time.monotonic()]
        random.shuffle(candidates)  # spreads the sessions over the replicas that qualify
        behind: list[_Replica] = []
        while True:
            for slot in candidates:
                report = await self._probe(slot, replication)
                if report is None or report.replayed is None:
                    continue  # unreachable, or its state cannot be read: never trusted
                if report.lag <= self.routing.max_lag and (
                    wanted is None or replication.covers(report.replayed, wanted)
                ):
                    return slot.engine
                behind.append(slot)  # lagging or short of the position: may catch up
            remaining = deadline - time.monotonic()
            if not behind or remaining <= 0:
                return self.primary
            await asyncio.sleep(min(_POLL_SECONDS, remaining))
            candidates, behind = behind, []

    async def _probe(self, slot: _Replica, replication: Replication) -> ReplicaReport | None:
        try:
            async with slot.engine.connect() as connection:
                raw = await connection.get_raw_connection()
                return await replication.probe(raw.driver_connection)
        except Exception:  # down, refused, no privilege: not to be used
            slot.down_until = time.monotonic() + self.routing.cooldown
            return None

    async def dispose(self) -> None:
        engines: list[Any] = [self.primary, *self.replicas]
        await asyncio.gather(*(engine.dispose() for engine in engines))
