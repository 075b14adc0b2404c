"""No written value or password rides along in a raised error, its chain, or the logs.

The database tests write a distinctive value and look for it everywhere the raised error
and every exception it chains can show it (``tests.leaks.everything_shown``): ``str``,
``repr``, ``args``, the drivers' message fields (asyncpg's ``detail``, psycopg's
``diag``) and the formatted traceback. They run on every backend and on both PostgreSQL
drivers. The last section checks the message shapes without a database.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import exc, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sqla_repo import (
    Base,
    CheckViolationError,
    ConflictError,
    EngineFactory,
    InvalidFieldError,
    NotNullViolationError,
    RepositoryError,
    UserRepository,
)
from sqla_repo._scrub import (
    HIDDEN,
    MYSQL_VALUES,
    POSTGRESQL_VALUES,
    PYTHON_SHAPES,
    hide_values,
    scrub_chain,
)
from tests.drivers import every_driver, server_drivers
from tests.leaks import chain, everything_shown
from tests.models import ProductRepository, Shop

CANARY = "leak-canary-7f3a@example.com"
SECRET = "s3cr3t-pw-S"


def _is_sqlite(backend: str) -> bool:
    return backend.startswith("sqlite")


async def _seed_canary(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await UserRepository(session).create({"email": CANARY, "name": "First"})


# --- the chain, values hidden (the default) ------------------------------------------------


@every_driver
async def test_a_duplicate_value_never_rides_along_in_the_chain(
    backend: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _seed_canary(sessions)
    async with sessions() as session:
        users = UserRepository(session)
        with pytest.raises(ConflictError) as raised:
            await users.create({"email": CANARY, "name": "Twin"})
        shown = everything_shown(raised.value)
        assert CANARY not in shown
        assert "uq_users_email" in shown  # constraint names are kept
        if not _is_sqlite(backend):
            # the server quoted the value (SQLite never does): it was there, and is cut out
            assert HIDDEN in shown
        # the next call is refused, chaining SQLAlchemy's error that quotes the first one
        with pytest.raises(RepositoryError) as refused:
            await users.list()
        assert isinstance(refused.value.__cause__, exc.PendingRollbackError)
        assert CANARY not in everything_shown(refused.value)
        await session.rollback()


@every_driver
async def test_a_failing_row_is_not_quoted(
    backend: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # PostgreSQL's DETAIL lists the whole row: "Failing row contains (..., <values>)."
    attempts: list[tuple[type[RepositoryError], dict[str, Any]]] = [
        (CheckViolationError, {"sku": "SKU-1", "name": CANARY, "price_cents": -1}),
        (NotNullViolationError, {"sku": CANARY, "name": None}),
    ]
    for kind, values in attempts:
        async with sessions() as session:
            with pytest.raises(kind) as raised:
                await ProductRepository(session).create(values)
            shown = everything_shown(raised.value)
            assert CANARY not in shown
            if backend == "postgresql":
                assert "Failing row contains (<hidden>)." in shown


class _Statements(ProductRepository):
    async def run(self, statement: str, **values: object) -> None:
        with self.translate_errors():
            await self.session.execute(text(statement), values)


_UNFIT = {
    "postgresql": "SELECT CAST(:value AS integer)",
    "mysql": (
        "INSERT INTO products (sku, name, price_cents, active, stock) "
        "VALUES ('SKU-1', 'Lamp', 0, 1, :value)"
    ),
}


@server_drivers
async def test_a_value_its_type_cannot_hold_is_not_quoted(
    backend: str, session: AsyncSession
) -> None:
    # PostgreSQL 22P02 'invalid input syntax for type integer: "<value>"' (psycopg; asyncpg
    # refuses the value itself: "invalid input for query argument $1: '<value>'"),
    # MariaDB 1366 "Incorrect integer value: '<value>' for column ..."
    with pytest.raises(InvalidFieldError) as raised:
        await _Statements(session).run(_UNFIT[backend], value=CANARY)
    assert type(raised.value) is InvalidFieldError
    shown = everything_shown(raised.value)
    assert CANARY not in shown
    assert HIDDEN in shown


# --- hide_parameters=False: values shown, for development ----------------------------------


@every_driver
async def test_hide_parameters_false_shows_the_values(
    backend: str, db_url: URL, engine: AsyncEngine
) -> None:
    factory = EngineFactory(db_url, hide_parameters=False)
    showing = factory.create_async_engine()
    try:
        async with showing.begin() as connection:  # an in-memory SQLite database of its own
            await connection.run_sync(Shop.metadata.create_all)
            await connection.run_sync(Base.metadata.create_all)
        sessions = factory.create_sessionmaker(showing)
        await _seed_canary(sessions)
        async with sessions() as session:
            with pytest.raises(ConflictError) as raised:
                await UserRepository(session).create({"email": CANARY})
    finally:
        await showing.dispose()
    assert CANARY not in str(raised.value)  # never in sqla_repo's own message
    assert CANARY in everything_shown(raised.value)
    cause = raised.value.__cause__
    assert isinstance(cause, exc.DBAPIError)
    assert cause.orig is not None
    if not _is_sqlite(backend):
        # the server's own words, in the driver's exception
        assert CANARY in "\n".join(str(each) for each in chain(cause.orig))


# --- passwords: logs with echo=True, and the chain ------------------------------------------


async def _login_with_password(db_url: URL, backend: str, admin: AsyncEngine) -> tuple[URL, str]:
    """The test database's URL logging in with a password; returns it and a cleanup SQL."""
    if backend == "postgresql":
        return db_url.set(password=SECRET), ""  # the local server trusts every login
    user = "sqla_repo_scrub_user"
    async with admin.connect() as connection:
        await connection.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        await connection.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{SECRET}'"))
        await connection.execute(text(f"GRANT ALL ON `{db_url.database}`.* TO '{user}'@'%'"))
    return db_url.set(username=user, password=SECRET), f"DROP USER IF EXISTS '{user}'@'%'"


