"""Alembic environment: sqla_repo.alembic.run_migrations() does the whole job.

The database URL is ``sqlalchemy.url`` when the app sets it (``app.migrate``), else
DATABASE_URL (the environment, then ./.env).
"""

from logging.config import fileConfig

from alembic import context
from examples.realworld.models import Base

from sqla_repo.alembic import run_migrations

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_migrations(Base.metadata)
