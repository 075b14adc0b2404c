"""The ``sqla-repo`` command line: ``demo``, a CRUD walk-through on any backend."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="sqla-repo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="walk through create, get, list, update, conflict and delete"
    )
    demo.add_argument(
        "--url",
        default=DEFAULT_DEMO_URL,
        help=f"database URL (default: embedded SQLite, {DEFAULT_DEMO_URL})",
    )
    args = parser.parse_args(argv)
    try:
        factory = EngineFactory(args.url)
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
