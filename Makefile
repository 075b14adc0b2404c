# The two commands: `make demo` and `make test`. Each creates .venv when missing and
# installs what it needs; nothing else has to be installed but Python >= 3.11.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest pytest-psycopg wheel-check bench bench-quick \
	bench-realworld bench-replicas realworld topology-deps clean \
	test-oldest oldest-bounds oldest-pins

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m sqla_repo demo $(if $(URL),--url "$(URL)")

# The RealWorld example app (examples/realworld) on embedded SQLite (conduit.db), or on
# DATABASE_URL when set; it migrates its schema at start-up. PORT=8000 by default.
realworld: $(STAMP)
	$(BIN)/python -m uvicorn examples.realworld.app:app --port $(or $(PORT),8000)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict

# What the replication tests start themselves (tests/topology_*.py) and Debian provides:
# PgBouncer, MariaDB with Galera, rsync; installed when missing (apt-get, as root or sudo).
topology-deps:
	bash tests/topology-deps.sh

pytest: $(STAMP) topology-deps
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

# The RealWorld example over HTTP (uvicorn, 20 clients, 10,000 articles) on PostgreSQL and
# SQLite: requests/s, p50/p99 and statements per request (see benchmarks/realworld).
bench-realworld: $(STAMP)
	$(BIN)/python -m benchmarks.realworld --markdown benchmarks/results/realworld.md \
		--json benchmarks/results/realworld.json

# Read sessions of a Cluster over the replica tests' PostgreSQL primary and two hot standbys,
# 20 tasks: sessions/s, p50/p99, the share each server serves and stale reads, read your writes
# and one standby paused included (see benchmarks/replicas).
bench-replicas: $(STAMP)
	$(BIN)/python -m benchmarks.replicas --markdown benchmarks/results/replicas.md \
		--json benchmarks/results/replicas.json

# Compatibility: the pytest suite on the oldest dependencies pyproject.toml admits, in a
# virtualenv of its own. .ci/oldest-requirements.txt pins them: every direct dependency (core,
# every extra, the suite's own tools) at its lowest version and the rest at the newest that
# fits, as `uv pip compile --resolution lowest-direct` resolved them for Python 3.11;
# `make oldest-pins` regenerates it after a bound changes. oldest-bounds checks first that each
# declared lower bound is the version pinned, so that the bounds tested are the bounds declared.
# Not run there: the type checkers' tests (tests/test_typing.py, the README's mypy check), which
# pin their own checker versions and need the newest stubs. See OLDEST_PYTEST_ARGS.
UV_VERSION := 0.13.8
UV := $(BIN)/uv
OLDEST := .venv-oldest
OLDEST_PINS := .ci/oldest-requirements.txt
OLDEST_STAMP := $(OLDEST)/.installed
# The suite's tools beyond the [testing] extra, at the dev extra's bounds; mypy only so that
# tests/test_readme.py imports.
OLDEST_TOOLS := pytest-timeout hypothesis httpx mypy
OLDEST_TOOL_BOUNDS = $(BIN)/python -c 'import re, sys, tomllib; \
	dev = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dev"]; \
	print(*(r for r in dev if re.split(r"[^A-Za-z0-9._-]", r)[0] in sys.argv[1:]), sep="\n")' \
	$(OLDEST_TOOLS)
OLDEST_COMPILE = $(UV) pip compile --quiet --python-version 3.11 --resolution lowest-direct \
	pyproject.toml --extra all -
# Also left out, to keep CI's wall time in bounds: the CLI's subprocess tests (the check command
# is exercised against the old drivers by the translate and engine tests) and the README's
# examples, which repeat what the suite tests.
# The RealWorld example's tests need its own extra (not part of `all`), and the topologies'
# smoke tests check the test servers, not the package (its replica tests still run).
OLDEST_PYTEST_ARGS ?= --ignore=tests/test_typing.py --ignore=tests/test_check.py \
	--ignore=tests/test_readme.py --ignore-glob='tests/test_realworld_*' \
	--ignore-glob='tests/test_topology_*'

test-oldest oldest-bounds oldest-pins: SHELL := /bin/bash

$(UV): $(STAMP)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

# A fresh resolution (uv would otherwise prefer the versions already pinned).
oldest-pins: $(UV)
	set -o pipefail; $(OLDEST_TOOL_BOUNDS) | $(OLDEST_COMPILE) \
		--custom-compile-command "make oldest-pins" -o $(OLDEST_PINS).new
	mv $(OLDEST_PINS).new $(OLDEST_PINS)

oldest-bounds: $(UV)
	@set -o pipefail; \
	declared=$$($(OLDEST_TOOL_BOUNDS) | $(OLDEST_COMPILE) --no-deps --no-header --no-annotate) \
		|| exit 1; \
	untested=$$(grep -vxF -f $(OLDEST_PINS) <<< "$$declared"); \
	if [ -n "$$untested" ]; then \
		echo "declared lower bounds that $(OLDEST_PINS) does not install (they do not" \
			"install on Python 3.11, or another dependency needs more): raise them in" \
			"pyproject.toml to the pinned version, then run make oldest-pins:" >&2; \
		echo "$$untested" >&2; \
		exit 1; \
	fi

$(OLDEST_STAMP): $(OLDEST_PINS) pyproject.toml | $(UV)
	rm -rf $(OLDEST)
	$(PYTHON) -m venv --without-pip $(OLDEST)
	printf '*\n' > $(OLDEST)/.gitignore
	$(UV) pip install --quiet --python $(OLDEST)/bin/python -r $(OLDEST_PINS) -e ".[all]"
	touch $(OLDEST_STAMP)

test-oldest: oldest-bounds $(OLDEST_STAMP)
	$(OLDEST)/bin/python -m pytest $(OLDEST_PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(OLDEST) build dist .mypy_cache .pytest_cache .ruff_cache
