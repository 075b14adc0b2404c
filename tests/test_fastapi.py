"""``sqla_repo.fastapi``: lifespan, the request's session, repositories, errors as responses.

Every app here runs its lifespan explicitly (``httpx.ASGITransport`` does not) and is
driven with ``httpx.AsyncClient``. Tables are created on the app's own engine, inside
a lifespan that encloses ``lifespan(factory)``, so in-memory SQLite works too. What a
request stored is read back afterwards through a session of its own.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, MetaData, Table, func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import QueuePool

from sqla_repo import (
    NAMING_CONVENTION,
    Base,
    CheckViolationError,
    CommitOutcomeUnknownError,
    ConflictError,
    DatabaseUnavailableError,
    EngineFactory,
    ForeignKeyViolationError,
    IntegrityViolationError,
    InvalidCursorError,
    InvalidFieldError,
    NotFoundError,
    NotLoadedError,
    NotNullViolationError,
    PoolConfig,
    PoolTimeoutError,
    ReadOnlyError,
    Repository,
    RepositoryError,
    SerializationError,
    StaleDataError,
    StatementTimeoutError,
    User,
    UserRepository,
)
from sqla_repo.fastapi import (
    SessionDep,
    add_exception_handlers,
    get_session,
    lifespan,
    repository,
)
from tests.servers import SERVERS, admin_connection, kill, server_session_id

SECRET = "hunter2-secret"
"""A password, a value and a message fragment that no response may ever carry."""


class Model(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Team(Model):
    __tablename__ = "fastapi_teams"
    id: Mapped[int] = mapped_column(primary_key=True)


class Member(Model):
    """A member whose team is checked only at ``COMMIT`` (PostgreSQL, SQLite)."""

    __tablename__ = "fastapi_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey(Team.id, deferrable=True, initially="DEFERRED"))


class MemberRepository(Repository[Member, int]):
    pass


USERS = Base.metadata.tables["users"]
TEAMS = Model.metadata.tables["fastapi_teams"]
MEMBERS = Model.metadata.tables["fastapi_members"]

DEFERRED_BACKENDS = ("sqlite-file", "sqlite-memory", "postgresql")
"""The backends with deferred constraints (MySQL/MariaDB has none)."""

Users = Annotated[UserRepository, Depends(repository(UserRepository))]
Members = Annotated[MemberRepository, Depends(repository(MemberRepository))]


class UserIn(BaseModel):
    email: str
    name: str | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str | None


class SessionHolder:
    """Another dependency over the request's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session


async def session_holder(session: SessionDep) -> SessionHolder:
    return SessionHolder(session)


async def connection_killed_before_commit(
    request: Request, session: SessionDep
) -> AsyncIterator[None]:
    """Ends the request's server session after the endpoint returns, before the commit."""
    backend: str = request.app.state.test_backend
    victim = await server_session_id(session, backend)
    yield
    async with admin_connection(request.app.state.test_url) as admin:
        await kill(admin, backend, victim)


Holder = Annotated[SessionHolder, Depends(session_holder)]
KilledBeforeCommit = Annotated[None, Depends(connection_killed_before_commit, scope="function")]

ERRORS: dict[str, type[RepositoryError]] = {
    cls.__name__: cls
    for cls in (
        NotFoundError,
        ConflictError,
        StaleDataError,
        SerializationError,
        InvalidFieldError,
        InvalidCursorError,
        IntegrityViolationError,
        ForeignKeyViolationError,
        NotNullViolationError,
        CheckViolationError,
        DatabaseUnavailableError,
        CommitOutcomeUnknownError,
        PoolTimeoutError,
    )
}


