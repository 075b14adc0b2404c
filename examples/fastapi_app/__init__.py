"""A users API on sqla_repo and FastAPI, with its Alembic migrations (see ``README.md``)."""
