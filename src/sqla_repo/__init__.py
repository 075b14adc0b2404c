"""sqla_repo: typed async repositories and engines on SQLAlchemy 2.x."""

from __future__ import annotations

from ._cluster import Cluster
from ._engine import EngineFactory, PoolConfig
from ._errors import (
    CheckViolationError,
    CommitOutcomeUnknownError,
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
    ReadOnlyError,
    RepositoryError,
    SerializationError,
    StaleDataError,
    StatementTimeoutError,
)
from ._keys import BigIntPrimaryKeyMixin, UUIDv7PrimaryKeyMixin, uuid7
from ._locking import ForUpdate
from ._mixins import VersionedMixin
from ._models import NAMING_CONVENTION, Base, User
from ._ordering import OrderBy
from ._pagination import CursorPage, Page
from ._repository import Repository, UserRepository
from ._routing import RoutingConfig
from ._settings import DatabaseSettings
from ._soft_delete import SoftDeleteMixin
from ._timestamps import TimestampMixin, UTCDateTime
from ._transactions import IsolationLevel, run_in_transaction, unit_of_work

# Where migration tools (Alembic's autogenerate) render the type: the public name.
UTCDateTime.__module__ = __name__

__all__ = [
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