def build_app(factory: EngineFactory | None, *, tables: list[Table] | None = None) -> FastAPI:
    """The test app; with a factory, a lifespan that creates ``tables`` (and drops them)."""
    if factory is None:
        app = FastAPI()
    else:
        created = tables if tables is not None else [USERS]

        @asynccontextmanager
        async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
            async with lifespan(factory)(app):
                if not created:  # nothing to set up: start without connecting
                    yield
                    return
                engine: AsyncEngine = app.state.engine
                async with engine.begin() as connection:
                    await connection.run_sync(drop_tables, created)
                    await connection.run_sync(create_tables, created)
                try:
                    yield
                finally:
                    async with engine.begin() as connection:
                        await connection.run_sync(drop_tables, created)

        app = FastAPI(lifespan=app_lifespan)
    add_exception_handlers(app)

    @app.post("/users", status_code=201)
    async def create_user(body: UserIn, users: Users) -> UserOut:
        return UserOut.model_validate(await users.create(body.model_dump()))

    @app.get("/users/{user_id}")
    async def get_user(user_id: int, users: Users) -> UserOut:
        return UserOut.model_validate(await users.get_one(user_id))

    @app.get("/users")
    async def list_users(users: Users, after: str | None = None) -> list[UserOut]:
        page = await users.paginate(limit=10, after=after)
        return [UserOut.model_validate(user) for user in page.items]

    @app.patch("/users/{user_id}/clear-email")
    async def clear_email(user_id: int, users: Users) -> UserOut:
        return UserOut.model_validate(await users.update(user_id, email=None))

    @app.post("/users/unknown-field")
    async def unknown_field(users: Users) -> UserOut:
        return UserOut.model_validate(await users.create({"email": "x@example.com", "age": 3}))

    @app.post("/users/then-http-error")
    async def then_http_error(body: UserIn, users: Users) -> None:
        await users.create(body.model_dump())
        raise HTTPException(status_code=418, detail="no tea")

    @app.post("/users/then-crash")
    async def then_crash(body: UserIn, users: Users) -> None:
        await users.create(body.model_dump())
        raise RuntimeError("the endpoint failed")

    @app.post("/users/own-response")
    async def own_response(body: UserIn, users: Users) -> JSONResponse:
        user = await users.create(body.model_dump())
        return JSONResponse({"id": user.id}, status_code=400)

    @app.post("/users/killed", status_code=201)
    async def create_then_lose_connection(
        body: UserIn, users: Users, _: KilledBeforeCommit
    ) -> UserOut:
        return UserOut.model_validate(await users.create(body.model_dump()))

    @app.post("/members", status_code=201)
    async def create_member(members: Members) -> dict[str, int]:
        member = await members.create({"team_id": 404})  # no such team: refused at COMMIT
        return {"id": member.id}

    @app.get("/shared")
    async def shared(session: SessionDep, users: Users, holder: Holder) -> dict[str, bool]:
        await users.create({"email": "seen@example.com"})
        seen = await session.scalar(select(func.count()).select_from(User))
        return {
            "repository": users.session is session,
            "other": holder.session is session,
            "flushed_write_visible": seen == 1,
        }

    @app.get("/ping")
    async def ping(session: SessionDep) -> dict[str, bool]:
        return {"session": isinstance(session, AsyncSession)}

    @app.get("/raise/{name}")
    async def raise_error(name: str) -> None:
        cls = ERRORS[name]
        message = f"password={SECRET} SELECT * FROM users WHERE email = '{SECRET}'"
        if issubclass(cls, IntegrityViolationError):
            raise cls(message, constraint="uq_users_email", columns=["email"])
        raise cls(message)

    @app.get("/raise-other/{name}")
    async def raise_other(name: str) -> None:
        others: dict[str, type[Exception]] = {
            cls.__name__: cls
            for cls in (
                RepositoryError,
                StatementTimeoutError,
                NotLoadedError,
                ReadOnlyError,
                ValueError,
            )
        }
        raise others[name](SECRET)

    return app


def checked_in(engine: AsyncEngine) -> int:
    """Connections idle in the engine's pool."""
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedin()


def create_tables(connection: Any, tables: list[Table]) -> None:
    for table in tables:
        table.create(connection)


def drop_tables(connection: Any, tables: list[Table]) -> None:
    for table in reversed(tables):
        table.drop(connection, checkfirst=True)


@asynccontextmanager
async def serving(app: FastAPI, *, raise_app_exceptions: bool = True) -> AsyncIterator[Client]:
    """The app started (its lifespan entered) and a client talking to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Client(app, client)


class Client:
    """An ``httpx.AsyncClient`` with a look at what the app's database holds."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    async def emails(self) -> list[str]:
        sessions: async_sessionmaker[AsyncSession] = self.app.state.sessionmaker
        async with sessions() as session:
            return list(await session.scalars(select(User.email).order_by(User.email)))

    async def member_count(self) -> int:
        sessions: async_sessionmaker[AsyncSession] = self.app.state.sessionmaker
        async with sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Member)) or 0)


# --- the lifespan ------------------------------------------------------------------------


