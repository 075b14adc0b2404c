"""sqla_repo: typed async repositories and engines on SQLAlchemy 2.x."""

from __future__ import annotations

from ._engine import EngineFactory, PoolConfig
from ._errors import (
    CheckViolationError,
    ConflictError,
    DatabaseUnavailableError,
    ForeignKeyViolationError,
    IntegrityViolationError,
    InvalidCursorError,
    InvalidFieldError,
    NotFoundError,
    NotLoadedError,
    NotNullViolationError,
    PoolTimeoutError,
    RepositoryError,
    SerializationError,
    StaleDataError,
)
from ._models import Base, User
from ._repository import Repository, UserRepository

__all__ = [
    "Base",
    "CheckViolationError",
    "ConflictError",
    "DatabaseUnavailableError",
    "EngineFactory",
    "ForeignKeyViolationError",
    "IntegrityViolationError",
    "InvalidCursorError",
    "InvalidFieldError",
    "NotFoundError",
    "NotLoadedError",
    "NotNullViolationError",
    "PoolConfig",
    "PoolTimeoutError",
    "Repository",
    "RepositoryError",
    "SerializationError",
    "StaleDataError",
    "User",
    "UserRepository",
]
