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
from ._models import NAMING_CONVENTION, Base, User
from ._ordering import OrderBy
from ._pagination import CursorPage, Page
from ._repository import Repository, UserRepository

__all__ = [
    "Base",
    "CheckViolationError",
    "ConflictError",
    "CursorPage",
    "DatabaseUnavailableError",
    "EngineFactory",
    "ForeignKeyViolationError",
    "IntegrityViolationError",
    "InvalidCursorError",
    "InvalidFieldError",
    "NAMING_CONVENTION",
    "NotFoundError",
    "NotLoadedError",
    "NotNullViolationError",
    "OrderBy",
    "Page",
    "PoolConfig",
    "PoolTimeoutError",
    "Repository",
    "RepositoryError",
    "SerializationError",
    "StaleDataError",
    "User",
    "UserRepository",
]
