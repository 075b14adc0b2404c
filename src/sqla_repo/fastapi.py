"""FastAPI integration: an engine per app, a session per request, typed errors as HTTP responses.

.. code-block:: python

    from typing import Annotated

    from fastapi import Depends, FastAPI

    from sqla_repo import EngineFactory, UserRepository
    from sqla_repo.fastapi import SessionDep, add_exception_handlers, lifespan, repository

    app = FastAPI(lifespan=lifespan(EngineFactory.from_settings()))
    add_exception_handlers(app)
    Users = Annotated[UserRepository, Depends(repository(UserRepository))]

This is the only module of ``sqla_repo`` that imports FastAPI or Starlette: install the
``sqla-repo[fastapi]`` extra to use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http import HTTPStatus
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from ._engine import EngineFactory
from ._errors import (
    ConflictError,
    DatabaseUnavailableError,
    IntegrityViolationError,
    InvalidCursorError,
    InvalidFieldError,
    NotFoundError,
    PoolTimeoutError,
    RepositoryError,
    SerializationError,
    StaleDataError,
)
from ._repository import Repository
from ._transactions import top_level

__all__ = [
    "SessionDep",
    "add_exception_handlers",
    "get_session",
    "lifespan",
    "repository",
]

RepoT = TypeVar("RepoT", bound=Repository[Any, Any])


def lifespan(factory: EngineFactory) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """The app's lifespan: one engine for the app's lifetime, disposed at shutdown.

    At start-up it sets ``app.state.engine`` (``factory.create_async_engine()``) and
    ``app.state.sessionmaker`` (``factory.create_sessionmaker(engine)``); it opens no
    connection, so the app starts while its database is down. At shutdown it disposes
    the engine. Pass it as ``FastAPI(lifespan=lifespan(factory))``, or enter
    ``lifespan(factory)(app)`` inside a lifespan of your own: the sessionmaker is ready
    within it, and code after its ``yield`` runs before the engine is disposed.
    """

    @asynccontextmanager
    async def engine_lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = factory.create_async_engine()
        app.state.engine = engine
        app.state.sessionmaker = factory.create_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    return engine_lifespan


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, from the ``app.state.sessionmaker`` that :func:`lifespan` sets.

    When the endpoint returns, whatever response it returns, the session is flushed
    and committed; when anything raises (an ``HTTPException`` included) it is rolled
    back and the exception propagates, a database error as its
    :class:`~sqla_repo.RepositoryError` subclass. A failed commit is rolled back and
    raises the typed error, translated as repository methods translate (a deferred
    constraint: an :class:`~sqla_repo.IntegrityViolationError` subclass; a connection
    lost: :class:`~sqla_repo.DatabaseUnavailableError`, as
    :class:`~sqla_repo.CommitOutcomeUnknownError` when it was lost while ``COMMIT`` was
    in flight). The session is closed in every case.

    A request whose method may change data (not ``GET``, ``HEAD``, ``OPTIONS`` or
    ``TRACE``) begins its transaction as one that writes: on SQLite ``BEGIN
    IMMEDIATE``, so that concurrent requests that read and then write take turns
    instead of failing with ``SerializationError``; the servers need nothing.

    Take it through :data:`SessionDep`, which commits before the response is sent. It
    is the key to replace in ``app.dependency_overrides`` (tests). Raises
    ``RuntimeError`` when the app was not started with :func:`lifespan`.
    """
    sessions = getattr(request.app.state, "sessionmaker", None)
    if not isinstance(sessions, async_sessionmaker):
        raise RuntimeError(
            "sqla_repo.fastapi.get_session found no app.state.sessionmaker: the app was not "
            "started with sqla_repo.fastapi.lifespan; create it as "
            "FastAPI(lifespan=lifespan(factory)), or enter lifespan(factory)(app) inside "
            "your own lifespan"
        )
    writes = request.method not in _SAFE_METHODS
    async with top_level(sessions, None, False, writes=writes) as session:
        yield session


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Requests that do not change anything (RFC 9110 9.2.1); the others begin a writing
transaction, which on SQLite takes the write lock at ``BEGIN``."""

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""The request's session, committed before the response is sent.

``scope="function"`` ends the dependency when the endpoint returns, so a failed commit
becomes the error response, never a 2xx for data that was not stored. Every
dependency of one request that takes ``SessionDep`` gets the same session.
"""