@server_drivers
async def test_no_password_or_value_in_echo_logs_or_the_chain(
    backend: str,
    db_url: URL,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, cleanup = await _login_with_password(db_url, backend, engine)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    try:
        factory = EngineFactory(url, echo=True)
        echoing = factory.create_async_engine()
        try:
            sessions = factory.create_sessionmaker(echoing)
            await _seed_canary(sessions)
            async with sessions() as session:
                users = UserRepository(session)
                assert [u.email for u in await users.list()] == [CANARY]
                with pytest.raises(ConflictError) as raised:
                    await users.create({"email": CANARY})
                await session.rollback()
        finally:
            await echoing.dispose()
    finally:
        if cleanup:
            async with engine.connect() as connection:
                await connection.execute(text(cleanup))
    logged = caplog.text + capsys.readouterr().out
    assert "INSERT INTO users" in logged  # echo did log the statements
    for secret in (SECRET, CANARY):
        assert secret not in logged
        assert secret not in everything_shown(raised.value)


# --- without a database: the shapes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Key (email)=(a@example.com) already exists.",
            "Key (email)=(<hidden>) already exists.",
        ),
        # a value imitating the end of the message is cut out whole
        (
            "Key (label, color)=(x) already exists., red) already exists.",
            "Key (label, color)=(<hidden>) already exists.",
        ),
        (
            "Key (lower(email::text))=(a\nb) already exists.",
            "Key (lower(email::text))=(<hidden>) already exists.",
        ),
        (
            'Key (product_id)=(999) is not present in table "products".',
            'Key (product_id)=(<hidden>) is not present in table "products".',
        ),
        (
            'Key (id)=(1) is still referenced from table "orders".',
            'Key (id)=(<hidden>) is still referenced from table "orders".',
        ),
        (
            "Key (room, at)=(1, [10,20)) conflicts with existing key (room, at)=(1, [5,15)).",
            "Key (room, at)=(<hidden>) conflicts with existing key (room, at)=(<hidden>).",
        ),
        (
            "Failing row contains (2, SKU-2, secret, -1, 0, t, new).",
            "Failing row contains (<hidden>).",
        ),
        (
            'invalid input syntax for type integer: "abc"',
            'invalid input syntax for type integer: "<hidden>"',
        ),
        (
            'invalid input value for enum color: "pur"ple"',
            'invalid input value for enum color: "<hidden>"',
        ),
        (
            'value "99999999999" is out of range for type integer',
            'value "<hidden>" is out of range for type integer',
        ),
        ('Token "secret" is invalid.', 'Token "<hidden>" is invalid.'),
        ("JSON data, line 1: {secret...", "JSON data, line 1: <hidden>"),
        (
            'invalid byte sequence for encoding "UTF8": 0xff 0x00',
            'invalid byte sequence for encoding "UTF8": <hidden>',
        ),
        ("unnamed portal parameter $1 = 'secret'", "unnamed portal parameter $1 = '<hidden>'"),
        (
            "invalid input for query argument $1: 'abc' (invalid literal: 'abc')",
            "invalid input for query argument $1: <hidden>",
        ),
        # names and SQL are kept
        ('relation "missing_table" does not exist', 'relation "missing_table" does not exist'),
        (
            'duplicate key value violates unique constraint "uq_users_email"',
            'duplicate key value violates unique constraint "uq_users_email"',
        ),
        ('syntax error at or near "FROM"', 'syntax error at or near "FROM"'),
    ],
)
def test_postgresql_shapes(message: str, expected: str) -> None:
    assert hide_values(message, POSTGRESQL_VALUES) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Duplicate entry 'a@example.com' for key 'uq_users_email'",
            "Duplicate entry '<hidden>' for key 'uq_users_email'",
        ),
        (
            "Duplicate entry 'x' for key 'planted' for key 'uq_users_email'",
            "Duplicate entry '<hidden>' for key 'uq_users_email'",
        ),
        (
            "Incorrect integer value: 'abc' for column `db`.`t`.`n` at row 1",
            "Incorrect integer value: '<hidden>' for column `db`.`t`.`n` at row 1",
        ),
        (
            "Incorrect datetime value: 'soon' for column 'taken' at row 1",
            "Incorrect datetime value: '<hidden>' for column 'taken' at row 1",
        ),
        ("Truncated incorrect DOUBLE value: 'abc'", "Truncated incorrect DOUBLE value: '<hidden>'"),
        (
            "Illegal double 'abc' value found during parsing",
            "Illegal double '<hidden>' value found during parsing",
        ),
        (
            "Invalid JSON text: \"Invalid value.\" at position 0 in value for column 't.j'.",
            "Invalid JSON text: \"<hidden>\" at position 0 in value for column 't.j'.",
        ),
        ("Table 'db.missing' doesn't exist", "Table 'db.missing' doesn't exist"),
        ("Unknown database 'nope'", "Unknown database 'nope'"),
        ("Data too long for column 'name' at row 1", "Data too long for column 'name' at row 1"),
    ],
)
def test_mysql_shapes(message: str, expected: str) -> None:
    assert hide_values(message, MYSQL_VALUES) == expected


