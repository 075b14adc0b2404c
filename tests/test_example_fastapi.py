"""The FastAPI example (``examples/fastapi_app``), end to end over HTTP on every backend.

The app is built as it is deployed: ``create_app()`` reads ``DATABASE_URL``. Its schema
is brought up by the example's own Alembic migrations, run on the app's engine through
Alembic's connection sharing (so in-memory SQLite works too) and taken down again
afterwards; the Alembic command line is tested on the example's ``alembic.ini`` too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pydantic
import pytest
from alembic import command
from alembic.config import Config
from examples.fastapi_app.app import create_app
from fastapi import FastAPI, Request
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sqla_repo import EngineFactory, User, UserRepository
from sqla_repo.fastapi import get_session
from tests.servers import SERVERS, admin_connection, kill, server_session_id

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_app"
ALEMBIC_INI = EXAMPLE / "alembic.ini"


def _alembic(connection: Connection, direction: str) -> None:
    """``alembic upgrade head`` / ``downgrade base`` of the example, on ``connection``."""
    config = Config()  # the example's scripts; its alembic.ini's logging left alone
    config.set_main_option("script_location", str(EXAMPLE / "migrations"))
    config.attributes["connection"] = connection
    if direction == "upgrade":
        command.upgrade(config, "head")
    else:
        command.downgrade(config, "base")


async def _drop_leftovers(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for table in ("example_doomed", "users", "alembic_version"):
            await connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


class Example:
    """The running example app, a client for it, and a look at its database."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http
        self.sessions: async_sessionmaker[AsyncSession] = app.state.sessionmaker

    async def rows(self) -> list[tuple[int, str, str | None]]:
        async with self.sessions() as session:
            found = await session.execute(select(User.id, User.email, User.name).order_by(User.id))
            return [(row.id, row.email, row.name) for row in found]


@asynccontextmanager
async def running(db_url: URL, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Example]:
    monkeypatch.setenv("DATABASE_URL", db_url.render_as_string(hide_password=False))
    app = create_app()
    async with app.router.lifespan_context(app):
        engine: AsyncEngine = app.state.engine
        await _drop_leftovers(engine)
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "upgrade")
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield Example(app, http)
        finally:
            async with engine.begin() as connection:
                await connection.exec_driver_sql("DROP TABLE IF EXISTS example_doomed")
                await connection.run_sync(_alembic, "downgrade")
                await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


@pytest.fixture
async def example(db_url: URL, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Example]:
    async with running(db_url, monkeypatch) as started:
        yield started


# --- the migrations ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite-file", *SERVERS])
def test_the_migrations_bring_up_users_as_user_declares_it(
    backend: str, db_url: URL, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": db_url.render_as_string(hide_password=False)}

    def alembic(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), *args],
            cwd=tmp_path,  # no stray .env
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert "users" not in _tables(db_url, drop=("users", "alembic_version"))  # leftovers
    upgraded = alembic("upgrade", "head")
    assert upgraded.returncode == 0, upgraded.stderr
    try:
        checked = alembic("check")
        assert checked.returncode == 0, checked.stdout + checked.stderr  # nothing pending
        assert "No new upgrade operations detected" in checked.stdout + checked.stderr
        assert {"alembic_version", "users"} <= set(_tables(db_url))
    finally:
        downgraded = alembic("downgrade", "base")
    assert downgraded.returncode == 0, downgraded.stderr
    assert "users" not in _tables(db_url)
    assert "alembic_version" not in _tables(db_url, drop=("alembic_version",))


def _tables(db_url: URL, *, drop: tuple[str, ...] = ()) -> list[str]:
    """The database's table names, through the sync twin, after dropping ``drop``."""
    engine = EngineFactory(db_url).create_engine()
    try:
        with engine.begin() as connection:
            for table in drop:
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            return sorted(inspect(connection).get_table_names())
    finally:
        engine.dispose()


# --- the API --------------------------------------------------------------------------------


async def test_create_get_delete(example: Example) -> None:
    created = await example.http.post("/users", json={"email": "ada@example.com", "name": "Ada"})
    assert created.status_code == 201
    user = created.json()
    assert user == {"id": user["id"], "email": "ada@example.com", "name": "Ada"}
    assert await example.rows() == [(user["id"], "ada@example.com", "Ada")]

    got = await example.http.get(f"/users/{user['id']}")
    assert (got.status_code, got.json()) == (200, user)

    deleted = await example.http.delete(f"/users/{user['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert await example.rows() == []
    for response in (
        await example.http.get(f"/users/{user['id']}"),
        await example.http.delete(f"/users/{user['id']}"),
        await example.http.patch(f"/users/{user['id']}", json={"name": "x"}),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found", "error": "NotFoundError"}


async def test_a_taken_email_is_409_and_stores_nothing(example: Example) -> None:
    first = await example.http.post("/users", json={"email": "ada@example.com"})
    assert first.status_code == 201
    again = await example.http.post("/users", json={"email": "ada@example.com", "name": "B"})
    assert again.status_code == 409
    assert again.json() == {
        "detail": "Conflict",
        "error": "ConflictError",
        "constraint": "uq_users_email",
        "columns": ["email"],
    }
    assert "ada@example.com" not in again.text
    assert await example.rows() == [(first.json()["id"], "ada@example.com", None)]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/users", {"name": "no email"}),
        ("POST", "/users", {"email": "x" * 256}),
        ("POST", "/users", {"email": "ada@example.com", "name": 42}),
        ("POST", "/users", "not json"),
        ("PATCH", "/users/1", {"name": "n" * 121}),
        ("GET", "/users?limit=0", None),
        ("GET", "/users/not-a-number", None),
    ],
    ids=["missing", "too-long", "wrong-type", "not-json", "patch-too-long", "limit", "path"],
)
async def test_a_malformed_request_is_fastapis_422(
    example: Example, method: str, path: str, body: object
) -> None:
    if isinstance(body, str):
        response = await example.http.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = await example.http.request(method, path, json=body)
    assert response.status_code == 422
    assert list(response.json()) == ["detail"]
    assert isinstance(response.json()["detail"], list)
    assert await example.rows() == []


