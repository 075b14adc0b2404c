"""The pytest plugin ``sqla_repo.testing``, run as a user runs it: pytest in a subprocess.

Each test writes a small test suite, runs it in a fresh interpreter (its own event loops)
against the backend's database and checks both the inner outcome and what the inner run
left in the database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

pytest_plugins = ["pytester"]

DEFAULT_URL = "sqlite+aiosqlite:///:memory:"
DURABLE = ["sqlite-file", "postgresql", "mysql"]
"""Backends whose database outlives the inner run, so the outer test can look at it."""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SQLA_REPO_TEST_URL", "DATABASE_URL", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        monkeypatch.delenv(name, raising=False)


def _url(db_url: URL) -> str:
    if db_url.get_backend_name() == "sqlite":
        return f"{db_url.drivername}:///{db_url.database}"  # as a user spells it
    return db_url.render_as_string(hide_password=False)


def _ini(
    pytester: pytest.Pytester,
    *,
    mode: str = "auto",
    test_loop: str = "function",
    fixture_loop: str = "function",
) -> None:
    pytester.makeini(
        f"""
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = {fixture_loop}
        asyncio_default_test_loop_scope = {test_loop}
        filterwarnings =
            error
        """
    )


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=240)


def _passed(result: pytest.RunResult, count: int) -> None:
    output = f"{result.stdout.str()}\n{result.stderr.str()}"
    assert result.ret == pytest.ExitCode.OK, output
    result.assert_outcomes(passed=count)


async def _tables(url: URL) -> set[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            return set(names)
    finally:
        await engine.dispose()


async def _execute(url: URL, *statements: str) -> list[tuple[object, ...]]:
    """Run statements in one committed transaction; the rows of the last one."""
    engine = create_async_engine(url, poolclass=NullPool)
    rows: list[tuple[object, ...]] = []
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
                rows = [tuple(row) for row in result] if result.returns_rows else []
        return rows
    finally:
        await engine.dispose()


async def _drop_users(url: URL) -> None:
    await _execute(url, "DROP TABLE IF EXISTS users")


COMMIT_AND_ROLLBACK = """
    import pytest
    from sqlalchemy import func, select

    from sqla_repo import ConflictError, User, UserRepository


    async def count_elsewhere(engine):
        async with engine.connect() as connection:
            return (await connection.execute(select(func.count()).select_from(User))).scalar_one()


    async def emails(users):
        return sorted(user.email for user in await users.list())


    async def test_a_commit_stays_visible_in_the_test(sqla_session, sqla_engine):
        users = UserRepository(sqla_session)
        ada = await users.create({"email": "ada@example.com", "name": "Ada"})
        await sqla_session.commit()
        sqla_session.expunge_all()
        found = await users.get_by_email("ada@example.com")
        assert found is not None and found.id == ada.id and found.name == "Ada"
        assert await users.count() == 1
        if sqla_engine.url.database != ":memory:":
            # the commit released a savepoint: nothing is committed for other connections
            assert await count_elsewhere(sqla_engine) == 0


    async def test_b_rollback_returns_to_the_last_commit(sqla_session):
        users = UserRepository(sqla_session)
        assert await users.count() == 0  # the committed row of the test before is gone
        await users.create({"email": "first@example.com"})
        await sqla_session.commit()
        await users.create({"email": "second@example.com"})
        await sqla_session.rollback()
        assert await emails(users) == ["first@example.com"]
        with pytest.raises(ConflictError):
            await users.create({"email": "first@example.com"})
        await sqla_session.rollback()
        assert await emails(users) == ["first@example.com"]
        await users.create({"email": "third@example.com"})
        await sqla_session.commit()
        await sqla_session.rollback()
        assert await emails(users) == ["first@example.com", "third@example.com"]


    async def test_c_nothing_remains_after_a_test(sqla_engine):
        assert await count_elsewhere(sqla_engine) == 0
        if sqla_engine.dialect.name == "sqlite":  # the factory's connection set-up holds
            async with sqla_engine.connect() as connection:
                pragma = await connection.exec_driver_sql("PRAGMA foreign_keys")
                assert pragma.scalar() == 1
