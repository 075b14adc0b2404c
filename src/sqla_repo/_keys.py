"""Primary-key mixins and time-ordered UUIDs: ``uuid7``, ``BigIntPrimaryKeyMixin``,
``UUIDv7PrimaryKeyMixin``.

Both mixins work on any ``DeclarativeBase`` and combine in any order with the other
model mixins; list them before the declarative base.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Uuid, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from ._models import _BigIntPk

_VERSION_7 = (0x7 << 76) | (0b10 << 62)
"""The version (7) and variant (RFC) bits of a version 7 UUID."""

_COUNTER_MAX = (1 << 42) - 1
"""The 42-bit counter: 12 bits of ``rand_a`` and the 30 leading bits of ``rand_b``."""


class _Uuid7Clock:
    """The last millisecond and counter :func:`uuid7` used, shared by the process."""

    __slots__ = ("counter", "last_ms", "lock", "random", "used")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_ms = -1
        self.counter = 0
        self.random = b""  # random bytes read ahead: one os.urandom call per 1024 tails
        self.used = 0

    def after_fork(self) -> None:
        # The parent's lock may have been held by a thread the child does not have, and
        # the child must not draw the random bytes the parent draws next.
        self.lock = threading.Lock()
        self.random = b""
        self.used = 0

    def next(self) -> uuid.UUID:
        now_ms = time.time_ns() // 1_000_000
        with self.lock:
            if now_ms > self.last_ms:
                counter, tail = _seed()
            else:
                now_ms = self.last_ms
                counter = self.counter + 1
                if counter > _COUNTER_MAX:
                    now_ms += 1
                    counter, tail = _seed()
                else:
                    if self.used >= len(self.random):
                        self.random = os.urandom(4096)
                        self.used = 0
                    tail = int.from_bytes(self.random[self.used : self.used + 4], "big")
                    self.used += 4
            self.last_ms = now_ms
            self.counter = counter
        value = (
            (now_ms & 0xFFFF_FFFF_FFFF) << 80
            | (counter >> 30) << 64
            | (counter & 0x3FFF_FFFF) << 32
            | tail
            | _VERSION_7
        )
        return uuid.UUID(int=value)


def _seed() -> tuple[int, int]:
    """A random counter for a new millisecond (top bit clear: room to count) and tail."""
    random = int.from_bytes(os.urandom(10), "big")
    return (random >> 32) & (_COUNTER_MAX >> 1), random & 0xFFFF_FFFF


_clock = _Uuid7Clock()
os.register_at_fork(after_in_child=_clock.after_fork)


def uuid7() -> uuid.UUID:
    """A new RFC 9562 version 7 UUID: the Unix time in milliseconds, then a counter.

    The 48-bit millisecond timestamp comes first, then a 42-bit counter (the 12 bits of
    ``rand_a`` and the leading 30 bits of ``rand_b``, RFC 9562 section 6.2, method 1),
    then 32 random bits. A new millisecond seeds the counter randomly with its top bit
    clear; within one millisecond (or while the clock stands still or steps back) each
    call adds one, so successive calls in one process, from any thread, return strictly
    increasing values. A counter that runs out moves on to the next millisecond.
    Random bits come from ``os.urandom``.
    """
    return _clock.next()


# Native ``uuid`` on PostgreSQL; CHAR(32) lowercase hex elsewhere, whose text order is
# the UUID's byte order. MariaDB's native UUID type (10.7+, which SQLAlchemy would pick)
# compares its groups in a swapped order, so time-ordered keys would not sort by time.
_UuidKey = Uuid(as_uuid=True).with_variant(
    Uuid(as_uuid=True, native_uuid=False), "mysql", "mariadb"
)


_KEY_FACTORY = "sqla_repo_key_factory"
"""``Column.info`` key of the function that makes a primary-key value in Python."""

_factories: WeakKeyDictionary[Mapper[Any], tuple[tuple[str, Callable[[], Any]], ...]] = (
    WeakKeyDictionary()
)


def key_factories(mapper: Mapper[Any]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """The primary-key attributes whose values are made in Python when a row is built
    (``UUIDv7PrimaryKeyMixin.id``), each with the function making them; cached per mapper.

    Bulk writes make them row by row in input order, so keys follow creation order
    and rows need nothing back from the database to be identified.
    """
    found = _factories.get(mapper)
    if found is None:
        found = _factories[mapper] = tuple(
            (mapper.get_property_by_column(column).key, column.info[_KEY_FACTORY])
            for column in mapper.primary_key
            if _KEY_FACTORY in column.info
        )
    return found


class BigIntPrimaryKeyMixin:
    """An ``id`` big-integer primary key that the database generates.

    ``BIGINT`` with the backend's autoincrement (an identity/serial on PostgreSQL,
    ``AUTO_INCREMENT`` on MySQL/MariaDB) and exactly ``INTEGER PRIMARY KEY`` on SQLite,
    the rowid alias. The key is set by the flush (or ``create``) that inserts the row.
    """

    id: Mapped[int] = mapped_column(_BigIntPk, primary_key=True, autoincrement=True, sort_order=-1)


class UUIDv7PrimaryKeyMixin:
    """An ``id`` primary key holding a :func:`uuid7`, set when the object is constructed.

    ``Article(title="x").id`` is already a ``uuid.UUID``, so a flush or a bulk insert
    needs nothing back from the database to know the key. An ``id`` given to the
    constructor is kept (``None`` counts as not given). Rows written without an object
    get one too: repository bulk writes (``create_many`` of mappings, with or without
    ``returning``, upserts) make it as each row is built, in input order, and a plain
    Core ``insert()`` from the column's default.

    Native ``uuid`` on PostgreSQL, ``CHAR(32)`` hex on MySQL/MariaDB and SQLite: on every
    backend ``ORDER BY id`` is creation order, so keyset pagination by key walks rows in
    the order they were created (strictly within one process; across processes, to the
    millisecond of their clocks).
    """

    id: Mapped[uuid.UUID] = mapped_column(
        _UuidKey,
        primary_key=True,
        insert_default=uuid7,
        sort_order=-1,
        info={_KEY_FACTORY: uuid7},
    )


@event.listens_for(UUIDv7PrimaryKeyMixin, "after_mapper_constructed", propagate=True)
def _listen_for_construction(mapper: Mapper[Any], class_: type) -> None:
    # On the mapper, after its own init hook (which configures the mappers): the key is
    # assigned as an attribute, as the constructor assigns its arguments.
    event.listen(mapper, "init", _assign_key)


def _assign_key(target: Any, args: Any, kwargs: dict[str, Any]) -> None:
    # Runs before the constructor assigns its arguments: a given key wins.
    if kwargs.get("id") is None:
        kwargs.pop("id", None)
        target.id = uuid7()
