# pyright: strict
"""A FastAPI application and an Alembic ``env.py`` as a client writes them with sqla_repo.

Type-checked like ``client_ok.py``: ``mypy --strict`` without the pydantic plugin, pyright
and basedpyright in strict mode, every public result pinned with ``assert_type``. Run as a
walk-through of the FastAPI integration: ``python client_integrations.py DATABASE_URL``.
It imports what an application with the ``fastapi`` and ``alembic`` extras has, and httpx to
send the requests.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, assert_type

import httpx
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Integer, MetaData, String
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.applications import Starlette

from sqla_repo import NAMING_CONVENTION, Base, EngineFactory, Repository, UserRepository
from sqla_repo.alembic import run_migrations
from sqla_repo.fastapi import (
    SessionDep,
    add_exception_handlers,
    get_session,
    lifespan,
    repository,
)


class AppBase(DeclarativeBase):
    """The application's declarative base, with sqla_repo's constraint names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Account(AppBase):
    __tablename__ = "client_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(120))


class AccountRepository(Repository[Account, int]):
    pass


# At module level: FastAPI resolves endpoint annotations in the module's namespace.
Accounts = Annotated[AccountRepository, Depends(repository(AccountRepository))]
Users = Annotated[UserRepository, Depends(repository(UserRepository))]


class AccountIn(BaseModel):
    email: str
    name: str | None = None


class AccountPatch(BaseModel):
    email: str | None = None
    name: str | None = None


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str | None


def dependency_types(factory: EngineFactory) -> None:
    """What the integration's functions return."""
    assert_type(
        repository(AccountRepository), Callable[[AsyncSession], Awaitable[AccountRepository]]
    )
    assert_type(repository(UserRepository), Callable[[AsyncSession], Awaitable[UserRepository]])
    assert_type(lifespan(factory), Callable[[Starlette], AbstractAsyncContextManager[None]])


def app_lifespan(factory: EngineFactory) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """sqla_repo's lifespan composed into the application's own: the tables are created
    once the engine exists and dropped before it is disposed."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncGenerator[None, None]:
        async with lifespan(factory)(app):
            engine: AsyncEngine = app.state.engine
            async with engine.begin() as connection:
                await connection.run_sync(AppBase.metadata.drop_all)
                await connection.run_sync(AppBase.metadata.create_all)
            try:
                yield
            finally:
                async with engine.begin() as connection:
                    await connection.run_sync(AppBase.metadata.drop_all)

    return run


def build_app(factory: EngineFactory) -> FastAPI:
    app = FastAPI(lifespan=app_lifespan(factory))
    add_exception_handlers(app)

    @app.post("/accounts", status_code=201)
    async def create_account(body: AccountIn, accounts: Accounts) -> AccountOut:
        return AccountOut.model_validate(await accounts.create(body))

    @app.get("/accounts/{account_id}")
    async def read_account(account_id: int, accounts: Accounts) -> AccountOut:
        return AccountOut.model_validate(await accounts.get_one(account_id))

    @app.patch("/accounts/{account_id}")
    async def patch_account(account_id: int, body: AccountPatch, accounts: Accounts) -> AccountOut:
        return AccountOut.model_validate(await accounts.update(account_id, body))

    @app.get("/accounts")
    async def count_accounts(session: SessionDep, accounts: Accounts) -> dict[str, int]:
        assert accounts.session is session  # one session for every dependency of a request
        return {"count": await accounts.count()}

    @app.get("/users/{user_id}")
    async def read_user(user_id: int, users: Users) -> dict[str, str]:
        user = await users.get_one(user_id)
        return {"email": user.email}

    return app


def use_session(app: FastAPI, session: AsyncSession) -> None:
    """A test's own session for every request (``sqla_repo.testing``'s ``sqla_session``)."""

    async def same_session() -> AsyncIterator[AsyncSession]:
        yield session

    app.dependency_overrides[get_session] = same_session


def env_py(url: str) -> None:
    """The body of an Alembic ``env.py``; type-checked, not run (Alembic runs it)."""
    run_migrations(Base.metadata)
    run_migrations([Base.metadata, AppBase.metadata], url=url, compare_type=False)


async def requests(client: httpx.AsyncClient) -> None:
    """Create, read, conflict, PATCH and count through the endpoints."""
    created = await client.post("/accounts", json={"email": "ann@example.com", "name": "Ann"})
    assert created.status_code == 201, created.text
    ann = AccountOut.model_validate(created.json())
    assert (ann.email, ann.name) == ("ann@example.com", "Ann")

    found = await client.get(f"/accounts/{ann.id}")
    assert found.status_code == 200, found.text
    assert AccountOut.model_validate(found.json()) == ann

    missing = await client.get(f"/accounts/{ann.id + 1000}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found", "error": "NotFoundError"}

    twin = await client.post("/accounts", json={"email": "ann@example.com"})
    assert twin.status_code == 409
    body: dict[str, Any] = twin.json()
    assert (body["detail"], body["error"], body["columns"]) == (
        "Conflict",
        "ConflictError",
        ["email"],
    )

    patched = await client.patch(f"/accounts/{ann.id}", json={"name": None})
    assert patched.status_code == 200, patched.text
    assert AccountOut.model_validate(patched.json()) == AccountOut(
        id=ann.id, email="ann@example.com", name=None
    )

    counted = await client.get("/accounts")
    assert counted.json() == {"count": 1}  # the conflicting request was rolled back


async def walk_through(url: str) -> None:
    """Start the app (its tables created and dropped by its lifespan), send the requests."""
    factory = EngineFactory(url)
    dependency_types(factory)
    app = build_app(factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://client") as client:
            await requests(client)


if __name__ == "__main__":
    asyncio.run(walk_through(sys.argv[1]))
    print("integrations walk-through: ok")