async def test_patch_writes_only_what_was_sent(example: Example) -> None:
    created = await example.http.post("/users", json={"email": "ada@example.com", "name": "Ada"})
    user_id = created.json()["id"]

    renamed = await example.http.patch(f"/users/{user_id}", json={"email": "ada@new.example"})
    assert renamed.json() == {"id": user_id, "email": "ada@new.example", "name": "Ada"}
    assert await example.rows() == [(user_id, "ada@new.example", "Ada")]  # name untouched

    nothing = await example.http.patch(f"/users/{user_id}", json={})
    assert nothing.status_code == 200
    assert await example.rows() == [(user_id, "ada@new.example", "Ada")]

    cleared = await example.http.patch(f"/users/{user_id}", json={"name": None})
    assert cleared.json() == {"id": user_id, "email": "ada@new.example", "name": None}
    assert await example.rows() == [(user_id, "ada@new.example", None)]  # NULL written

    refused = await example.http.patch(f"/users/{user_id}", json={"email": None, "name": "B"})
    assert refused.status_code == 422
    assert refused.json()["error"] == "NotNullViolationError"
    assert refused.json()["columns"] == ["email"]
    assert await example.rows() == [(user_id, "ada@new.example", None)]  # rolled back whole


@pytest.mark.parametrize("limit", [50, 37])
async def test_a_paged_walk_returns_every_user_once_in_order(example: Example, limit: int) -> None:
    async with example.sessions.begin() as session:
        await UserRepository(session).create_many(
            [{"email": f"user{n:03}@example.com", "name": f"User {n}"} for n in range(250)]
        )
    expected = await example.rows()
    assert len(expected) == 250

    seen: list[tuple[int, str, str | None]] = []
    pages = 0
    params: dict[str, str | int] = {"limit": limit}
    while True:
        response = await example.http.get("/users", params=params)
        assert response.status_code == 200
        page = response.json()
        pages += 1
        assert 1 <= len(page["items"]) <= limit  # never an empty page
        seen.extend((item["id"], item["email"], item["name"]) for item in page["items"])
        if page["next_cursor"] is None:
            break
        params = {"limit": limit, "after": page["next_cursor"]}
    assert seen == expected
    assert pages == -(-250 // limit)

    foreign = await example.http.get("/users", params={"after": "bm90LWEtY3Vyc29y"})
    assert foreign.status_code == 422
    assert foreign.json() == {"detail": "Unprocessable Content", "error": "InvalidCursorError"}


Saboteur = Callable[[Request, AsyncSession], Awaitable[None]]


async def _violate_a_deferred_constraint(request: Request, session: AsyncSession) -> None:
    await session.execute(text("INSERT INTO example_doomed (user_id) VALUES (-1)"))


def _losing_the_connection(backend: str, db_url: URL) -> Saboteur:
    async def lose(request: Request, session: AsyncSession) -> None:
        victim = await server_session_id(session, backend)
        async with admin_connection(db_url) as admin:
            await kill(admin, backend, victim)

    return lose


async def test_a_request_whose_commit_fails_is_an_error_and_stores_nothing(
    backend: str, db_url: URL, example: Example
) -> None:
    expected: dict[str, object]
    if backend == "mysql":  # no deferred constraints: the connection is lost instead
        sabotage = _losing_the_connection(backend, db_url)
        expected = {"detail": "Service Unavailable", "error": "CommitOutcomeUnknownError"}
        status = 503
    else:
        async with example.app.state.engine.begin() as connection:
            await connection.exec_driver_sql(
                "CREATE TABLE example_doomed (user_id BIGINT REFERENCES users (id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        sabotage = _violate_a_deferred_constraint
        expected = {
            "detail": "Unprocessable Content",
            "error": "ForeignKeyViolationError",
            "constraint": "example_doomed_user_id_fkey" if backend == "postgresql" else None,
            "columns": [],
        }
        status = 422
    session_of = asynccontextmanager(get_session)

    async def session_whose_commit_fails(request: Request) -> AsyncIterator[AsyncSession]:
        """The app's own session; after the endpoint, and before the commit, the sabotage."""
        async with session_of(request) as session:
            yield session
            await sabotage(request, session)

    example.app.dependency_overrides[get_session] = session_whose_commit_fails
    response = await example.http.post("/users", json={"email": "doomed@example.com"})
    assert response.status_code == status  # the commit failed before the response was sent
    assert response.json() == expected
    assert await example.rows() == []

    example.app.dependency_overrides.clear()
    assert (await example.http.post("/users", json={"email": "next@example.com"})).is_success
    assert [email for _, email, _ in await example.rows()] == ["next@example.com"]


def test_create_app_without_database_url_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env either
    with pytest.raises(pydantic.ValidationError, match="DATABASE_URL"):
        create_app()