async def test_lifespan_sets_the_engine_and_sessionmaker_and_disposes_the_engine(
    factory: EngineFactory,
) -> None:
    app = build_app(factory)
    async with serving(app) as client:
        engine = app.state.engine
        assert isinstance(engine, AsyncEngine)
        assert engine.url.drivername == factory.url.drivername
        assert engine.url.database == factory.url.database
        sessions = app.state.sessionmaker
        assert isinstance(sessions, async_sessionmaker)
        assert sessions.kw["bind"] is engine
        assert sessions.kw["expire_on_commit"] is False
        response = await client.http.post("/users", json={"email": "ada@example.com"})
        assert response.status_code == 201
        pool = engine.sync_engine.pool
        assert checked_in(engine) >= 1  # the request's connection went back to the pool
    # disposed: the pool's connections were closed and a fresh, empty pool replaced it
    assert engine.sync_engine.pool is not pool
    assert checked_in(engine) == 0


@pytest.mark.parametrize("backend", SERVERS)
async def test_the_app_starts_while_its_database_is_down(backend: str, db_url: URL) -> None:
    down = db_url.set(port=1, password=SECRET)  # nothing listens on port 1
    app = build_app(EngineFactory(down, pool=PoolConfig(timeout=5)), tables=[])
    async with serving(app) as client:  # the lifespan opened no connection
        ping = await client.http.get("/ping")
        assert ping.status_code == 200  # a request that sends no SQL commits nothing
        assert ping.json() == {"session": True}
        response = await client.http.get("/users/1")
        assert response.status_code == 503
        assert response.json() == {
            "detail": "Service Unavailable",
            "error": "DatabaseUnavailableError",
        }
        assert SECRET not in response.text


@pytest.mark.parametrize("backend", ["sqlite-file"])
async def test_neither_start_up_nor_a_request_without_sql_opens_a_connection(
    backend: str, db_url: URL
) -> None:
    path = Path(str(db_url.database))
    app = build_app(EngineFactory(db_url), tables=[])
    async with serving(app) as client:
        assert (await client.http.get("/ping")).status_code == 200
        # SQLite creates the file on the first connection
        assert not await asyncio.to_thread(path.exists)
    assert not await asyncio.to_thread(path.exists)


async def test_lifespan_composes_inside_an_application_lifespan(factory: EngineFactory) -> None:
    seen: dict[str, object] = {}

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(factory)(app):
            engine: AsyncEngine = app.state.engine
            async with engine.begin() as connection:
                await connection.run_sync(drop_tables, [USERS])
                await connection.run_sync(create_tables, [USERS])
            async with app.state.sessionmaker.begin() as session:  # seed data at start-up
                seen["seeded"] = (await UserRepository(session).create({"email": "s@x.io"})).id
            yield
            async with app.state.sessionmaker() as session:  # before the engine is disposed
                seen["at_shutdown"] = await UserRepository(session).count()
            async with engine.begin() as connection:
                await connection.run_sync(drop_tables, [USERS])
        seen["checked_in_after"] = checked_in(engine)

    app = FastAPI(lifespan=app_lifespan)
    add_exception_handlers(app)

    @app.get("/users/{user_id}")
    async def get_user(user_id: int, users: Users) -> UserOut:
        return UserOut.model_validate(await users.get_one(user_id))

    @app.post("/users", status_code=201)
    async def create_user(body: UserIn, users: Users) -> UserOut:
        return UserOut.model_validate(await users.create(body.model_dump()))

    async with serving(app) as client:
        response = await client.http.get(f"/users/{seen['seeded']}")
        assert response.status_code == 200
        assert response.json() == {"id": seen["seeded"], "email": "s@x.io", "name": None}
        assert (await client.http.post("/users", json={"email": "t@x.io"})).status_code == 201
    assert seen["at_shutdown"] == 2
    assert seen["checked_in_after"] == 0


async def test_get_session_without_lifespan_says_so() -> None:
    app = build_app(None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match=r"not started with sqla_repo\.fastapi\.lifespan"):
            await client.get("/ping")


# --- the request's session: commit, rollback, one per request -----------------------------


async def test_a_successful_request_commits(factory: EngineFactory) -> None:
    async with serving(build_app(factory)) as client:
        response = await client.http.post("/users", json={"email": "ada@example.com", "name": "A"})
        assert response.status_code == 201
        assert response.json() == {
            "id": response.json()["id"],
            "email": "ada@example.com",
            "name": "A",
        }
        assert await client.emails() == ["ada@example.com"]
        got = await client.http.get(f"/users/{response.json()['id']}")
        assert got.json() == response.json()


async def test_an_endpoint_returning_its_own_response_still_commits(factory: EngineFactory) -> None:
    async with serving(build_app(factory)) as client:
        response = await client.http.post("/users/own-response", json={"email": "own@example.com"})
        assert response.status_code == 400
        assert await client.emails() == ["own@example.com"]


