"""``PoolConfig`` and ``EngineFactory``: validated engines with per-backend defaults."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, ClassVar

import sqlalchemy
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ._backends import Backend
from ._cluster import Cluster
from ._connections import EngineRequest
from ._loading import GuardedSession
from ._routing import RoutingConfig, cluster_id
from ._settings import DatabaseSettings
from ._urls import parse_url, shown

# engine_options the factory derives itself -> the argument that sets them
_OWNED_OPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "pool_size": "pool=PoolConfig(size=...)",
        "max_overflow": "pool=PoolConfig(max_overflow=...)",
        "pool_timeout": "pool=PoolConfig(timeout=...)",
        "pool_recycle": "pool=PoolConfig(recycle=...)",
        "pool_pre_ping": "pool=PoolConfig(pre_ping=...)",
        "poolclass": "pool=PoolConfig(...) (the factory picks the pool class per backend)",
        "pool": "pool=PoolConfig(...)",
        "echo": "echo=...",
        "hide_parameters": "hide_parameters=...",
        "connect_args": "connect_args=...",
        "creator": "connect_args=...",
        "async_creator": "connect_args=...",
    }
)
# the module each driver imports, where it differs from the driver's name
_DRIVER_MODULES: Mapping[str, str] = MappingProxyType({"pysqlite": "sqlite3"})


class PoolConfig(BaseModel):
    """Connection-pool settings, validated when built.

    Invalid values raise ``pydantic.ValidationError`` (a ``ValueError``).

    - ``size``: connections kept open (>= 1).
    - ``max_overflow``: extra connections allowed under load (>= 0).
    - ``timeout``: seconds to wait for a free connection (> 0, fractions allowed).
    - ``recycle``: seconds after which a connection is replaced at checkout (-1: never).
    - ``pre_ping``: test each connection at checkout and replace a dead one.

    A ``PoolConfig`` is accepted for every backend; see :class:`EngineFactory` for the
    adaptations some backends need.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True, extra="forbid")

    size: Annotated[int, Field(ge=1, strict=True)] = 5
    max_overflow: Annotated[int, Field(ge=0, strict=True)] = 10
    timeout: Annotated[float, Field(gt=0, strict=True, allow_inf_nan=False)] = 30.0
    recycle: Annotated[int, Field(ge=-1, strict=True)] = -1
    pre_ping: Annotated[bool, Field(strict=True)] = True


