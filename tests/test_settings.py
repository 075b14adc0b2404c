"""DatabaseSettings and EngineFactory.from_settings: sources, validation, the secret URL."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
from sqlalchemy import text

from sqla_repo import DatabaseSettings, EngineFactory, PoolConfig

SECRET = "hunter2-Secret"
VARIABLES = (
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "DATABASE_MAX_OVERFLOW",
    "DATABASE_POOL_TIMEOUT",
    "DATABASE_POOL_RECYCLE",
    "DATABASE_POOL_PRE_PING",
    "DATABASE_ECHO",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DATABASE_* variable and no .env from outside the test; the cwd is a temp dir."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _shown(err: pydantic.ValidationError) -> str:
    return "\n".join((str(err), repr(err), err.json(), repr(err.errors())))


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///app.db")
    settings = DatabaseSettings()
    assert settings.url.get_secret_value() == "sqlite+aiosqlite:///app.db"
    assert (
        settings.pool_size,
        settings.max_overflow,
        settings.pool_timeout,
        settings.pool_recycle,
        settings.pool_pre_ping,
        settings.echo,
    ) == (5, 10, 30.0, -1, True, False)
    for name, value in (
        ("DATABASE_POOL_SIZE", "7"),
        ("DATABASE_MAX_OVERFLOW", "0"),
        ("DATABASE_POOL_TIMEOUT", "0.25"),
        ("DATABASE_POOL_RECYCLE", "1800"),
        ("DATABASE_POOL_PRE_PING", "false"),
        ("DATABASE_ECHO", "1"),
    ):
        monkeypatch.setenv(name, value)
    settings = DatabaseSettings()
    assert (
        settings.pool_size,
        settings.max_overflow,
        settings.pool_timeout,
        settings.pool_recycle,
        settings.pool_pre_ping,
        settings.echo,
    ) == (7, 0, 0.25, 1800, False, True)


def test_keywords_win_over_environment_over_dotenv(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    (clean_environment / ".env").write_text(
        "DATABASE_URL=sqlite+aiosqlite:///dotenv.db\nDATABASE_POOL_SIZE=3\nDATABASE_ECHO=true\n"
    )
    settings = DatabaseSettings()
    assert settings.url.get_secret_value() == "sqlite+aiosqlite:///dotenv.db"
    assert (settings.pool_size, settings.echo) == (3, True)

    monkeypatch.setenv("DATABASE_POOL_SIZE", "4")
    assert DatabaseSettings().pool_size == 4
    settings = DatabaseSettings(url="sqlite+aiosqlite:///kw.db", pool_size=2)
    assert settings.url.get_secret_value() == "sqlite+aiosqlite:///kw.db"
    assert (settings.pool_size, settings.echo) == (2, True)


def test_env_file_argument(clean_environment: Path) -> None:
    other = clean_environment / "config" / "prod.env"
    other.parent.mkdir()
    other.write_text("DATABASE_URL=sqlite+aiosqlite:///prod.db\nDATABASE_MAX_OVERFLOW=0\n")
    settings = DatabaseSettings(_env_file=other)
    assert settings.url.get_secret_value() == "sqlite+aiosqlite:///prod.db"
    assert settings.max_overflow == 0


def test_other_variables_are_ignored(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("URL", "sqlite+aiosqlite:///wrong.db")
    monkeypatch.setenv("POOL_SIZE", "0")
    monkeypatch.setenv("DATABASE_SOMETHING_ELSE", "x")
    (clean_environment / ".env").write_text("UNRELATED=1\nDATABASE_URL=sqlite+aiosqlite://\n")
    settings = DatabaseSettings()
    assert settings.url.get_secret_value() == "sqlite+aiosqlite://"
    assert settings.pool_size == 5


def test_missing_url_names_the_variable() -> None:
    with pytest.raises(pydantic.ValidationError, match="DATABASE_URL") as caught:
        DatabaseSettings()
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_POOL_SIZE", "many"),
        ("DATABASE_MAX_OVERFLOW", "-1"),
        ("DATABASE_POOL_TIMEOUT", "0"),
        ("DATABASE_POOL_TIMEOUT", "inf"),
        ("DATABASE_POOL_RECYCLE", "-2"),
        ("DATABASE_POOL_PRE_PING", "maybe"),
        ("DATABASE_ECHO", "loud"),
    ],
)
@pytest.mark.parametrize("source", ["environment", "dotenv"])
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path, variable: str, value: str, source: str
) -> None:
    url = f"postgresql+asyncpg://app:{SECRET}@db/app"
    if source == "environment":
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv(variable, value)
    else:
        (clean_environment / ".env").write_text(f"DATABASE_URL={url}\n{variable}={value}\n")
    with pytest.raises(pydantic.ValidationError) as caught:
        DatabaseSettings()
    shown = _shown(caught.value)
    assert variable in shown
    assert SECRET not in shown
    assert [error["loc"] for error in caught.value.errors()] == [(variable,)]


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg2://app:{SECRET}@db/app",
        f"oracle+cx_oracle://app:{SECRET}@db/app",
        f"mysql://app:{SECRET}@db/app",
        f"not a url {SECRET}",
    ],
)
def test_bad_url_never_shows_the_secret(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(pydantic.ValidationError, match="DATABASE_URL") as caught:
        DatabaseSettings()
    assert SECRET not in _shown(caught.value)
    with pytest.raises(pydantic.ValidationError) as caught:
        DatabaseSettings(url=url)
    assert SECRET not in _shown(caught.value)


def test_url_is_secret_in_repr_str_and_dumps() -> None:
    settings = DatabaseSettings(url=f"postgresql+asyncpg://app:{SECRET}@db/app")
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        json.dumps(settings.model_dump(mode="json")),
        repr(settings.model_dump()),
    ):
        assert SECRET not in shown
        assert "db/app" not in shown


def test_settings_are_frozen() -> None:
    settings = DatabaseSettings(url="sqlite+aiosqlite://")
    with pytest.raises(pydantic.ValidationError):
        settings.pool_size = 3


def test_from_settings_maps_every_field() -> None:
    settings = DatabaseSettings(
        url=f"postgresql+asyncpg://app:{SECRET}@db/app",
        pool_size=3,
        max_overflow=1,
        pool_timeout=2.5,
        pool_recycle=900,
        pool_pre_ping=False,
        echo=True,
    )
    factory = EngineFactory.from_settings(settings)
    assert factory.pool == PoolConfig(
        size=3, max_overflow=1, timeout=2.5, recycle=900, pre_ping=False
    )
    assert factory.echo is True
    assert factory.url.password == SECRET
    assert SECRET not in repr(factory)


def test_from_settings_alone_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///env.db")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "9")
    factory = EngineFactory.from_settings()
    assert factory.url.database == "env.db"
    assert factory.pool == PoolConfig(size=9)
    with pytest.raises(TypeError, match="DatabaseSettings"):
        EngineFactory.from_settings({"url": "sqlite+aiosqlite://"})  # type: ignore[arg-type]


async def test_from_settings_serves(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'served.db'}")
    engine = EngineFactory.from_settings().create_async_engine()
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await engine.dispose()
