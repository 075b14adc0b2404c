"""Alembic environment: sqla_repo.alembic.run_migrations() does the whole job."""

from logging.config import fileConfig

from alembic import context

from sqla_repo import Base
from sqla_repo.alembic import run_migrations

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_migrations(Base.metadata)