async def test_an_http_exception_rolls_back(factory: EngineFactory) -> None:
    async with serving(build_app(factory)) as client:
        response = await client.http.post("/users/then-http-error", json={"email": "t@example.com"})
        assert response.status_code == 418
        assert response.json() == {"detail": "no tea"}
        assert await client.emails() == []


async def test_any_exception_rolls_back_and_keeps_fastapis_500(factory: EngineFactory) -> None:
    async with serving(build_app(factory), raise_app_exceptions=False) as client:
        response = await client.http.post("/users/then-crash", json={"email": "c@example.com"})
        assert response.status_code == 500
        assert await client.emails() == []
        # the pool is fit for the next request
        assert (
            await client.http.post("/users", json={"email": "n@example.com"})
        ).status_code == 201
        assert await client.emails() == ["n@example.com"]


async def test_every_dependency_of_a_request_shares_one_session(factory: EngineFactory) -> None:
    async with serving(build_app(factory)) as client:
        response = await client.http.get("/shared")
        assert response.status_code == 200
        assert response.json() == {"repository": True, "other": True, "flushed_write_visible": True}
        assert await client.emails() == ["seen@example.com"]


@pytest.mark.parametrize("backend", DEFERRED_BACKENDS)
async def test_a_commit_refused_by_a_deferred_constraint_is_the_error_response(
    backend: str, factory: EngineFactory
) -> None:
    app = build_app(factory, tables=[Team.__table__, Member.__table__])  # type: ignore[list-item]
    async with serving(app) as client:
        response = await client.http.post("/members")
        # the INSERT was accepted; COMMIT refused it, before the response was sent
        assert response.status_code == 422
        expected: dict[str, object] = {
            "detail": "Unprocessable Content",
            "error": "ForeignKeyViolationError",
            # PostgreSQL names the constraint, SQLite does not; a COMMIT names no columns
            "constraint": (
                "fk_fastapi_members_team_id_fastapi_teams" if backend == "postgresql" else None
            ),
            "columns": [],
        }
        assert response.json() == expected
        assert await client.member_count() == 0


@pytest.mark.parametrize("backend", SERVERS)
async def test_a_connection_lost_before_the_commit_is_a_503_and_stores_nothing(
    backend: str, db_url: URL, factory: EngineFactory
) -> None:
    app = build_app(factory)
    app.state.test_backend = backend
    app.state.test_url = db_url
    async with serving(app) as client:
        response = await client.http.post("/users/killed", json={"email": "lost@example.com"})
        assert response.status_code == 503
        # lost while COMMIT was sent: the client cannot know whether it was applied
        assert response.json() == {
            "detail": "Service Unavailable",
            "error": "CommitOutcomeUnknownError",
        }
        assert await client.emails() == []  # the server rolled the transaction back
        assert (
            await client.http.post("/users", json={"email": "n@example.com"})
        ).status_code == 201
        assert await client.emails() == ["n@example.com"]


