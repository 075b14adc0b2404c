"""``PoolConfig`` and ``EngineFactory``: validated engines with per-backend defaults."""

from __future__ import annotations

import importlib.util
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ._backends import SUPPORTED_URLS, Backend, find_backend
from ._loading import GuardedSession


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

    model_config = ConfigDict(frozen=True, extra="forbid")

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
    """

    __slots__ = ("_backend", "_echo", "_hide_parameters", "_pool", "_url")

    def __init__(
        self,
        url: str | URL,
        *,
        pool: PoolConfig | None = None,
        echo: bool = False,
        hide_parameters: bool = True,
    ) -> None:
        self._url, self._backend = _parse_url(url)
        if pool is not None and not isinstance(pool, PoolConfig):
            raise TypeError(f"pool must be a PoolConfig, not {type(pool).__name__}")
        self._pool = pool if pool is not None else PoolConfig()
        self._echo = echo
        self._hide_parameters = hide_parameters

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
        driver = self._url.get_driver_name()
        if importlib.util.find_spec(driver) is None:
            extra = self._backend.drivers[driver]
            raise ModuleNotFoundError(
                f"the {driver} driver is not installed: pip install 'sqla-repo[{extra}]'",
                name=driver,
            )
        setup = self._backend.setup(self._url, self._pool)
        engine = create_async_engine(
            self._backend.prepare_url(self._url),
            echo=self._echo,
            hide_parameters=self._hide_parameters,
            **setup.options,
        )
        setup.install(engine.sync_engine)
        return engine

    def create_sessionmaker(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        """An ``async_sessionmaker`` over ``engine`` with ``expire_on_commit=False``.

        Objects stay loaded after commit, so reading them never triggers implicit IO.
        """
        return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=GuardedSession)


def _parse_url(url: str | URL) -> tuple[URL, Backend]:
    supported = ", ".join(SUPPORTED_URLS)
    if isinstance(url, URL):
        parsed = url
    elif isinstance(url, str):
        try:
            parsed = make_url(url)
        except (exc.ArgumentError, ValueError):
            # never echo the input: it may hold a password
            raise ValueError(
                f"not a database URL; expected 'backend+driver://...' with one of: {supported}"
            ) from None
    else:
        raise TypeError(f"url must be a str or sqlalchemy.engine.URL, not {type(url).__name__}")
    shown = parsed.render_as_string(hide_password=True)
    name, _, driver = parsed.drivername.partition("+")
    backend = find_backend(name)
    if backend is None:
        raise ValueError(
            f"unsupported database URL {shown!r}: unknown backend {name!r}; "
            f"supported async backends+drivers: {supported}"
        )
    if driver not in backend.drivers:
        problem = f"driver {driver!r} has no asyncio support" if driver else "no async driver given"
        raise ValueError(
            f"unsupported database URL {shown!r}: {problem}; "
            f"supported async backends+drivers: {supported}"
        )
    return parsed, backend
