"""Conduit: the RealWorld API (https://realworld-docs.netlify.app) on sqla_repo.

    DATABASE_URL=postgresql+asyncpg://... python -m uvicorn examples.realworld.app:app

The database comes from ``DATABASE_URL`` (the environment, then ``./.env``), else the
embedded SQLite file ``conduit.db`` in the working directory. At start-up the app brings
its schema up to date through the Alembic migrations beside this file. Tokens are signed
with ``CONDUIT_JWT_SECRET`` (a random secret per process when unset: tokens then end with
the process, and several workers would not accept each other's).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from fastapi import APIRouter, FastAPI
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from sqla_repo import DatabaseSettings, EngineFactory
from sqla_repo.fastapi import lifespan

from . import articles, users
from .deps import TokenConfig
from .errors import install_error_handlers

HERE = Path(__file__).resolve().parent
EMBEDDED_URL = "sqlite+aiosqlite:///conduit.db"


class ConduitSettings(BaseSettings):
    """``CONDUIT_JWT_SECRET`` and ``CONDUIT_TOKEN_DAYS``."""

    model_config = SettingsConfigDict(env_prefix="CONDUIT_", env_file=".env", extra="ignore")

    jwt_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    token_days: int = Field(default=30, ge=1, le=3650)


def database_settings() -> DatabaseSettings:
    """``DatabaseSettings()`` (``DATABASE_URL``), or embedded SQLite when no URL is set."""
    try:
        return DatabaseSettings()
    except ValidationError as err:
        if any(error["type"] != "missing" for error in err.errors()):
            raise  # a URL that is set but wrong must not fall back to SQLite
        return DatabaseSettings(url=EMBEDDED_URL)


def migrate(url: str) -> None:
    """``alembic upgrade head`` with the migrations beside this file."""
    config = Config()
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def create_app(
    settings: DatabaseSettings | None = None,
    conduit: ConduitSettings | None = None,
    *,
    upgrade: bool = True,
) -> FastAPI:
    """The app; ``upgrade=False`` leaves the schema to the caller."""
    database = settings or database_settings()
    options = conduit or ConduitSettings()
    factory = EngineFactory.from_settings(database)
    url = make_url(database.url.get_secret_value()).render_as_string(hide_password=False)

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        if upgrade:
            await asyncio.to_thread(migrate, url)
        async with lifespan(factory)(app):
            yield

    app = FastAPI(title="Conduit", lifespan=app_lifespan)
    app.state.tokens = TokenConfig(
        options.jwt_secret.get_secret_value(), timedelta(days=options.token_days)
    )
    install_error_handlers(app)
    api = APIRouter(prefix="/api")
    api.include_router(users.router)
    api.include_router(articles.router)
    app.include_router(api)
    return app


app = create_app()
