"""The RealWorld example's start-up: its migrations, and where its database comes from.

Each test starts from an empty database of its own (a new SQLite file, or a new
database on the server, dropped afterwards).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydantic
import pytest
from examples.realworld.app import EMBEDDED_URL, ConduitSettings, create_app
from pydantic import SecretStr
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.realworld_client import BACKENDS, SECRET, database_url, running

TABLES = [
    "alembic_version",
    "article_tags",
    "articles",
    "comments",
    "favorites",
    "follows",
    "tags",
    "users",
]
UPGRADE = "Running upgrade  -> 0001"


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, URL]]:
    backend = str(request.param)
    with database_url(backend, tmp_path) as url:
        yield backend, url


async def _tables(url: URL) -> list[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            return sorted(names)
    finally:
        await engine.dispose()


def _upgrades(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Running upgrade")]


async def test_the_first_start_migrates_and_the_second_changes_nothing(
    empty_database: tuple[str, URL], caplog: pytest.LogCaptureFixture
) -> None:
    backend, url = empty_database
    assert await _tables(url) == []
    caplog.set_level(logging.INFO, logger="alembic")

    async with running(backend, url) as conduit:
        assert await _tables(url) == TABLES
        ann = await conduit.member()
        slug = (await conduit.article(ann, tags=["dragons"]))["slug"]
    assert [message.split(",")[0] for message in _upgrades(caplog)] == [UPGRADE]

    caplog.clear()
    async with running(backend, url) as conduit:
        assert _upgrades(caplog) == []  # alembic found the database at head
        assert await _tables(url) == TABLES
        async with conduit.engine.connect() as connection:
            versions = await connection.execute(text("SELECT version_num FROM alembic_version"))
            assert versions.scalars().all() == ["0001"]
        got = await conduit.http.get(f"/articles/{slug}")  # the data is still there
        assert got.status_code == 200
        assert got.json()["article"]["tagList"] == ["dragons"]
        assert (await conduit.http.get("/tags")).json() == {"tags": ["dragons"]}


async def test_without_database_url_the_app_uses_conduit_db_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env there either
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app(conduit=ConduitSettings(jwt_secret=SecretStr(SECRET)))
    assert not (tmp_path / "conduit.db").exists()  # nothing opened before start-up
    async with app.router.lifespan_context(app):
        url = app.state.engine.url
        assert (url.get_backend_name(), url.database) == ("sqlite", "conduit.db")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api") as http:
            response = await http.get("/tags")
            assert (response.status_code, response.json()) == (200, {"tags": []})
    assert (tmp_path / "conduit.db").is_file()
    assert make_url(EMBEDDED_URL).database == "conduit.db"
    assert await _tables(make_url(f"sqlite+aiosqlite:///{tmp_path / 'conduit.db'}")) == TABLES


@pytest.mark.parametrize(
    "value",
    ["not a url", "", "nosuchdb://host/db", "sqlite:///conduit.db", "mysql://root@host/db"],
)
def test_a_database_url_that_is_set_but_wrong_raises(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", value)
    with pytest.raises(pydantic.ValidationError, match="DATABASE_URL"):
        create_app()
    assert not (tmp_path / "conduit.db").exists()  # no fall-back to SQLite