"""


async def test_committed_data_is_visible_in_the_test_and_gone_after(
    pytester: pytest.Pytester, db_url: URL, backend: str
) -> None:
    _ini(pytester)
    pytester.makepyfile(test_sessions=COMMIT_AND_ROLLBACK)
    _passed(_run(pytester, "--sqla-url", _url(db_url)), 3)
    if backend != "sqlite-memory":
        assert "users" not in await _tables(db_url)  # dropped when the run ended


async def test_default_url_is_in_memory_sqlite(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(test_sessions=COMMIT_AND_ROLLBACK)
    pytester.makepyfile(
        test_url=f"""
        def test_url(sqla_url, sqla_engine):
            assert sqla_url == {DEFAULT_URL!r}
            assert sqla_engine.dialect.name == "sqlite"
            assert sqla_engine.url.database == ":memory:"
        """
    )
    _passed(_run(pytester), 4)


async def test_url_comes_from_the_option_then_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ini(pytester)
    from_variable = f"sqlite+aiosqlite:///{pytester.path / 'variable.db'}"
    from_option = f"sqlite+aiosqlite:///{pytester.path / 'option.db'}"
    pytester.makepyfile(
        test_url="""
        import os

        def test_url(sqla_url, sqla_engine):
            assert sqla_url == os.environ["EXPECTED_URL"]
            assert str(sqla_engine.url) == sqla_url
        """
    )
    monkeypatch.setenv("SQLA_REPO_TEST_URL", from_variable)
    monkeypatch.setenv("EXPECTED_URL", from_variable)
    _passed(_run(pytester), 1)
    assert (pytester.path / "variable.db").exists()
    assert not (pytester.path / "option.db").exists()

    monkeypatch.setenv("EXPECTED_URL", from_option)
    (pytester.path / "variable.db").unlink()
    _passed(_run(pytester, "--sqla-url", from_option), 1)
    assert (pytester.path / "option.db").exists()
    assert not (pytester.path / "variable.db").exists()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_database_url_is_never_read(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, db_url: URL
) -> None:
    await _execute(
        db_url,
        "DROP TABLE IF EXISTS users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, note VARCHAR(20))",
        "INSERT INTO users VALUES (1, 'precious')",
    )
    try:
        monkeypatch.setenv("DATABASE_URL", _url(db_url))
        _ini(pytester)
        pytester.makepyfile(
            test_url=f"""
            from sqla_repo import UserRepository

            async def test_url(sqla_url, sqla_session):
                assert sqla_url == {DEFAULT_URL!r}
                assert sqla_session.bind.dialect.name == "sqlite"
                await UserRepository(sqla_session).create({{"email": "a@example.com"}})
            """
        )
        _passed(_run(pytester), 1)
        assert await _execute(db_url, "SELECT id, note FROM users") == [(1, "precious")]
    finally:
        await _drop_users(db_url)


CUSTOM_MODELS = """
    from sqlalchemy import MetaData, String
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_repo import NAMING_CONVENTION, Repository


    class Model(DeclarativeBase):
        metadata = MetaData(naming_convention=dict(NAMING_CONVENTION))


    class Gadget(Model):
        __tablename__ = "plugin_gadgets"

        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str] = mapped_column(String(40), unique=True)


    class GadgetRepository(Repository[Gadget, int]):
        pass
"""


async def test_metadata_overridden_in_conftest(
    pytester: pytest.Pytester, db_url: URL, backend: str
) -> None:
    _ini(pytester)
    pytester.makepyfile(gadgets=CUSTOM_MODELS)
    pytester.makeconftest(
        """
        import pytest

        from gadgets import Model


        @pytest.fixture(scope="session")
        def sqla_metadata():
            return Model.metadata
        """
    )
    pytester.makepyfile(
        test_gadgets="""
        from sqlalchemy import inspect

        from gadgets import GadgetRepository, Model


        async def test_a_tables_of_the_override(sqla_session, sqla_metadata):
            assert sqla_metadata is Model.metadata
            names = await sqla_session.run_sync(
                lambda session: inspect(session.connection()).get_table_names()
            )
            assert "plugin_gadgets" in names
            assert "users" not in names
            gadgets = GadgetRepository(sqla_session)
            await gadgets.create({"label": "lamp"})
            await sqla_session.commit()
            assert await gadgets.count() == 1


        async def test_b_rolled_back(sqla_session):
            assert await GadgetRepository(sqla_session).count() == 0
        """
    )
    _passed(_run(pytester, "--sqla-url", _url(db_url)), 2)
    if backend != "sqlite-memory":
        tables = await _tables(db_url)
        assert "plugin_gadgets" not in tables
        assert "users" not in tables


LOOP_TESTS = """
    import asyncio

    import pytest

    from sqla_repo import UserRepository

    LOOPS = []


    {marker}
    async def test_a_writes(sqla_session):
        LOOPS.append(asyncio.get_running_loop())
        users = UserRepository(sqla_session)
        await users.create({{"email": "loop@example.com"}})
        await sqla_session.commit()
        assert await users.count() == 1


    {marker}
    async def test_b_writes_again(sqla_session):
        LOOPS.append(asyncio.get_running_loop())
        users = UserRepository(sqla_session)
        assert await users.count() == 0
        await users.create({{"email": "loop@example.com"}})
        await sqla_session.commit()


    {marker}
    async def test_c_engine_directly(sqla_engine):
        LOOPS.append(asyncio.get_running_loop())
        async with sqla_engine.connect() as connection:
            assert (await connection.exec_driver_sql("SELECT count(*) FROM users")).scalar() == 0


    def test_d_loops():
        assert len(LOOPS) == 3
        assert len({{id(loop) for loop in LOOPS}}) == {loops}
