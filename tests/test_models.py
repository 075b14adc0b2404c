"""Base's naming convention and the User table, as each backend really stores it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from sqla_repo import Base


def test_constraint_names_follow_the_convention() -> None:
    table = Base.metadata.tables["users"]
    assert table.primary_key.name == "pk_users"
    assert {c.name for c in table.constraints} >= {"pk_users", "uq_users_email"}


def test_user_columns() -> None:
    columns = Base.metadata.tables["users"].columns
    assert columns["email"].type.length == 255  # type: ignore[attr-defined]  # String
    assert columns["name"].type.length == 120  # type: ignore[attr-defined]  # String
    assert columns["email"].nullable is False
    assert columns["name"].nullable is True
    assert columns["id"].primary_key


async def test_user_table_on_the_backend(engine: AsyncEngine, backend: str) -> None:
    def read(sync_connection: Any) -> dict[str, Any]:
        inspector = inspect(sync_connection)
        return {
            "columns": {c["name"]: c for c in inspector.get_columns("users")},
            "unique": inspector.get_unique_constraints("users"),
            "indexes": inspector.get_indexes("users"),
            "pk": inspector.get_pk_constraint("users"),
        }

    async with engine.connect() as connection:
        found = await connection.run_sync(read)
    columns = found["columns"]
    id_type = columns["id"]["type"]
    if backend.startswith("sqlite"):
        # exactly "INTEGER PRIMARY KEY": SQLite's rowid alias, autoincrementing
        assert str(id_type) == "INTEGER"
    else:
        assert isinstance(id_type, BigInteger)
    assert columns["email"]["type"].length == 255
    assert columns["email"]["nullable"] is False
    assert columns["name"]["type"].length == 120
    assert columns["name"]["nullable"] is True
    unique_names = {u["name"] for u in found["unique"]} | {
        i["name"] for i in found["indexes"] if i.get("unique")
    }
    assert "uq_users_email" in unique_names
    assert found["pk"]["constrained_columns"] == ["id"]