async def test_dependency_overrides_replace_the_session(
    factory: EngineFactory, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    app = build_app(None)  # no lifespan: only the override provides sessions
    own = sessions()

    async def test_session() -> AsyncIterator[AsyncSession]:
        yield own  # neither committed nor rolled back here: the test decides

    app.dependency_overrides[get_session] = test_session
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/users", json={"email": "o@example.com"})
            assert response.status_code == 201
            shared = await client.get("/shared")
            assert shared.json()["other"] is True
        found = await own.scalars(select(User.email).order_by(User.email))
        assert list(found) == ["o@example.com", "seen@example.com"]
        await own.rollback()
    finally:
        await own.close()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


# --- errors as responses ------------------------------------------------------------------

STATUS = {
    "NotFoundError": (404, "Not Found"),
    "ConflictError": (409, "Conflict"),
    "StaleDataError": (409, "Conflict"),
    "SerializationError": (409, "Conflict"),
    "InvalidFieldError": (422, "Unprocessable Content"),
    "InvalidCursorError": (422, "Unprocessable Content"),
    "IntegrityViolationError": (422, "Unprocessable Content"),
    "ForeignKeyViolationError": (422, "Unprocessable Content"),
    "NotNullViolationError": (422, "Unprocessable Content"),
    "CheckViolationError": (422, "Unprocessable Content"),
    "DatabaseUnavailableError": (503, "Service Unavailable"),
    "CommitOutcomeUnknownError": (503, "Service Unavailable"),
    "PoolTimeoutError": (503, "Service Unavailable"),
}


@pytest.fixture(scope="module")
def error_app() -> FastAPI:
    return build_app(None)


@pytest.mark.parametrize("name", sorted(STATUS))
async def test_each_error_class_has_its_status_and_a_body_without_the_message(
    error_app: FastAPI, name: str
) -> None:
    transport = httpx.ASGITransport(app=error_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(f"/raise/{name}")
    status, phrase = STATUS[name]
    assert response.status_code == status
    expected: dict[str, object] = {"detail": phrase, "error": name}
    if issubclass(ERRORS[name], IntegrityViolationError):
        expected |= {"constraint": "uq_users_email", "columns": ["email"]}
    assert response.json() == expected
    assert list(response.json()) == list(expected)  # detail, error, then the constraint
    assert SECRET not in response.text
    assert "SELECT" not in response.text


@pytest.mark.parametrize(
    "name",
    ["RepositoryError", "StatementTimeoutError", "NotLoadedError", "ReadOnlyError", "ValueError"],
)
async def test_other_errors_keep_fastapis_500(error_app: FastAPI, name: str) -> None:
    transport = httpx.ASGITransport(app=error_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(f"/raise-other/{name}")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


async def test_a_subclass_takes_the_status_of_its_nearest_listed_class() -> None:
    class UserMissingError(NotFoundError):
        pass

    app = FastAPI()
    add_exception_handlers(app)

    @app.get("/missing")
    async def missing() -> None:
        raise UserMissingError(SECRET)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "error": "UserMissingError"}


async def test_database_errors_of_a_request_become_their_responses(
    backend: str, factory: EngineFactory
) -> None:
    async with serving(build_app(factory)) as client:
        created = await client.http.post("/users", json={"email": SECRET})
        assert created.status_code == 201
        user_id = created.json()["id"]

        duplicate = await client.http.post("/users", json={"email": SECRET, "name": "copy"})
        assert duplicate.status_code == 409
        assert duplicate.json() == {
            "detail": "Conflict",
            "error": "ConflictError",
            "constraint": "uq_users_email",
            "columns": ["email"],
        }
        assert SECRET not in duplicate.text

        missing = await client.http.get(f"/users/{user_id + 1}")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Not Found", "error": "NotFoundError"}

        unknown = await client.http.post("/users/unknown-field")
        assert unknown.status_code == 422
        assert unknown.json() == {"detail": "Unprocessable Content", "error": "InvalidFieldError"}

        cursor = await client.http.get("/users", params={"after": "not-a-cursor"})
        assert cursor.status_code == 422
        assert cursor.json() == {"detail": "Unprocessable Content", "error": "InvalidCursorError"}

        cleared = await client.http.patch(f"/users/{user_id}/clear-email")
        assert cleared.status_code == 422
        body = cleared.json()
        assert body == {
            "detail": "Unprocessable Content",
            "error": "NotNullViolationError",
            "constraint": body["constraint"],  # backends differ: not every one names it
            "columns": ["email"],
        }
        assert body["constraint"] is None or isinstance(body["constraint"], str)
        assert SECRET not in cleared.text

        assert await client.emails() == [SECRET]  # every failed request was rolled back


async def test_an_exhausted_pool_is_a_503(backend: str, db_url: URL) -> None:
    factory = EngineFactory(db_url, pool=PoolConfig(size=1, max_overflow=0, timeout=0.2))
    async with serving(build_app(factory)) as client:
        engine: AsyncEngine = client.app.state.engine
        async with engine.connect() as held:  # the pool's only connection
            await held.exec_driver_sql("SELECT 1")
            response = await client.http.get("/users/1")
        assert response.status_code == 503
        assert response.json() == {"detail": "Service Unavailable", "error": "PoolTimeoutError"}
        assert (await client.http.get("/users/1")).status_code == 404  # served again


async def test_fastapis_own_validation_422_is_untouched(factory: EngineFactory) -> None:
    async with serving(build_app(factory)) as client:
        response = await client.http.post("/users", json={"name": "no email"})
        assert response.status_code == 422
        body = response.json()
        assert list(body) == ["detail"]
        assert isinstance(body["detail"], list)
        assert body["detail"][0]["loc"] == ["body", "email"]
        assert await client.emails() == []


# --- repository() and the import boundary --------------------------------------------------


def test_repository_refuses_what_is_not_a_repository() -> None:
    with pytest.raises(TypeError, match="Repository subclass"):
        repository(User)  # type: ignore[type-var]  # the misuse under test


def test_importing_sqla_repo_imports_neither_fastapi_nor_starlette() -> None:
    code = (
        "import sys, sqla_repo; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    code = "import sys, sqla_repo.fastapi; print('fastapi' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
