"""``sqla_repo.fastapi``'s choices for an API of its own: error statuses and bodies, and
the writing transaction of a request whose HTTP method may change data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from sqla_repo import (
    Base,
    ConflictError,
    EngineFactory,
    IntegrityViolationError,
    NotFoundError,
    PoolConfig,
    RepositoryError,
    User,
    UserRepository,
)
from sqla_repo.fastapi import SessionDep, add_exception_handlers, lifespan, repository

USERS = Base.metadata.tables["users"]
Users = Annotated[UserRepository, Depends(repository(UserRepository))]


class QuotaError(RepositoryError):
    """An application's own error class."""


class TeamConflictError(ConflictError):
    pass


def error_app(**options: Any) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app, **options)

    @app.get("/conflict")
    async def conflict() -> None:
        raise ConflictError("secret", constraint="uq_users_email", columns=["email"])

    @app.get("/team-conflict")
    async def team_conflict() -> None:
        raise TeamConflictError("secret", constraint="uq_teams_name", columns=["name"])

    @app.get("/missing")
    async def missing() -> None:
        raise NotFoundError("secret")

    @app.get("/quota")
    async def quota() -> None:
        raise QuotaError("secret")

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


# --- statuses and bodies -------------------------------------------------------------------


async def test_statuses_change_a_status_and_reach_subclasses_and_new_classes() -> None:
    app = error_app(statuses={ConflictError: 422, QuotaError: 429})
    conflict = await get(app, "/conflict")
    assert conflict.status_code == 422
    assert conflict.json() == {
        "detail": "Unprocessable Content",
        "error": "ConflictError",
        "constraint": "uq_users_email",
        "columns": ["email"],
    }
    assert (await get(app, "/team-conflict")).status_code == 422  # nearest listed class
    quota = await get(app, "/quota")
    assert (quota.status_code, quota.json()) == (
        429,
        {"detail": "Too Many Requests", "error": "QuotaError"},
    )
    assert (await get(app, "/missing")).status_code == 404  # the rest of the table stays


async def test_a_class_not_listed_keeps_fastapis_500() -> None:
    response = await get(error_app(), "/quota")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


async def test_render_builds_the_body_from_the_error_and_its_status() -> None:
    seen: list[tuple[str, int]] = []

    def render(error: RepositoryError, status: int) -> object:
        seen.append((type(error).__name__, status))
        if isinstance(error, IntegrityViolationError):
            return {"errors": {column: ["has already been taken"] for column in error.columns}}
        return {"errors": {"body": [f"{status}"]}}

    app = error_app(statuses={ConflictError: 422}, render=render)
    conflict = await get(app, "/conflict")
    assert (conflict.status_code, conflict.json()) == (
        422,
        {"errors": {"email": ["has already been taken"]}},
    )
    missing = await get(app, "/missing")
    assert (missing.status_code, missing.json()) == (404, {"errors": {"body": ["404"]}})
    assert seen == [("ConflictError", 422), ("NotFoundError", 404)]


@pytest.mark.parametrize(
    ("statuses", "error"),
    [
        ({ValueError: 400}, TypeError),
        ({"ConflictError": 422}, TypeError),
        ({ConflictError: 200}, ValueError),
        ({ConflictError: 600}, ValueError),
        ({ConflictError: True}, ValueError),
        ({ConflictError: "422"}, ValueError),
    ],
)
def test_a_wrong_statuses_table_is_refused_and_registers_nothing(
    statuses: dict[Any, Any], error: type[Exception]
) -> None:
    app = FastAPI()
    before = dict(app.exception_handlers)
    with pytest.raises(error):
        add_exception_handlers(app, statuses=statuses)
    assert app.exception_handlers == before


# --- the writing transaction ---------------------------------------------------------------


def user_app(factory: EngineFactory) -> FastAPI:
    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(factory)(app):
            engine: AsyncEngine = app.state.engine
            async with engine.begin() as connection:
                await connection.run_sync(USERS.drop, checkfirst=True)
                await connection.run_sync(USERS.create)
            try:
                yield
            finally:
                async with engine.begin() as connection:
                    await connection.run_sync(USERS.drop)

    app = FastAPI(lifespan=app_lifespan)
    add_exception_handlers(app)

    @app.post("/users/{number}")
    async def register(number: int, users: Users, session: SessionDep) -> dict[str, int]:
        """Reads, waits (other requests read meanwhile), then writes."""
        before = await users.count()
        await asyncio.sleep(0.01)
        await users.create({"email": f"user{number}@example.com"})
        return {"before": before}

    @app.post("/nothing")
    async def nothing(session: SessionDep) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/count")
    async def count(session: SessionDep) -> dict[str, int]:
        return {"users": int(await session.scalar(select(func.count()).select_from(User)) or 0)}

    return app


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    async with app.router.lifespan_context(app):
        sent: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            sent.append(statement)

        engine: AsyncEngine = app.state.engine
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, sent


async def test_concurrent_requests_that_read_then_write_all_succeed(db_url: URL) -> None:
    """On SQLite a transaction that read first cannot take the write lock once another
    wrote (``SerializationError``); a POST's transaction takes it at ``BEGIN``."""
    factory = EngineFactory(db_url, pool=PoolConfig(size=5, max_overflow=20))
    async with serving(user_app(factory)) as (client, _):
        responses = await asyncio.gather(*(client.post(f"/users/{n}") for n in range(30)))
        assert [response.status_code for response in responses] == [200] * 30
        assert (await client.get("/count")).json() == {"users": 30}


@pytest.mark.parametrize("backend", ["sqlite-file", "sqlite-memory"])
async def test_on_sqlite_a_post_begins_immediate_and_a_get_begins_deferred(db_url: URL) -> None:
    async with serving(user_app(EngineFactory(db_url))) as (client, sent):
        await client.post("/users/1")
        assert sent[0] == "BEGIN IMMEDIATE"
        assert "BEGIN" not in sent[1:]
        assert "BEGIN IMMEDIATE" not in sent[1:]
        sent.clear()
        await client.get("/count")
        assert sent[0] == "BEGIN"


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
async def test_on_the_servers_a_post_sends_nothing_more_than_a_get(db_url: URL) -> None:
    async with serving(user_app(EngineFactory(db_url))) as (client, sent):
        await client.get("/count")
        read = list(sent)
        sent.clear()
        await client.post("/users/1")
        assert len(sent) == 2  # the count and the INSERT: no set-up statement
        assert len(read) == 1


@pytest.mark.parametrize("backend", ["sqlite-file"])
async def test_a_post_without_sql_opens_no_connection(db_url: URL) -> None:
    """The write lock is taken with the first statement, not when the request starts:
    work before it (hashing a password) does not hold other writers back."""
    async with serving(user_app(EngineFactory(db_url))) as (client, sent):
        sent.clear()
        assert (await client.post("/nothing")).status_code == 200
        assert sent == []
