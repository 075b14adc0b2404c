"""Autogenerate with sqla_repo's column types: the revision imports what it names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from sqla_repo import EngineFactory

ENV = """
from sqlalchemy import Column, Integer, MetaData, Table

from sqla_repo import UTCDateTime
from sqla_repo.alembic import run_migrations

metadata = MetaData()
Table("stamped", metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
run_migrations(metadata{options})
"""
MAKO = Path(__file__).resolve().parent.parent / "src/sqla_repo/_templates/alembic/script.py.mako"


def scripts(tmp_path: Path, options: str = "") -> Config:
    location = tmp_path / "migrations"
    (location / "versions").mkdir(parents=True)
    (location / "env.py").write_text(ENV.format(options=options), encoding="utf-8")
    (location / "script.py.mako").write_text(MAKO.read_text(encoding="utf-8"), encoding="utf-8")
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    return config


def revision_text(tmp_path: Path) -> str:
    (written,) = (tmp_path / "migrations" / "versions").glob("*.py")
    return written.read_text(encoding="utf-8")


def test_a_revision_naming_utcdatetime_imports_sqla_repo_and_runs(tmp_path: Path) -> None:
    config = scripts(tmp_path)
    command.revision(config, message="stamped", autogenerate=True)
    text = revision_text(tmp_path)
    assert "sqla_repo.UTCDateTime(" in text
    assert "\nimport sqla_repo\n" in text
    command.upgrade(config, "head")  # the revision runs: the name it uses is imported

    async def columns() -> list[str]:
        engine = create_async_engine(
            EngineFactory(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}").url
        )
        try:
            async with engine.connect() as connection:
                found = await connection.run_sync(
                    lambda sync: [c["name"] for c in inspect(sync).get_columns("stamped")]
                )
                return list(found)
        finally:
            await engine.dispose()

    assert asyncio.run(columns()) == ["id", "at"]


def test_an_applications_own_render_item_wins(tmp_path: Path) -> None:
    hook = ', render_item=lambda kind, obj, context: "sa.DateTime()" if kind == "type" else False'
    config = scripts(tmp_path, hook)
    command.revision(config, message="stamped", autogenerate=True)
    text = revision_text(tmp_path)
    assert "sqla_repo" not in text
    assert "sa.DateTime()" in text


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