"""


@pytest.mark.parametrize(
    ("test_loop", "fixture_loop"),
    [("function", "function"), ("session", "function"), ("session", "session")],
)
async def test_event_loop_scopes(
    pytester: pytest.Pytester, db_url: URL, test_loop: str, fixture_loop: str
) -> None:
    _ini(pytester, test_loop=test_loop, fixture_loop=fixture_loop)
    loops = 1 if test_loop == "session" else 3
    pytester.makepyfile(test_default_scope=LOOP_TESTS.format(marker="", loops=loops))
    pytester.makepyfile(
        test_module_scope=LOOP_TESTS.format(
            marker='@pytest.mark.asyncio(loop_scope="module")', loops=1
        )
    )
    _passed(_run(pytester, "--sqla-url", _url(db_url)), 8)


async def test_strict_mode(pytester: pytest.Pytester, db_url: URL) -> None:
    _ini(pytester, mode="strict", test_loop="session")
    pytester.makepyfile(
        test_strict="""
        import pytest

        from sqla_repo import UserRepository

        pytestmark = pytest.mark.asyncio


        async def test_a(sqla_session):
            users = UserRepository(sqla_session)
            await users.create({"email": "strict@example.com"})
            await sqla_session.commit()
            assert await users.count() == 1


        async def test_b(sqla_session):
            assert await UserRepository(sqla_session).count() == 0
        """
    )
    result = _run(pytester, "--sqla-url", _url(db_url))
    _passed(result, 2)
    result.stdout.fnmatch_lines(["*mode=Mode.STRICT*"])


@pytest.mark.parametrize("backend", DURABLE)
async def test_leftovers_of_a_killed_run_are_dropped(
    pytester: pytest.Pytester, db_url: URL
) -> None:
    _ini(pytester)
    killed = pytester.makepyfile(
        test_killed="""
        import os
        import signal

        from sqlalchemy import insert

        from sqla_repo import User


        async def test_killed(sqla_engine):
            async with sqla_engine.begin() as connection:
                await connection.execute(insert(User).values(email="left@example.com"))
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    try:
        result = _run(pytester, "--sqla-url", _url(db_url))
        assert result.ret == -9, result.stdout.str()
        assert await _execute(db_url, "SELECT email FROM users") == [("left@example.com",)]

        killed.unlink()
        pytester.makepyfile(
            test_next_run="""
            from sqlalchemy import func, select

            from sqla_repo import User, UserRepository


            async def test_a_starts_empty(sqla_engine):
                async with sqla_engine.connect() as connection:
                    count = select(func.count()).select_from(User)
                    assert (await connection.execute(count)).scalar_one() == 0


            async def test_b_writes(sqla_session):
                users = UserRepository(sqla_session)
                await users.create({"email": "left@example.com"})
                assert await users.count() == 1
            """
        )
        _passed(_run(pytester, "--sqla-url", _url(db_url)), 2)
        assert "users" not in await _tables(db_url)
    finally:
        await _drop_users(db_url)


@pytest.mark.parametrize("backend", DURABLE)
async def test_leftover_table_of_an_older_schema_is_replaced(
    pytester: pytest.Pytester, db_url: URL
) -> None:
    await _execute(
        db_url,
        "DROP TABLE IF EXISTS users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, legacy VARCHAR(10))",
        "INSERT INTO users VALUES (7, 'old')",
    )
    try:
        _ini(pytester)
        pytester.makepyfile(
            test_schema="""
            from sqla_repo import UserRepository


            async def test_current_schema(sqla_session):
                users = UserRepository(sqla_session)
                assert await users.count() == 0
                created = await users.create({"email": "new@example.com", "name": "New"})
                assert (await users.get_one(created.id)).email == "new@example.com"
            """
        )
        _passed(_run(pytester, "--sqla-url", _url(db_url)), 1)
        assert "users" not in await _tables(db_url)
    finally:
        await _drop_users(db_url)


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    result = _run(pytester, "--fixtures")
    assert result.ret == pytest.ExitCode.OK
    for line in (
        "sqla_url [[]session scope[]] -- *",
        "sqla_metadata [[]session scope[]] -- *",
        "sqla_engine [[]session scope[]] -- *",
        "sqla_session -- *",
    ):
        result.stdout.fnmatch_lines([line])
    help_result = _run(pytester, "--help")
    help_result.stdout.fnmatch_lines(["*--sqla-url=URL*"])