def test_python_shapes() -> None:
    assert hide_values("invalid literal for int() with base 10: 'abc'", PYTHON_SHAPES) == (
        "invalid literal for int() with base 10: <hidden>"
    )
    assert hide_values("could not convert string to float: 'abc'", PYTHON_SHAPES) == (
        "could not convert string to float: <hidden>"
    )


class _DriverError(Exception):
    def __init__(self, *args: object, **attributes: object) -> None:
        super().__init__(*args)
        for name, value in attributes.items():
            setattr(self, name, value)


def _wrapped(orig: BaseException, *, hide: bool = True) -> exc.DBAPIError:
    err = exc.IntegrityError("INSERT INTO users ...", {"email": CANARY}, orig, hide_parameters=hide)
    err.__cause__ = orig
    return err


def test_composite_messages_are_cleaned_whatever_the_quoting() -> None:
    # pymysql's str() is the repr of its args: quotes inside the value get escaped there
    tricky = "it's \"quoted\"\nand' for key 'x"
    orig = _DriverError(1062, f"Duplicate entry '{tricky}' for key 'uq_users_email'")
    err = _wrapped(orig)
    assert "quoted" in str(err)
    scrub_chain(err, MYSQL_VALUES, values=True)
    assert orig.args == (1062, "Duplicate entry '<hidden>' for key 'uq_users_email'")
    for each in (err, orig):
        assert "quoted" not in str(each)
        assert "quoted" not in repr(each)
    assert "uq_users_email" in str(err)
    assert "[SQL: INSERT INTO users ...]" in str(err)


def test_asyncpg_fields_are_cleaned() -> None:
    driver = _DriverError(
        'duplicate key value violates unique constraint "uq_users_email"',
        detail=f"Key (email)=({CANARY}) already exists.",
        message='duplicate key value violates unique constraint "uq_users_email"',
    )
    adapter = _DriverError(driver.args[0], detail=driver.detail)  # type: ignore[attr-defined]
    adapter.__cause__ = driver
    err = _wrapped(adapter)
    scrub_chain(err, POSTGRESQL_VALUES, values=True)
    for each in (adapter, driver):
        assert each.detail == "Key (email)=(<hidden>) already exists."  # type: ignore[attr-defined]


def test_psycopg_diagnostics_are_cleaned() -> None:
    psycopg = pytest.importorskip("psycopg")
    fields = psycopg.pq.DiagnosticField
    info = {
        fields.SQLSTATE: b"23505",
        fields.MESSAGE_PRIMARY: b'duplicate key value violates unique constraint "uq_users_email"',
        fields.MESSAGE_DETAIL: f"Key (email)=({CANARY}) already exists.".encode(),
        fields.CONSTRAINT_NAME: b"uq_users_email",
    }
    message = (
        'duplicate key value violates unique constraint "uq_users_email"\n'
        f"DETAIL:  Key (email)=({CANARY}) already exists."
    )
    orig = psycopg.errors.UniqueViolation(message, info=info)
    err = _wrapped(orig)
    scrub_chain(err, POSTGRESQL_VALUES, values=True)
    assert CANARY not in everything_shown(err)
    assert orig.diag.message_detail == "Key (email)=(<hidden>) already exists."
    assert orig.diag.constraint_name == "uq_users_email"
    assert orig.diag.sqlstate == "23505"


def test_values_kept_when_parameters_are_shown() -> None:
    orig = _DriverError(1062, f"Duplicate entry '{CANARY}' for key 'uq_users_email'")
    err = _wrapped(orig, hide=False)
    scrub_chain(err, MYSQL_VALUES, values=False)
    assert CANARY in str(orig)
    assert CANARY in str(err)
