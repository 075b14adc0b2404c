"""The ``sqla_repo.testing`` fixtures in this project's own run.

The URL is ``SQLA_REPO_TEST_URL`` where set, else in-memory SQLite (``--sqla-url`` works
too); ``tests/test_testing_plugin.py`` runs the plugin against every backend.
"""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from sqla_repo import Base, ConflictError, UserRepository

EMAIL = "plugin-fixtures@example.com"


@pytest.mark.parametrize("attempt", [1, 2])
async def test_committed_rows_are_gone_after_the_test(
    sqla_session: AsyncSession, attempt: int
) -> None:
    # Whichever attempt runs second finds nothing: the first one's commit was rolled back.
    users = UserRepository(sqla_session)
    assert await users.count() == 0
    await users.create({"email": EMAIL, "name": f"attempt {attempt}"})
    await sqla_session.commit()
    assert (await users.get_by_email(EMAIL)) is not None


async def test_rollback_after_an_error_keeps_the_last_commit(sqla_session: AsyncSession) -> None:
    users = UserRepository(sqla_session)
    kept = await users.create({"email": EMAIL})
    await sqla_session.commit()
    with pytest.raises(ConflictError):
        await users.create({"email": EMAIL})
    await sqla_session.rollback()
    assert [user.id for user in await users.list()] == [kept.id]


async def test_session_joins_an_outer_transaction_in_savepoint_mode(
    sqla_session: AsyncSession,
) -> None:
    assert sqla_session.sync_session.join_transaction_mode == "create_savepoint"
    connection = sqla_session.bind
    assert isinstance(connection, AsyncConnection)
    assert connection.in_transaction()
    await sqla_session.commit()
    assert connection.in_transaction()  # the commit released a savepoint only


async def test_engine_holds_the_metadata_tables(
    sqla_engine: AsyncEngine, sqla_url: str, sqla_metadata: MetaData
) -> None:
    assert sqla_metadata is Base.metadata
    assert sqla_engine.url.render_as_string(hide_password=False) == make_url(
        sqla_url
    ).render_as_string(hide_password=False)
    async with sqla_engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    assert set(sqla_metadata.tables) <= set(names)
