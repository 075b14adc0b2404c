"""``sqla-repo check``: connect once and report what the database looks like to sqla_repo.

The factory comes from :class:`DatabaseSettings` (environment, ``.env``); ``--url``
replaces ``DATABASE_URL`` only. Success prints the facts (a JSON object or a table) and
exits 0; a failure is classified as ``config``, ``unreachable``, ``auth`` or ``error``
and exits 1. Neither output ever shows the URL's password or a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Literal, TypedDict, cast
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values
from pydantic import ValidationError
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ._backends import Backend, find_backend
from ._driver_errors import libpq_connect_failure
from ._engine import EngineFactory
from ._settings import DatabaseSettings

Reason = Literal["config", "unreachable", "auth", "error"]
PoolFacts = dict[str, int | float | bool]


class CheckReport(TypedDict):
    """What ``sqla-repo check --json`` prints on success, key for key."""

    ok: Literal[True]
    url: str
    backend: str
    driver: str
    server_version: str
    latency_ms: float
    pool: PoolFacts
    returning: bool
    upsert: str
    foreign_keys: bool
    isolation_level: str


class CheckError(Exception):
    """Why the check failed: a reason for scripts and a message for people."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


# The settings' fields (and PoolConfig's) -> the variable a user sets.
_VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        "url": "DATABASE_URL",
        "pool_size": "DATABASE_POOL_SIZE",
        "max_overflow": "DATABASE_MAX_OVERFLOW",
        "pool_timeout": "DATABASE_POOL_TIMEOUT",
        "pool_recycle": "DATABASE_POOL_RECYCLE",
        "pool_pre_ping": "DATABASE_POOL_PRE_PING",
        "echo": "DATABASE_ECHO",
        "size": "DATABASE_POOL_SIZE",
        "timeout": "DATABASE_POOL_TIMEOUT",
        "recycle": "DATABASE_POOL_RECYCLE",
        "pre_ping": "DATABASE_POOL_PRE_PING",
    }
)


def run_check(url: str | None, *, as_json: bool) -> int:
    """Run ``sqla-repo check``: print the report or the failure; return the exit status."""
    secrets = _passwords(url, os.environ.get("DATABASE_URL"), _dotenv_url())
    try:
        factory = _factory(url)
        secrets |= _passwords(factory.url.render_as_string(hide_password=False))
        # SQLAlchemy's echo logs to the stdout of when the engine is built: keep
        # stdout for the report alone.
        with contextlib.redirect_stdout(sys.stderr):
            report = asyncio.run(check(factory))
    except Exception as err:
        failure = err if isinstance(err, CheckError) else _unexpected(err)
        message = _redact(failure.message, secrets)
        if as_json:
            print(json.dumps({"ok": False, "reason": failure.reason, "error": message}))
        else:
            print(f"sqla-repo check: {message}", file=sys.stderr)
        return 1
    print(json.dumps(report) if as_json else format_table(report))
    return 0


def _factory(url: str | None) -> EngineFactory:
    try:
        settings = DatabaseSettings() if url is None else DatabaseSettings(url=url)
    except ValidationError as err:
        raise CheckError("config", _config_message(err, from_option=url is not None)) from None
    except (OSError, UnicodeError) as err:  # an unreadable .env
        raise CheckError("config", f".env: {type(err).__name__}: {err}") from None
    try:
        return EngineFactory.from_settings(settings)
    except ValidationError as err:
        raise CheckError("config", _config_message(err, from_option=url is not None)) from None
    except ValueError as err:  # the URL, checked again by the factory
        raise CheckError("config", f"{_url_source(url is not None)}: {err}") from None