def repository(cls: type[RepoT]) -> Callable[[AsyncSession], Awaitable[RepoT]]:
    """The dependency that gives ``cls(session)`` over the request's :data:`SessionDep`.

    Declare it at module level, where FastAPI resolves annotations:
    ``Users = Annotated[UserRepository, Depends(repository(UserRepository))]``.
    Raises ``TypeError`` at once when ``cls`` is not a :class:`~sqla_repo.Repository`
    subclass.
    """
    candidate: object = cls  # checked at run time too: callers need not type-check
    if not (isinstance(candidate, type) and issubclass(candidate, Repository)):
        raise TypeError(
            f"repository() takes a Repository subclass, such as UserRepository, not {cls!r}"
        )

    async def provide_repository(session: SessionDep) -> RepoT:
        return cls(session)

    provide_repository.__name__ = provide_repository.__qualname__ = f"repository_{cls.__name__}"
    return provide_repository


_STATUS: dict[type[RepositoryError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    StaleDataError: 409,
    SerializationError: 409,
    InvalidFieldError: 422,
    InvalidCursorError: 422,
    IntegrityViolationError: 422,
    DatabaseUnavailableError: 503,
    PoolTimeoutError: 503,
}
"""The status of each error class; a subclass takes the status of its nearest listed class."""

_PHRASES = {422: "Unprocessable Content"}
"""RFC 9110's phrases where Python's ``HTTPStatus`` still has the older one."""

Render = Callable[[RepositoryError, int], object]
"""Builds an error response's JSON body from the raised error and its status."""


def add_exception_handlers(
    app: FastAPI,
    *,
    statuses: Mapping[type[RepositoryError], int] | None = None,
    render: Render | None = None,
) -> None:
    """Answer sqla_repo's errors with their HTTP status and a body that gives nothing away.

    ``NotFoundError``: 404. ``ConflictError``, ``StaleDataError``,
    ``SerializationError``: 409. ``InvalidFieldError``, ``InvalidCursorError`` and every
    other ``IntegrityViolationError``: 422. ``DatabaseUnavailableError``,
    ``PoolTimeoutError``: 503. The body is ``{"detail": PHRASE, "error": CLASS_NAME}``
    (the status's fixed phrase and the raised class's ``__name__``), plus
    ``"constraint"`` (a name or ``null``) and ``"columns"`` (a list) for an
    ``IntegrityViolationError``. It never carries the exception's message, SQL,
    values, driver text or the URL. Other exceptions keep FastAPI's handling, and so
    does FastAPI's own request-validation 422.

    An API with a format of its own changes either part:

    - ``statuses`` maps error classes to statuses over the table above
      (``{ConflictError: 422}``); a raised class takes the status of its nearest class
      in the merged table, so any :class:`~sqla_repo.RepositoryError` subclass can be
      added. A key that is not one, or a status outside 400..599, raises at once
      (``TypeError``, ``ValueError``).
    - ``render(error, status)`` returns the JSON body instead of the one above. What it
      puts there is the app's choice: ``error.constraint`` and ``error.columns`` of an
      ``IntegrityViolationError`` are safe to show, while ``str(error)`` may quote
      values the request sent.
    """
    table = dict(_STATUS)
    for error, status in (statuses or {}).items():
        candidate: object = error  # checked at run time too: callers need not type-check
        if not (isinstance(candidate, type) and issubclass(candidate, RepositoryError)):
            raise TypeError(f"statuses keys are RepositoryError subclasses, not {error!r}")
        code: object = status
        if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
            raise ValueError(f"the status of {error.__name__} must be an int in 400..599")
        table[error] = status
    body = render if render is not None else _default_body

    async def respond(request: Request, exc: Exception) -> JSONResponse:
        error = cast("RepositoryError", exc)
        status = next(table[cls] for cls in type(exc).__mro__ if cls in table)
        return JSONResponse(body(error, status), status_code=status)

    for error in table:
        app.add_exception_handler(error, respond)


def _default_body(error: RepositoryError, status: int) -> dict[str, object]:
    body: dict[str, object] = {
        "detail": _PHRASES.get(status) or HTTPStatus(status).phrase,
        "error": type(error).__name__,
    }
    if isinstance(error, IntegrityViolationError):
        body["constraint"] = error.constraint
        body["columns"] = list(error.columns)
    return body
