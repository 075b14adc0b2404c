# The two commands: `make demo` and `make test`. Each creates .venv when missing and
# installs what it needs; nothing else has to be installed but Python >= 3.11.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest pytest-psycopg wheel-check bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m sqla_repo demo $(if $(URL),--url "$(URL)")

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict

pytest: $(STAMP)
	$(BIN)/pytest

# The query, write, transaction and error tests once more on PostgreSQL through psycopg,
# the other driver.
PSYCOPG_URL ?= $(subst postgresql+asyncpg://,postgresql+psycopg://,$(or $(SQLA_REPO_TEST_POSTGRES_URL),postgresql+asyncpg://postgres@127.0.0.1:5432/test))
pytest-psycopg: $(STAMP)
	SQLA_REPO_TEST_POSTGRES_URL="$(PSYCOPG_URL)" $(BIN)/pytest -q -k postgresql \
		tests/test_reads.py tests/test_writes.py tests/test_loading.py tests/test_values.py \
		tests/test_transactions.py tests/test_translate.py tests/test_scrub.py

test: lint typecheck pytest pytest-psycopg

# What users install is what is tested: the built wheel, in a clean environment,
# type-checks a client module and runs its CRUD walk-through.
wheel-check: $(STAMP)
	bash .ci/wheel-check

# sqla_repo against the raw drivers, Core, hand-written ORM and advanced-alchemy on
# PostgreSQL, MariaDB and SQLite (the servers of the tests; see benchmarks/crud).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.crud --json benchmarks/results/latest.json \
		--markdown benchmarks/results/latest.md

# A smoke run of every operation on every backend, in under a minute: it only prints.
bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.crud --quick


clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
