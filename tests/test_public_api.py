"""The public surface: exactly these names, importable from the top-level package."""

from __future__ import annotations

import subprocess
import sys

import sqla_repo

PUBLIC = [
    "Base",
    "BigIntPrimaryKeyMixin",
    "CheckViolationError",
    "Cluster",
    "CommitOutcomeUnknownError",
    "ConflictError",
    "CursorPage",
    "DatabaseSettings",
    "DatabaseUnavailableError",
    "EngineFactory",
    "ForUpdate",
    "ForeignKeyViolationError",
    "IntegrityViolationError",
    "InvalidCursorError",
    "InvalidFieldError",
    "IsolationLevel",
    "NAMING_CONVENTION",
    "NotFoundError",
    "NotLoadedError",
    "NotNullViolationError",
    "OrderBy",
    "Page",
    "PoolConfig",
    "PoolTimeoutError",
    "ReadOnlyError",
    "Repository",
    "RepositoryError",
    "RoutingConfig",
    "SerializationError",
    "SoftDeleteMixin",
    "StaleDataError",
    "StatementTimeoutError",
    "TimestampMixin",
    "UTCDateTime",
    "UUIDv7PrimaryKeyMixin",
    "User",
    "UserRepository",
    "VersionedMixin",
    "run_in_transaction",
    "unit_of_work",
    "uuid7",
]


def test_all_is_pinned_and_sorted() -> None:
    assert sqla_repo.__all__ == PUBLIC
    assert sorted(sqla_repo.__all__) == sqla_repo.__all__
    for name in PUBLIC:
        assert getattr(sqla_repo, name) is not None


def test_import_loads_no_driver() -> None:
    modules = (
        "('asyncpg', 'aiomysql', 'aiosqlite', 'psycopg', 'pymysql', 'pytest', 'pytest_asyncio',"
        " 'fastapi', 'starlette', 'alembic', 'httpx')"
    )
    code = f"import sys, sqla_repo; print(sorted(m for m in {modules} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