def _config_message(err: ValidationError, *, from_option: bool) -> str:
    problems: list[str] = []
    for error in err.errors(include_url=False, include_input=False):
        loc = error["loc"]
        name = str(loc[0]) if loc else "DATABASE_*"
        variable = _VARIABLES.get(name, name)
        if variable == "DATABASE_URL":
            variable = _url_source(from_option)
        if error["type"] == "missing":
            problems.append(f"{variable} is not set (environment or .env)")
        else:
            problems.append(f"{variable}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems) or str(err.title)


def _url_source(from_option: bool) -> str:
    return "--url (replacing DATABASE_URL)" if from_option else "DATABASE_URL"


async def check(factory: EngineFactory) -> CheckReport:
    """Connect once through ``factory``'s engine and gather the report.

    Round trips: the connection's set-up, then the server version, one timed
    ``SELECT 1`` and (MySQL/MariaDB, SQLite) the foreign-key setting. Raises
    :class:`CheckError`.
    """
    url = factory.url
    backend = find_backend(url.get_backend_name())
    if backend is None:  # pragma: no cover - the factory accepts supported URLs only
        raise CheckError("config", f"DATABASE_URL: unsupported backend {url.get_backend_name()}")
    try:
        engine = factory.create_async_engine()
    except Exception as err:  # a driver that is not installed...
        raise _unexpected(err) from None
    try:
        async with engine.connect() as connection:
            server_version = await _scalar(connection, backend.server_version_sql)
            started = time.perf_counter()
            await _scalar(connection, "SELECT 1")
            latency_ms = (time.perf_counter() - started) * 1000
            foreign_keys = await _foreign_keys(connection, backend.foreign_keys_sql)
            isolation_level = connection.default_isolation_level
            returning = engine.dialect.insert_returning
    except Exception as err:
        raise CheckError(classify(err, backend), _failure_message(err, factory)) from None
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()
    return CheckReport(
        ok=True,
        url=url.render_as_string(hide_password=True),
        backend=backend.name,
        driver=url.get_driver_name(),
        server_version=str(server_version),
        latency_ms=max(round(latency_ms, 3), 0.001),
        pool=factory.pool.model_dump(mode="json"),
        returning=bool(returning),
        upsert=backend.conflicts.clause,
        foreign_keys=foreign_keys,
        isolation_level=str(isolation_level),
    )


async def _scalar(connection: AsyncConnection, sql: str) -> object:
    return (await connection.execute(text(sql))).scalar_one()


async def _foreign_keys(connection: AsyncConnection, sql: str | None) -> bool:
    if sql is None:  # always enforced
        return True
    return await _scalar(connection, sql) in (1, "1", True)


def classify(err: BaseException, backend: Backend) -> Reason:
    """The failure's reason, read from the driver's error codes along the chain."""
    links = list(_chain(err))
    for link in links:
        code = backend.error_code(link)
        if code is None and hasattr(link, "pgconn") and getattr(link, "sqlstate", None) is None:
            # psycopg, even when it kept no connection (an unknown host): libpq's message
            code = libpq_connect_failure(link)
        if code is None:
            continue
        reason = backend.connect_failures.get(code)
        if reason is None and (family := backend.code_family(code)) is not None:
            reason = backend.connect_failures.get(family)
        if reason is not None:
            return cast("Reason", reason)
    # refused, unknown host, timed out (TimeoutError is an OSError)
    if any(isinstance(link, OSError) for link in links):
        return "unreachable"
    return "error"


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [err]
    while pending:
        link = pending.pop(0)
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = link.orig if isinstance(link, exc.DBAPIError) else None
        pending += [orig, link.__cause__, link.__context__]


def _failure_message(err: BaseException, factory: EngineFactory) -> str:
    shown = factory.url.render_as_string(hide_password=True)
    detail = _detail(err)
    return " ".join(f"{shown}: {detail}".split())  # one line


def _detail(err: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's wrapping."""
    source: BaseException = err
    if isinstance(err, exc.DBAPIError) and err.orig is not None:
        source = err.orig
        inner = source.__cause__
        # asyncpg: SQLAlchemy's adapter error chains the asyncpg exception
        if inner is not None and str(inner) == str(source):
            source = inner
    if isinstance(source, OSError):
        return f"{type(source).__name__}: {source}"
    args = source.args
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"({args[0]}) {args[1]}"  # PyMySQL: (errno, message)
    return str(source) or type(source).__name__


def _unexpected(err: Exception) -> CheckError:
    return CheckError("error", " ".join(f"{type(err).__name__}: {err}".split()))


def _dotenv_url() -> str | None:
    try:
        return dotenv_values(".env").get("DATABASE_URL")
    except (OSError, ValueError):
        return None


def _passwords(*urls: str | None) -> set[str]:
    """The passwords the URLs carry, to redact from messages."""
    found: set[str] = set()
    for candidate in urls:
        if not candidate:
            continue
        try:
            password = urlsplit(candidate).password
        except ValueError:
            continue
        if password:
            found |= {password, unquote(password)}
    return found


def _redact(message: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def format_table(report: CheckReport) -> str:
    """The report as two columns: each key, then its value."""
    rows: list[tuple[str, str]] = []
    for key, value in report.items():
        if isinstance(value, dict):
            shown = " ".join(f"{name}={_cell(item)}" for name, item in value.items())
        else:
            shown = _cell(value)
        rows.append((key, shown))
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key.ljust(width)}  {shown}" for key, shown in rows)


def _cell(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)