class EngineFactory:
    """Builds async engines and sessionmakers for one database URL.

    The URL is checked here: anything that is not a URL of a supported asyncio
    backend+driver raises ``ValueError`` listing the supported ones. The password is
    never shown by ``repr()``/``str()``, logs or error messages.

    Per-backend defaults, applied by the engine itself (so they hold for any
    sessionmaker over it):

    - SQLite: ``PRAGMA foreign_keys=ON`` on every connection; SQLAlchemy emits
      ``BEGIN`` itself (the ``sqlite3`` module's legacy transaction control is off),
      so savepoints and DDL are transactional; file databases use WAL journaling.
    - In-memory SQLite: the database lives on one connection, so the pool is adapted
      to exactly one connection (``size=1``, ``max_overflow=0``, never recycled, no
      pre-ping; ``timeout`` kept). Every session sees the same database and concurrent
      sessions take turns on it instead of interleaving their transactions.
    - MySQL/MariaDB: ``recycle`` is capped at 3600 s (also when -1) and, per
      connection, kept below the server's ``wait_timeout``; ``charset=utf8mb4``
      unless the URL sets a charset.

    Bound parameters are hidden from logs and error messages unless
    ``hide_parameters=False`` (for development); so are the values the server quotes
    in its messages, in every exception a repository error chains.

    What the factory does not model goes through ``connect_args`` (keyword arguments
    of the driver's connect call: asyncpg ``server_settings``, ``command_timeout``...)
    and ``engine_options`` (keyword arguments of ``create_async_engine``:
    ``isolation_level``, ``execution_options``...); both also reach the sync twin,
    whose driver may take other arguments (psycopg for asyncpg). An engine option the
    factory derives itself (``pool_size``, ``poolclass``, ``echo``...) raises
    ``ValueError`` naming the argument to use instead. Neither is shown by ``repr()``.
    """

    __slots__ = (
        "_backend",
        "_connect_args",
        "_echo",
        "_engine_options",
        "_hide_parameters",
        "_pgbouncer",
        "_pool",
        "_replicas",
        "_routing",
        "_url",
    )

    def __init__(
        self,
        url: str | URL,
        *,
        pool: PoolConfig | None = None,
        echo: bool = False,
        hide_parameters: bool = True,
        connect_args: Mapping[str, Any] | None = None,
        engine_options: Mapping[str, Any] | None = None,
        replicas: Sequence[str | URL] = (),
        routing: RoutingConfig | None = None,
        pgbouncer: bool = False,
    ) -> None:
        self._url, self._backend = parse_url(url)
        self._replicas = _replica_urls(self._backend, replicas)
        if routing is not None and not isinstance(routing, RoutingConfig):
            raise TypeError(f"routing must be a RoutingConfig, not {type(routing).__name__}")
        self._routing = routing if routing is not None else RoutingConfig()
        if not isinstance(pgbouncer, bool):
            raise TypeError(f"pgbouncer must be a bool, not {type(pgbouncer).__name__}")
        if pgbouncer and self._backend.pgbouncer is None:
            raise ValueError("pgbouncer=True is for PostgreSQL URLs (PgBouncer pools PostgreSQL)")
        self._pgbouncer = pgbouncer
        if pool is not None and not isinstance(pool, PoolConfig):
            raise TypeError(f"pool must be a PoolConfig, not {type(pool).__name__}")
        self._pool = pool if pool is not None else PoolConfig()
        self._echo = echo
        self._hide_parameters = hide_parameters
        self._connect_args = MappingProxyType(dict(_mapping("connect_args", connect_args)))
        options = dict(_mapping("engine_options", engine_options))
        for key in options:
            if key in _OWNED_OPTIONS:
                raise ValueError(
                    f"engine_options[{key!r}] is set by the factory; "
                    f"use {_OWNED_OPTIONS[key]} instead"
                )
        self._engine_options = MappingProxyType(options)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings | None = None) -> EngineFactory:
        """A factory from :class:`DatabaseSettings` (``DatabaseSettings()`` when omitted:
        the environment and ``.env``); its ``pool`` is the settings' ``PoolConfig``."""
        if settings is None:
            settings = DatabaseSettings()
        elif not isinstance(settings, DatabaseSettings):
            raise TypeError(f"settings must be DatabaseSettings, not {type(settings).__name__}")
        pool = PoolConfig(
            size=settings.pool_size,
            max_overflow=settings.max_overflow,
            timeout=settings.pool_timeout,
            recycle=settings.pool_recycle,
            pre_ping=settings.pool_pre_ping,
        )
        return cls(settings.url.get_secret_value(), pool=pool, echo=settings.echo)

    @property
    def url(self) -> URL:
        """The database URL (its ``repr``/``str`` hide the password)."""
        return self._url

    @property
    def pool(self) -> PoolConfig:
        """The pool settings as given (before backend adaptations)."""
        return self._pool

    @property
    def echo(self) -> bool:
        return self._echo

    @property
    def replicas(self) -> tuple[URL, ...]:
        """The replica URLs (their ``repr``/``str`` hide the passwords)."""
        return self._replicas

    @property
    def routing(self) -> RoutingConfig:
        return self._routing

    @property
    def pgbouncer(self) -> bool:
        return self._pgbouncer

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(url={self._url.render_as_string(hide_password=True)!r}, "
            f"pool={self._pool!r}, echo={self._echo!r})"
        )

    def create_async_engine(self) -> AsyncEngine:
        """A new :class:`AsyncEngine` with the backend's pool and connection set-up.

        Opens no connection. Raises ``ModuleNotFoundError`` naming the extra to install
        when the URL's driver is missing.
        """
        return self._async_engine(self._url)

    def create_cluster(self) -> Cluster:
        """The primary (this factory's URL) and an engine per replica URL, as a
        :class:`~sqla_repo.Cluster` routing read sessions by ``routing``.

        Every engine is built like :meth:`create_async_engine`, with this factory's
        ``PoolConfig``, driver options and ``pgbouncer`` setting. Opens no connection.
        """
        primary = self._async_engine(self._url)
        replicas = [self._async_engine(url) for url in self._replicas]
        return Cluster(
            primary,
            replicas,
            backend=self._backend,
            routing=self._routing,
            identity=cluster_id(self._url),
        )

    def _async_engine(self, url: URL) -> AsyncEngine:
        self._require(url.get_driver_name())
        url, connect_args, options = self._adapted(url)
        setup = self._backend.setup(url, EngineRequest(self._pool, connect_args))
        engine = create_async_engine(
            self._backend.prepare_url(url),
            echo=self._echo,
            hide_parameters=self._hide_parameters,
            **options,
            **setup.options,
        )
        setup.install(engine.sync_engine)
        return engine

    def create_engine(self) -> sqlalchemy.Engine:
        """The synchronous twin: a new :class:`sqlalchemy.Engine` on the same database.

        Drivers: asyncpg and psycopg -> psycopg, aiomysql -> pymysql, aiosqlite -> the
        standard ``sqlite3``. The same pool settings, backend adaptations and connection
        set-up as :meth:`create_async_engine`. An in-memory SQLite database cannot be
        shared with another engine: the twin gets one of its own, shared by all of its
        connections. Opens no connection; the caller disposes the engine.
        """
        async_driver = self._url.get_driver_name()
        driver = self._backend.sync_drivers[async_driver]
        self._require(driver, extra=self._backend.drivers[async_driver])
        url = self._url.set(drivername=f"{self._url.get_backend_name()}+{driver}")
        url, connect_args, options = self._adapted(url)
        request = EngineRequest(self._pool, connect_args, synchronous=True)
        setup = self._backend.setup(url, request)
        engine = sqlalchemy.create_engine(
            self._backend.prepare_url(url),
            echo=self._echo,
            hide_parameters=self._hide_parameters,
            **options,
            **setup.options,
        )
        setup.install(engine)
        return engine

    def _adapted(self, url: URL) -> tuple[URL, Mapping[str, Any], dict[str, Any]]:
        """The URL, connect arguments and engine options, adapted to PgBouncer if asked."""
        options = dict(self._engine_options)
        if self._pgbouncer and self._backend.pgbouncer is not None:
            return self._backend.pgbouncer(url, self._connect_args, options)
        return url, self._connect_args, options

    def _require(self, driver: str, *, extra: str | None = None) -> None:
        module = _DRIVER_MODULES.get(driver, driver)
        if importlib.util.find_spec(module) is None:
            extra = extra or self._backend.drivers[driver]
            raise ModuleNotFoundError(
                f"the {driver} driver is not installed: pip install 'sqla-repo[{extra}]'",
                name=module,
            )

    def create_sessionmaker(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        """An ``async_sessionmaker`` over ``engine`` with ``expire_on_commit=False``.

        Objects stay loaded after commit, so reading them never triggers implicit IO.
        """
        return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=GuardedSession)


def _replica_urls(backend: Backend, replicas: object) -> tuple[URL, ...]:
    if isinstance(replicas, str | URL) or not isinstance(replicas, Sequence):
        raise TypeError("replicas must be a sequence of URLs (a list), not one URL")
    urls: list[URL] = []
    for replica in replicas:
        url, replica_backend = parse_url(replica)
        if replica_backend is not backend:
            raise ValueError(
                f"replica {shown(url)!r} is {replica_backend.name}, the primary {backend.name}: "
                "replicas replicate their primary"
            )
        if backend.replication is None:
            raise ValueError(f"{backend.name} has no read replicas: give no replicas=")
        urls.append(url)
    return tuple(urls)


def _mapping(name: str, value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, not {type(value).__name__}")
    if not all(isinstance(key, str) for key in value):
        raise TypeError(f"{name} must have str keys")
    return value
