"""``sqla-repo check``: the installed console script, on every backend and driver.

Every run starts the real script in a subprocess, in an empty working directory (no
stray ``.env``) with no ``DATABASE_*`` variable but those the test sets.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from sqla_repo._backends import find_backend
from sqla_repo._check import classify
from tests.conftest import MYSQL_URL, POSTGRES_URL, ServerDatabase, server_url
from tests.drivers import ASYNCPG, MARIADB, PSYCOPG, every_driver, server_drivers
from tests.servers import admin_connection

SCRIPT = Path(sys.executable).with_name("sqla-repo")
KEYS = [
    "ok",
    "url",
    "backend",
    "driver",
    "server_version",
    "latency_ms",
    "pool",
    "returning",
    "upsert",
    "foreign_keys",
    "isolation_level",
]
DEFAULT_POOL = {"size": 5, "max_overflow": 10, "timeout": 30.0, "recycle": -1, "pre_ping": True}
UPSERT = {
    "postgresql": "ON CONFLICT",
    "mysql": "ON DUPLICATE KEY UPDATE",
    "sqlite": "ON CONFLICT",
}
SECRET = "Chk-s3cr3t-Pa55"
MEMORY_URL = "sqlite+aiosqlite:///:memory:"
_THROWAWAY = re.compile(r"^sqla_check_(\d+)_[0-9a-f]+$")


@dataclass(frozen=True)
class Run:
    """One finished run of the script."""

    code: int
    out: str
    err: str

    def report(self) -> dict[str, Any]:
        """stdout as the one JSON object it must be."""
        assert self.out.endswith("\n")
        assert self.out.count("\n") == 1, self.out
        found = json.loads(self.out)
        assert isinstance(found, dict)
        return found


def check(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Run:
    """Run ``sqla-repo check ARGS`` with exactly the ``DATABASE_*`` variables of ``env``."""
    return sqla_repo("check", *args, cwd=cwd, env=env)


def sqla_repo(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Run:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("DATABASE_")
    }
    environment.update(env or {})
    result = subprocess.run(
        [os.fspath(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=environment,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return Run(result.returncode, result.stdout, result.stderr)


def plain(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def assert_failure(run: Run, reason: str, *hidden: str) -> str:
    """A ``--json`` failure: exit 1, exactly the three keys, nothing on stderr to parse."""
    assert run.code == 1, run
    report = run.report()
    assert list(report) == ["ok", "reason", "error"]
    assert report["ok"] is False
    assert report["reason"] == reason, report
    assert isinstance(report["error"], str)
    assert report["error"]
    for secret in hidden:
        assert secret not in run.out + run.err
    return str(report["error"])


def assert_failure_line(run: Run, *hidden: str) -> str:
    """A failure without ``--json``: exit 1, one line on stderr, nothing on stdout."""
    assert run.code == 1, run
    assert run.out == ""
    assert run.err.startswith("sqla-repo check: ")
    assert run.err.endswith("\n")
    assert run.err.count("\n") == 1, run.err
    for secret in hidden:
        assert secret not in run.err
    return run.err.removeprefix("sqla-repo check: ").rstrip("\n")


# --- what the script reports ------------------------------------------------------


@dataclass(frozen=True)
class ServerFacts:
    """What a plain SQLAlchemy engine (none of sqla_repo's set-up) reads from the server."""

    version: str
    isolation_level: str
    returning: bool


async def _server_facts(url: URL) -> ServerFacts:
    if url.get_backend_name() == "sqlite":
        return ServerFacts(
            sqlite3.sqlite_version, "SERIALIZABLE", sqlite3.sqlite_version_info >= (3, 35)
        )
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            if url.get_backend_name() == "postgresql":
                version = await connection.scalar(text("SHOW server_version"))
                level = await connection.scalar(text("SHOW default_transaction_isolation"))
            else:
                version = await connection.scalar(text("SELECT VERSION()"))
                # MariaDB before 11.1 knows only tx_isolation, MySQL 8 only transaction_isolation
                rows = await connection.execute(text("SHOW SESSION VARIABLES LIKE '%isolation'"))
                variables = {str(name): value for name, value in rows}
                level = variables.get("transaction_isolation", variables.get("tx_isolation"))
        return ServerFacts(
            str(version), str(level).upper().replace("-", " "), engine.dialect.insert_returning
        )
    finally:
        await engine.dispose()


@every_driver
def test_json_reports_every_fact(db_url: URL, tmp_path: Path) -> None:
    run = check("--json", cwd=tmp_path, env={"DATABASE_URL": plain(db_url)})
    assert run.code == 0, run
    report = run.report()
    assert list(report) == KEYS
    facts = asyncio.run(_server_facts(db_url))
    backend = db_url.get_backend_name()
    assert report["ok"] is True
    assert report["url"] == db_url.render_as_string(hide_password=True)
    assert make_url(report["url"]) == db_url
    assert report["backend"] == backend
    assert report["driver"] == db_url.get_driver_name()
    assert report["server_version"] == facts.version
    latency = report["latency_ms"]
    assert isinstance(latency, float | int)
    assert not isinstance(latency, bool)
    assert latency > 0
    assert report["pool"] == DEFAULT_POOL
    assert isinstance(report["pool"]["timeout"], float)
    assert report["returning"] is facts.returning
    assert report["upsert"] == UPSERT[backend]
    assert report["foreign_keys"] is True
    assert report["isolation_level"] == facts.isolation_level


def _table(output: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in output.splitlines():
        key, value = line.split(None, 1)
        rows[key] = value
    return rows


@every_driver
def test_table_shows_the_same_facts_as_json(db_url: URL, tmp_path: Path) -> None:
    env = {"DATABASE_URL": plain(db_url)}
    report = check("--json", cwd=tmp_path, env=env).report()
    run = check(cwd=tmp_path, env=env)
    assert run.code == 0, run
    assert run.err == ""
    rows = _table(run.out)
    assert list(rows) == KEYS
    for key in ("url", "backend", "driver", "server_version", "upsert", "isolation_level"):
        assert rows[key] == report[key]
    for key in ("ok", "returning", "foreign_keys"):
        assert rows[key] == json.dumps(report[key])
    assert float(rows["latency_ms"]) > 0
    assert rows["pool"] == "size=5 max_overflow=10 timeout=30.0 recycle=-1 pre_ping=true"


def test_url_option_keeps_the_pool_variables(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_POOL_TIMEOUT=7.5\n")
    env = {
        "DATABASE_URL": f"postgresql+asyncpg://app:{SECRET}@127.0.0.1:1/elsewhere",
        "DATABASE_POOL_SIZE": "3",
        "DATABASE_MAX_OVERFLOW": "0",
        "DATABASE_POOL_RECYCLE": "600",
        "DATABASE_POOL_PRE_PING": "false",
    }
    run = check("--json", "--url", MEMORY_URL, cwd=tmp_path, env=env)
    assert run.code == 0, run
    report = run.report()
    assert report["backend"] == "sqlite"
    assert report["pool"] == {
        "size": 3,
        "max_overflow": 0,
        "timeout": 7.5,
        "recycle": 600,
        "pre_ping": False,
    }
    assert SECRET not in run.out + run.err


def test_echo_goes_to_stderr_never_into_the_report(tmp_path: Path) -> None:
    run = check("--json", cwd=tmp_path, env={"DATABASE_URL": MEMORY_URL, "DATABASE_ECHO": "true"})
    assert run.code == 0, run
    assert run.report()["backend"] == "sqlite"
    assert "SELECT 1" in run.err


# --- auth -------------------------------------------------------------------------


def _drop_leftovers(names: list[str]) -> list[str]:
    """Throwaway users of runs whose process is gone."""
    stale = []
    for name in names:
        match = _THROWAWAY.match(name)
        if match is None:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            stale.append(name)
        except PermissionError:
            pass
    return stale


async def _admin(url: URL, statements: list[str], listing: str) -> list[str]:
    async with admin_connection(url) as connection:
        names = [str(row[0]) for row in await connection.execute(text(listing))]
        for statement in statements:
            await connection.execute(text(statement))
    return names


def _mysql_admin(url: URL, statements: list[str]) -> list[str]:
    listing = "SELECT User FROM mysql.user WHERE User LIKE 'sqla\\_check\\_%'"
    return asyncio.run(_admin(url, statements, listing))


def _postgres_admin(url: URL, statements: list[str]) -> list[str]:
    listing = "SELECT rolname FROM pg_roles WHERE rolname LIKE 'sqla\\_check\\_%'"
    return asyncio.run(_admin(url, statements, listing))


@dataclass(frozen=True)
class Account:
    """A throwaway account on a server: its URL holds the right password."""

    url: URL
    password: str


@pytest.fixture
def account(
    backend: str, driver: str | None, server_databases: dict[str, ServerDatabase]
) -> Iterator[Account]:
    """A user that may log in with a password of its own, dropped afterwards."""
    url = server_url(server_databases, backend)
    name = f"sqla_check_{os.getpid()}_{secrets.token_hex(4)}"
    password = f"Right-{secrets.token_hex(8)}"
    if backend == "mysql":
        admin = make_url(MYSQL_URL)
        stale = _drop_leftovers(_mysql_admin(admin, []))
        _mysql_admin(
            admin,
            [
                *(f"DROP USER IF EXISTS '{old}'@'%'" for old in stale),
                f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'",
                f"GRANT SELECT ON `{url.database}`.* TO '{name}'@'%'",
            ],
        )
        drop = [f"DROP USER IF EXISTS '{name}'@'%'"]
    else:
        admin = make_url(POSTGRES_URL)
        stale = _drop_leftovers(_postgres_admin(admin, []))
        _postgres_admin(
            admin,
            [
                *(f'DROP ROLE IF EXISTS "{old}"' for old in stale),
                f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'",
            ],
        )
        drop = [f'DROP ROLE IF EXISTS "{name}"']
    url = url.set(username=name, password=password)
    try:
        yield Account(url.set(drivername=driver) if driver else url, password)
    finally:
        if backend == "mysql":
            _mysql_admin(admin, drop)
        else:
            _postgres_admin(admin, drop)


async def _connects(url: URL) -> bool:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect():
            return True
    except Exception:
        return False
    finally:
        await engine.dispose()


@server_drivers
def test_a_password_is_shown_as_stars(account: Account, tmp_path: Path) -> None:
    right = check("--json", "--url", plain(account.url), cwd=tmp_path)
    assert right.code == 0, right  # the account itself works
    assert right.report()["url"] == account.url.render_as_string(hide_password=True)
    assert f"{account.url.username}:***@" in right.out
    table = check(cwd=tmp_path, env={"DATABASE_URL": plain(account.url)})
    assert f"{account.url.username}:***@" in _table(table.out)["url"]
    assert account.password not in right.out + right.err + table.out + table.err


# The PostgreSQL server of the tests trusts loopback logins (it never checks a
# password): its refusals are proven with a NOLOGIN role below and by classification.
@pytest.mark.parametrize(("backend", "driver"), [MARIADB], indirect=["backend"])
def test_wrong_password_is_auth(account: Account, tmp_path: Path) -> None:
    wrong = account.url.set(password=SECRET)
    assert not asyncio.run(_connects(wrong))  # the server does check passwords
    error = assert_failure(
        check("--json", "--url", plain(wrong), cwd=tmp_path), "auth", SECRET, account.password
    )
    assert str(account.url.username) in error
    line = assert_failure_line(check(cwd=tmp_path, env={"DATABASE_URL": plain(wrong)}), SECRET)
    assert str(account.url.username) in line


@pytest.mark.parametrize(("backend", "driver"), [ASYNCPG, PSYCOPG], indirect=["backend"])
def test_role_refused_by_postgresql_is_auth(account: Account, tmp_path: Path) -> None:
    # With trust authentication the server still refuses a role that may not log in.
    name = str(account.url.username)
    _postgres_admin(make_url(POSTGRES_URL), [f'ALTER ROLE "{name}" NOLOGIN'])
    error = assert_failure(
        check("--json", "--url", plain(account.url), cwd=tmp_path), "auth", account.password
    )
    assert name in error
    assert "***" in error
    assert_failure_line(check("--url", plain(account.url), cwd=tmp_path), account.password)


@server_drivers
def test_unknown_user_is_auth(db_url: URL, tmp_path: Path) -> None:
    url = db_url.set(username=f"sqla_check_absent_{secrets.token_hex(4)}", password=SECRET)
    assert_failure(check("--json", "--url", plain(url), cwd=tmp_path), "auth", SECRET)


def _libpq(message: str) -> BaseException:
    import psycopg

    return psycopg.OperationalError(f"connection failed: {message}")


def _asyncpg_password() -> BaseException:
    import asyncpg

    return asyncpg.exceptions.InvalidPasswordError('password authentication failed for user "a"')


@pytest.mark.parametrize(
    ("make", "backend", "reason"),
    [
        # failures a server with trust authentication never produces
        (_asyncpg_password, "postgresql", "auth"),
        (
            lambda: _libpq('FATAL:  password authentication failed for user "a"'),
            "postgresql",
            "auth",
        ),
        (lambda: _libpq("fe_sendauth: no password supplied"), "postgresql", "auth"),
        (lambda: _libpq("connection timeout expired"), "postgresql", "unreachable"),
        (lambda: _libpq('FATAL:  database "a" does not exist'), "postgresql", "error"),
        (lambda: TimeoutError(), "postgresql", "unreachable"),
        (lambda: RuntimeError("else"), "sqlite", "error"),
    ],
    ids=[
        "asyncpg-password",
        "libpq-password",
        "libpq-no-password",
        "libpq-timeout",
        "libpq-no-database",
        "timeout",
        "other",
    ],
)
def test_classification_by_driver_error(
    make: Callable[[], BaseException], backend: str, reason: str
) -> None:
    row = find_backend(backend)
    assert row is not None
    raised = make()
    assert classify(raised, row) == reason
    wrapped = DBAPIError("connect", None, raised, connection_invalidated=False)
    assert classify(wrapped, row) == reason


# --- unreachable ------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SERVER_SCHEMES = pytest.mark.parametrize(
    "scheme", ["postgresql+asyncpg", "postgresql+psycopg", "mysql+aiomysql"]
)


@SERVER_SCHEMES
def test_closed_port_is_unreachable(scheme: str, tmp_path: Path) -> None:
    url = f"{scheme}://app:{SECRET}@127.0.0.1:{_closed_port()}/app"
    error = assert_failure(check("--json", "--url", url, cwd=tmp_path), "unreachable", SECRET)
    assert "app:***@127.0.0.1" in error
    assert_failure_line(check(cwd=tmp_path, env={"DATABASE_URL": url}), SECRET)


@SERVER_SCHEMES
def test_unknown_host_is_unreachable(scheme: str, tmp_path: Path) -> None:
    url = f"{scheme}://app:{SECRET}@sqla-repo-check.invalid/app"
    assert_failure(check("--json", "--url", url, cwd=tmp_path), "unreachable", SECRET)


# --- config -----------------------------------------------------------------------


def test_missing_url_is_config(tmp_path: Path) -> None:
    error = assert_failure(check("--json", cwd=tmp_path), "config")
    assert "DATABASE_URL" in error
    assert "DATABASE_URL" in assert_failure_line(check(cwd=tmp_path))


@pytest.mark.parametrize("value", ["0", "lots"])
@pytest.mark.parametrize("source", ["environment", "dotenv"])
def test_bad_pool_size_is_config(value: str, source: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite://{tmp_path}/never.db"}
    if source == "environment":
        env["DATABASE_POOL_SIZE"] = value
    else:
        (tmp_path / ".env").write_text(f"DATABASE_POOL_SIZE={value}\n")
    error = assert_failure(check("--json", cwd=tmp_path, env=env), "config")
    assert "DATABASE_POOL_SIZE" in error
    assert "DATABASE_POOL_SIZE" in assert_failure_line(check(cwd=tmp_path, env=env))
    # with --url too: it replaces DATABASE_URL only
    error = assert_failure(check("--json", "--url", MEMORY_URL, cwd=tmp_path, env=env), "config")
    assert "DATABASE_POOL_SIZE" in error
    assert not (tmp_path / "never.db").exists()  # refused before connecting


BAD_URLS = [
    pytest.param(f"postgresql+psycopg2://app:{SECRET}@db/app", id="sync-driver"),
    pytest.param(f"oracle+oracledb://app:{SECRET}@db/app", id="unknown-backend"),
    pytest.param(f"postgresql+asyncpg://app:{SECRET}@db:port/app", id="bad-port"),
    pytest.param(f"app:{SECRET}@db", id="not-a-url"),
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("source", ["environment", "dotenv", "option"])
def test_bad_url_is_config_without_the_password(url: str, source: str, tmp_path: Path) -> None:
    args: tuple[str, ...] = ()
    env: dict[str, str] = {}
    if source == "environment":
        env["DATABASE_URL"] = url
    elif source == "dotenv":
        (tmp_path / ".env").write_text(f"DATABASE_URL={url}\n")
    else:
        args = ("--url", url)
    error = assert_failure(check("--json", *args, cwd=tmp_path, env=env), "config", SECRET)
    assert "DATABASE_URL" in error
    assert "DATABASE_URL" in assert_failure_line(check(*args, cwd=tmp_path, env=env), SECRET)


def test_other_failures_are_error(
    tmp_path: Path, server_databases: dict[str, ServerDatabase]
) -> None:
    url = server_url(server_databases, "postgresql").set(database=f"absent_{secrets.token_hex(4)}")
    error = assert_failure(check("--json", "--url", plain(url), cwd=tmp_path), "error")
    assert str(url.database) in error


# --- the command line -------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--bogus"],
        ["check", "--url"],
        ["check", MEMORY_URL],
        ["check", "--json=yes"],
        ["no-such-command"],
        [],
    ],
)
def test_bad_command_line_exits_2(args: list[str], tmp_path: Path) -> None:
    run = sqla_repo(*args, cwd=tmp_path, env={"DATABASE_URL": MEMORY_URL})
    assert run.code == 2, run
    assert run.out == ""
    assert "usage: sqla-repo" in run.err


def test_bad_command_line_never_shows_a_password(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://app:{SECRET}@db/app"
    run = sqla_repo("check", url, cwd=tmp_path)
    assert run.code == 2, run
    assert "app:***@db" in run.err  # argparse quotes the stray argument
    assert SECRET not in run.out + run.err


def test_check_and_init_migrations_are_listed(tmp_path: Path) -> None:
    run = sqla_repo("--help", cwd=tmp_path)
    assert run.code == 0
    assert "check" in run.out
    assert "init-migrations" in run.out
    run = sqla_repo("init-migrations", "--help", cwd=tmp_path)
    assert run.code == 0
    assert "DIR" in run.out


@pytest.mark.parametrize(("args", "directory"), [((), "migrations"), (("db/schema",), "db/schema")])
def test_init_migrations_writes_its_directory_once(
    args: tuple[str, ...], directory: str, tmp_path: Path
) -> None:
    run = sqla_repo("init-migrations", *args, cwd=tmp_path)
    assert run.code == 0, run
    assert (tmp_path / "alembic.ini").is_file()
    assert (tmp_path / directory / "env.py").is_file()
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    again = sqla_repo("init-migrations", *args, cwd=tmp_path)
    assert again.code == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == written