def test_disabled_with_p_no_sqla_repo(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        test_fixtures="""
        def test_url(sqla_url):
            pass


        async def test_session(sqla_session):
            pass
        """
    )
    result = _run(pytester, "-p", "no:sqla_repo")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*fixture 'sqla_url' not found*", "*fixture 'sqla_session' not found*"],
        consecutive=False,
    )
    assert "sqla_engine" not in result.stdout.str()

    with_option = _run(pytester, "-p", "no:sqla_repo", "--sqla-url", DEFAULT_URL)
    assert with_option.ret == pytest.ExitCode.USAGE_ERROR
    with_option.stderr.fnmatch_lines(["*unrecognized arguments: --sqla-url*"])

    _passed(_run(pytester), 2)  # the same suite with the plugin


def test_loads_with_pytest_alone(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        filterwarnings =
            error
        """
    )
    pytester.makepyfile(
        test_sync="""
        import asyncio
        import sys

        from sqlalchemy import inspect
        from sqlalchemy.ext.asyncio import AsyncEngine

        from sqla_repo import Base


        def test_sync_fixtures(sqla_url, sqla_metadata, sqla_engine):
            assert "pytest_asyncio" not in sys.modules
            assert sqla_url == "sqlite+aiosqlite:///:memory:"
            assert sqla_metadata is Base.metadata
            assert isinstance(sqla_engine, AsyncEngine)

            async def tables():
                async with sqla_engine.connect() as connection:
                    return await connection.run_sync(
                        lambda sync: inspect(sync).get_table_names()
                    )

            assert asyncio.run(tables()) == ["users"]


        def test_session(sqla_session):
            pass
        """
    )
    result = _run(pytester, "-p", "no:asyncio")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*sqla_session fixture needs the pytest-asyncio plugin*"])


FASTAPI_APP = """
    from typing import Annotated

    import httpx
    import pytest
    from fastapi import Depends, FastAPI
    from pydantic import BaseModel, ConfigDict

    from sqla_repo import UserRepository
    from sqla_repo.fastapi import add_exception_handlers, get_session, repository

    Users = Annotated[UserRepository, Depends(repository(UserRepository))]


    class UserIn(BaseModel):
        email: str
        name: str | None = None


    class UserOut(BaseModel):
        model_config = ConfigDict(from_attributes=True)

        id: int
        email: str
        name: str | None


    app = FastAPI()
    add_exception_handlers(app)


    @app.post("/users", status_code=201)
    async def create_user(body: UserIn, users: Users) -> UserOut:
        return UserOut.model_validate(await users.create(body.model_dump()))


    @app.get("/users/{user_id}")
    async def read_user(user_id: int, users: Users) -> UserOut:
        return UserOut.model_validate(await users.get_one(user_id))


    @pytest.fixture
    async def client(sqla_session):
        async def test_session():
            # what get_session does, on the test's session
            try:
                yield sqla_session
            except BaseException:
                await sqla_session.rollback()
                raise
            await sqla_session.commit()

        app.dependency_overrides[get_session] = test_session
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client
        finally:
            app.dependency_overrides.clear()


    async def test_a_requests_use_the_test_session(client, sqla_session):
        created = await client.post("/users", json={"email": "api@example.com", "name": "Api"})
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        duplicate = await client.post("/users", json={"email": "api@example.com"})
        assert duplicate.status_code == 409
        assert duplicate.json()["error"] == "ConflictError"
        read = await client.get(f"/users/{user_id}")
        assert read.status_code == 200
        assert read.json() == {"id": user_id, "email": "api@example.com", "name": "Api"}
        assert await UserRepository(sqla_session).count() == 1


    async def test_b_nothing_left(client, sqla_session):
        assert await UserRepository(sqla_session).count() == 0
        created = await client.post("/users", json={"email": "api@example.com"})
        assert created.status_code == 201, created.text
"""


async def test_fastapi_app_uses_the_test_session(
    pytester: pytest.Pytester, db_url: URL, backend: str
) -> None:
    pytest.importorskip("sqla_repo.fastapi")
    _ini(pytester)
    pytester.makepyfile(test_api=FASTAPI_APP)
    _passed(_run(pytester, "--sqla-url", _url(db_url)), 2)
    if backend != "sqlite-memory":
        assert "users" not in await _tables(db_url)
