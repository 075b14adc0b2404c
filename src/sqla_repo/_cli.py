"""The ``sqla-repo`` command line.

- ``demo``: a CRUD walk-through on any backend;
- ``check``: connect once and report the database's facts (:mod:`sqla_repo._check`);
- ``init-migrations``: write an Alembic set-up (:mod:`sqla_repo._migrations`), for sqla_repo's
  ``Base`` or, with ``--metadata MODULE:ATTR``, the application's own metadata.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from typing import NoReturn
from urllib.parse import unquote

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from ._engine import EngineFactory
from ._errors import ConflictError, RepositoryError
from ._models import Base, User
from ._repository import UserRepository
from ._translate import ErrorContext, translate

DEFAULT_DEMO_URL = "sqlite+aiosqlite:///:memory:"
_DEMO_EMAIL = "ada@demo.sqla-repo.invalid"


# the password of a URL: ``scheme://user:PASSWORD@host``
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line (exit 2) without the password of a URL it quotes."""

    def error(self, message: str) -> NoReturn:
        super().error(_URL_PASSWORD.sub(r"\1***@", message))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _Parser(prog="sqla-repo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="walk through create, get, list, update, conflict and delete"
    )
    demo.add_argument(
        "--url",
        default=DEFAULT_DEMO_URL,
        help=f"database URL (default: embedded SQLite, {DEFAULT_DEMO_URL})",
    )
    check = commands.add_parser(
        "check",
        help="connect once and report the server, pool and backend facts",
        description=(
            "Build the engine factory from DATABASE_URL and the DATABASE_POOL_* variables "
            "(environment, then ./.env), connect once and report. Exit status: 0 connected, "
            "1 failed (reason: config, unreachable, auth or error), 2 bad command line."
        ),
    )
    check.add_argument(
        "--url", help="database URL replacing DATABASE_URL (DATABASE_POOL_* still apply)"
    )
    check.add_argument(
        "--json", action="store_true", dest="as_json", help="print one JSON object on stdout"
    )
    migrations = commands.add_parser(
        "init-migrations",
        help="write ./alembic.ini and a migrations directory whose env.py uses sqla_repo",
        description=(
            "Write ./alembic.ini and DIR/ (env.py calling sqla_repo.alembic.run_migrations(), "
            "script.py.mako, versions/). By default env.py migrates sqla_repo's Base.metadata "
            "and a first revision creates its users table; with --metadata, env.py imports the "
            "application's metadata and versions/ starts empty. Exit status: 0 written, 1 "
            "refused with nothing written, 2 bad command line."
        ),
    )
    migrations.add_argument(
        "directory",
        metavar="DIR",
        nargs="?",
        default="migrations",
        help="the migrations directory (default: migrations)",
    )
    migrations.add_argument(
        "--metadata",
        metavar="MODULE:ATTR",
        help=(
            "the application's MetaData, or a declarative base having one as .metadata, e.g. "
            "myapp.models:Base or myapp.models:Base.metadata; imported first (the working "
            "directory on sys.path) to check it; no first revision is written: run "
            'alembic revision --autogenerate -m "create tables"'
        ),
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        from ._check import run_check

        return run_check(args.url, as_json=args.as_json)
    if args.command == "init-migrations":
        try:
            from ._migrations import init_migrations
        except ModuleNotFoundError as err:
            if (err.name or "").partition(".")[0] != "alembic":
                raise
            print(
                "sqla-repo init-migrations: alembic is not installed: "
                "pip install 'sqla-repo[alembic]'",
                file=sys.stderr,
            )
            return 1
        return init_migrations(args.directory, metadata=args.metadata)
    return _demo(parser, args.url)


def _demo(parser: argparse.ArgumentParser, url: str) -> int:
    try:
        factory = EngineFactory(url)
    except ValueError as err:
        parser.error(str(err))
    try:
        asyncio.run(run_demo(factory))
    except (RepositoryError, ModuleNotFoundError) as err:
        print(f"sqla-repo demo: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


async def run_demo(factory: EngineFactory) -> None:
    """Create the ``users`` table if missing and walk through the repository's operations.

    Prints one line per step, each starting with the step's name. Rows it leaves
    behind from an interrupted run are removed first, so it can run again and again
    on the same database.
    """
    engine = factory.create_async_engine()
    # str(URL) hides the password; unquote only makes ":memory:" readable
    print(f"sqla-repo demo on {unquote(str(factory.url))}", file=sys.stderr)
    try:
        await _prepare(engine)
        await _walk_through(factory, engine)
    finally:
        await engine.dispose()


async def _prepare(engine: AsyncEngine) -> None:
    users = Base.metadata.tables[User.__tablename__]
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all, tables=[users])
            await connection.execute(delete(User).where(User.email == _DEMO_EMAIL))
    except Exception as err:
        translated = translate(err, lambda: ErrorContext(engine.url, engine.pool))
        if translated is None:
            raise
        raise translated from err


async def _walk_through(factory: EngineFactory, engine: AsyncEngine) -> None:
    sessions = factory.create_sessionmaker(engine)

    async with sessions.begin() as session:
        user = await UserRepository(session).create({"email": _DEMO_EMAIL, "name": "Ada Lovelace"})
    print(f"create: {user!r}")

    async with sessions() as session:
        found = await UserRepository(session).get(user.id)
    print(f"get: {found!r}")

    async with sessions() as session:
        listed = await UserRepository(session).list(User.email == _DEMO_EMAIL)
    print(f"list: {len(listed)} user(s): {', '.join(repr(u) for u in listed)}")

    async with sessions.begin() as session:
        updated = await UserRepository(session).update(user.id, name="Ada King")
    print(f"update: {updated!r}")

    try:
        async with sessions.begin() as session:
            await UserRepository(session).create({"email": _DEMO_EMAIL, "name": "Impostor"})
    except ConflictError as err:
        print(f"conflict: {type(err).__name__}: {err} (rolled back)")
    else:  # pragma: no cover - the unique constraint makes this unreachable
        raise RuntimeError("the duplicate email was accepted")

    async with sessions.begin() as session:
        await UserRepository(session).delete(user.id)
    async with sessions() as session:
        gone = await UserRepository(session).get(user.id)
    print(f"delete: user {user.id} deleted; get() now returns {gone!r}")
