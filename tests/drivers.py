"""Parametrizations over every backend and driver, both PostgreSQL drivers included.

``driver`` (a fixture of ``conftest.py``) replaces the URL's backend+driver.
"""

from __future__ import annotations

import pytest

ASYNCPG = pytest.param("postgresql", "postgresql+asyncpg", id="postgresql-asyncpg")
PSYCOPG = pytest.param("postgresql", "postgresql+psycopg", id="postgresql-psycopg")
MARIADB = pytest.param("mysql", None, id="mysql")
every_driver = pytest.mark.parametrize(
    ("backend", "driver"),
    [
        pytest.param("sqlite-file", None, id="sqlite-file"),
        pytest.param("sqlite-memory", None, id="sqlite-memory"),
        ASYNCPG,
        PSYCOPG,
        MARIADB,
    ],
    indirect=["backend"],
)
server_drivers = pytest.mark.parametrize(
    ("backend", "driver"), [ASYNCPG, PSYCOPG, MARIADB], indirect=["backend"]
)
