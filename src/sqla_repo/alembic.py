"""Alembic integration: :func:`run_migrations` is the whole body of an ``env.py``.

Needs the ``alembic`` extra (``pip install 'sqla-repo[alembic]'``). ``sqla-repo
init-migrations`` writes an ``alembic.ini`` and a migrations directory that use it::

    # migrations/env.py
    from sqla_repo import Base
    from sqla_repo.alembic import run_migrations

    import myapp.models  # noqa: F401 - registers the application's tables on Base.metadata

    run_migrations(Base.metadata)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from sqla_repo._engine import EngineFactory
from sqla_repo._errors import ForeignKeyViolationError, RepositoryError
from sqla_repo._settings import DatabaseSettings
from sqla_repo._translate import ErrorContext, translate

__all__ = ["run_migrations"]


def run_migrations(
    target_metadata: MetaData | Sequence[MetaData],
    *,
    url: str | URL | None = None,
    **options: Any,
) -> None:
    """Run the migrations Alembic asks for: call it as the whole body of an ``env.py``.

    - Offline (``alembic upgrade head --sql``): renders the SQL for the database's
      dialect without connecting.
    - Online: connects through an async engine built by ``EngineFactory(url)`` (so
      SQLite's connection set-up applies), runs the migrations through
      ``connection.run_sync`` and disposes the engine. Called while an event loop runs
      in this thread (``alembic.command.upgrade()`` from async code), the engine gets
      a loop of its own in a worker thread. On SQLite, whose DDL the factory's
      connections run inside ``BEGIN``, all the migrations of a command share one
      transaction (``transactional_ddl=True``, as on PostgreSQL), and foreign keys are
      not enforced while they run, so that batch operations can rebuild a referenced
      table; ``PRAGMA foreign_key_check`` runs before the commit and a row left without
      its parent raises :class:`sqla_repo.ForeignKeyViolationError`, nothing committed.
    - If ``config.attributes["connection"]`` holds a sync ``Connection`` (Alembic's
      connection-sharing recipe, e.g. inside ``await conn.run_sync(...)``), migrates on
      that connection, inside its transaction (begun if none is), and never commits or
      rolls it back: the caller does. No URL is needed then. This is how an in-memory
      database is migrated.

    The URL is ``url``, else ``sqlalchemy.url`` of the Alembic config, else
    ``DatabaseSettings().url`` (``DATABASE_URL``, then ``./.env``). A URL that
    ``EngineFactory`` refuses raises ``ValueError``; no setting at all raises
    ``pydantic.ValidationError`` naming ``DATABASE_URL``. Database errors while
    connecting or migrating raise the :class:`sqla_repo.RepositoryError` subclass the
    repositories raise (``DatabaseUnavailableError``...), the password never shown.

    ``context.configure()`` gets ``target_metadata``, ``compare_type=True`` and, on
    SQLite, ``render_as_batch=True``; ``options`` go to it too and win over these.
    """
    metadata = target_metadata if isinstance(target_metadata, MetaData) else list(target_metadata)
    shared = context.config.attributes.get("connection")
    connection = _checked_connection(shared) if shared is not None else None
    if context.is_offline_mode():
        _render_sql(connection, url, metadata, options)
    elif connection is not None:
        if not connection.in_transaction():
            # a transaction of the caller's: Alembic then neither begins nor commits one
            connection.begin()
        _migrate_on(connection, metadata, options)
    else:
        factory = EngineFactory(_resolve_url(url))
        _run_to_completion(lambda: _migrate_online(factory, metadata, options))


def _render_sql(
    connection: Connection | None,
    url: str | URL | None,
    metadata: MetaData | list[MetaData],
    options: Mapping[str, Any],
) -> None:
    arguments: dict[str, Any] = {"literal_binds": True}
    if connection is not None:  # only its dialect is used: nothing is sent on it
        arguments["connection"] = connection
        backend = connection.dialect.name
    else:
        parsed = EngineFactory(_resolve_url(url)).url
        arguments.update(url=parsed, dialect_opts={"paramstyle": "named"})
        backend = parsed.get_backend_name()
    _configure(arguments, metadata, backend, options)
    with context.begin_transaction():
        context.run_migrations()


def _resolve_url(url: str | URL | None) -> str | URL:
    if url is not None:
        return url
    configured = context.config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    return DatabaseSettings().url.get_secret_value()


def _checked_connection(shared: object) -> Connection:
    if isinstance(shared, Connection):
        return shared
    if isinstance(shared, AsyncConnection):
        raise TypeError(
            'config.attributes["connection"] must be a sync Connection, not an '
            "AsyncConnection: run the Alembic command inside `await conn.run_sync(...)` "
            "and store the Connection it passes"
        )
    raise TypeError(
        'config.attributes["connection"] must be a sqlalchemy.engine.Connection, '
        f"not {type(shared).__name__}"
    )


def _configure(
    arguments: Mapping[str, Any],
    metadata: MetaData | list[MetaData],
    backend: str,
    options: Mapping[str, Any],
) -> None:
    defaults: dict[str, Any] = {
        "target_metadata": metadata,
        "compare_type": True,
        "render_item": _render_item,
    }
    if backend == "sqlite":
        # SQLite's ALTER TABLE cannot change most things: autogenerate renders
        # batch_alter_table (copy and move) for it
        defaults["render_as_batch"] = True
    context.configure(**{**arguments, **defaults, **options})


def _render_item(kind: str, obj: object, autogen_context: Any) -> Literal[False]:
    """Autogenerate's hook: a revision that names a type of ours imports ``sqla_repo``.

    ``sqla_repo.UTCDateTime`` renders by its public name; without this, the revision
    would name it without importing it. Returns ``False``: Alembic renders the item.
    """
    if kind == "type" and type(obj).__module__ == "sqla_repo":
        autogen_context.imports.add("import sqla_repo")
    return False


def _migrate_on(
    connection: Connection, metadata: MetaData | list[MetaData], options: Mapping[str, Any]
) -> None:
    _configure({"connection": connection}, metadata, connection.dialect.name, options)
    with context.begin_transaction():
        context.run_migrations()


def _migrate_own(
    connection: Connection, metadata: MetaData | list[MetaData], options: Mapping[str, Any]
) -> None:
    if connection.dialect.name != "sqlite":
        _migrate_on(connection, metadata, options)
        return
    # SQLite's batch operations rebuild a table (create, copy, drop, rename), and dropping
    # a table that others reference fails while foreign keys are enforced. As SQLite's
    # ALTER TABLE procedure asks, they are off during the migration (set before its
    # transaction: inside one the pragma does nothing) and checked before it commits.
    # The engine is disposed afterwards: this connection serves nothing else.
    cursor = connection.connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=OFF")
    finally:
        cursor.close()
    # the factory's SQLite connections run DDL inside SQLAlchemy's BEGIN: one transaction
    # for every migration, as on PostgreSQL, so a failed check leaves nothing behind
    _configure({"connection": connection, "transactional_ddl": True}, metadata, "sqlite", options)
    with context.begin_transaction():
        context.run_migrations()
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            pairs = sorted({f"{row[0]} -> {row[2]}" for row in broken})
            raise ForeignKeyViolationError(
                "the migrations leave rows referring to missing rows: " + ", ".join(pairs)
            )


async def _migrate_online(
    factory: EngineFactory, metadata: MetaData | list[MetaData], options: Mapping[str, Any]
) -> None:
    engine = factory.create_async_engine()
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate_own, metadata, options)
    except RepositoryError:
        raise
    except Exception as err:
        translated = translate(err, lambda: ErrorContext(engine.url, engine.pool))
        if translated is None:
            raise
        raise translated from err
    finally:
        await engine.dispose()


def _run_to_completion(migrate: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(migrate())
        return
    # asyncio.run() cannot nest in a running loop: this call blocks its caller anyway,
    # so the migration runs on a loop of its own in a worker thread
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqla-repo-alembic") as worker:
        worker.submit(lambda: asyncio.run(migrate())).result()
