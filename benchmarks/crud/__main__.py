"""CRUD benchmark: sqla_repo against raw drivers, Core, hand-written ORM and advanced-alchemy.

    python -m benchmarks.crud [--quick] [--rounds N] [--json PATH] [--markdown PATH]
                              [--only OP,...] [URL ...]

For each URL (default: the local PostgreSQL and MariaDB servers, or the URLs in
SQLA_REPO_TEST_POSTGRES_URL and SQLA_REPO_TEST_MYSQL_URL, and ``sqlite``: a SQLite
file in a temporary directory) it creates the ``bench_crud_*`` tables (dropping a
killed run's leftovers first; the ``*_m`` ones are those of "sqla_repo + mixins"),
seeds them, measures every operation for every contender (see the package's
modules), prints a Markdown table and drops the tables.
``--quick`` shrinks every size and round count to a smoke run that only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy.engine import make_url

from sqla_repo import EngineFactory, PoolConfig

from . import _bulk, _reads, _scans, _writes
from ._harness import Env, Operation, OperationResult, measure
from ._models import (
    FULL,
    ITEMS,
    MIXED_ITEMS,
    MIXED_STREAM,
    QUICK,
    STREAM,
    BenchBase,
    Sizes,
    seed,
)
from ._raw import StatementCounter, open_pool
from ._report import BackendResult, as_json, calls, header, machine, markdown

TEMP_SQLITE = "sqlite"
"""The URL argument that stands for a SQLite file in a temporary directory."""
DEFAULT_URLS = (
    os.environ.get(
        "SQLA_REPO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ),
    os.environ.get("SQLA_REPO_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test"),
    TEMP_SQLITE,
)
OPERATIONS: dict[str, Callable[[Sizes], Operation]] = {
    "get": _reads.get,
    "get-fresh": _reads.get_fresh,
    "list": _reads.list_rows,
    "create": _writes.create_one,
    "update": _writes.update_one,
    "delete": _writes.delete_one,
    "create-many-mappings": lambda sizes: _bulk.create_many(sizes, instances=False),
    "create-many-instances": lambda sizes: _bulk.create_many(sizes, instances=True),
    "upsert-many": _bulk.upsert_many,
    "page-keyset": _reads.page_keyset,
    "page-offset": _reads.page_offset,
    "count": _scans.count,
    "exists": _scans.exists_match,
    "stream": _scans.stream,
}


async def bench(
    url: str, shown_url: str, sizes: Sizes, only: Sequence[str], progress: Callable[[str], None]
) -> BackendResult:
    factory = EngineFactory(url, pool=PoolConfig(pre_ping=False))
    engine = factory.create_async_engine()
    dialect = engine.dialect
    backend = "mariadb" if dialect.name == "mysql" else dialect.name
    counter = StatementCounter()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(BenchBase.metadata.drop_all)  # a killed run's leftovers
            await connection.run_sync(BenchBase.metadata.create_all)
        version = ".".join(str(part) for part in dialect.server_version_info or ())
        backend = "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name
        progress(f"{backend}: seeding")
        started = time.perf_counter()
        for items in (ITEMS, MIXED_ITEMS):
            await seed(engine, items, sizes.table_rows)
        if "stream" in only:
            for streamed in (STREAM, MIXED_STREAM):
                await seed(engine, streamed, sizes.stream_rows)
        seed_seconds = time.perf_counter() - started
        raw = await open_pool(make_url(url), backend, counter)
        env = Env(backend, engine, factory.create_sessionmaker(engine), raw, counter)
        env.count_statements()
        gc.collect()
        gc.freeze()  # what exists now is never garbage: each batch's collection stays short
        shuffle = random.SystemRandom()
        results: list[OperationResult] = []
        try:
            for key in only:
                operation = OPERATIONS[key](sizes)
                progress(f"{backend}: {operation.title}")
                started = time.perf_counter()
                results.append(await measure(env, operation, shuffle))
                progress(f"{backend}: {operation.title}: {time.perf_counter() - started:.1f} s")
        finally:
            gc.unfreeze()
            await raw.close()
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(BenchBase.metadata.drop_all)
        await engine.dispose()
    return BackendResult(
        backend=backend,
        url=shown_url,
        server_version=version,
        driver=raw.driver,
        sizes=sizes,
        seed_seconds=seed_seconds,
        operations=results,
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    description = __doc__.split("\n\n")[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crud", description=description)
    parser.add_argument(
        "urls",
        nargs="*",
        metavar="URL",
        help=f"database URLs (default: the two servers and {TEMP_SQLITE!r}, a temporary file)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke sizes: runs and prints")
    parser.add_argument("--rounds", type=int, help="timed rounds of every operation")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the tables here")
    parser.add_argument(
        "--only", metavar="OP,...", help=f"operations to run, of: {', '.join(OPERATIONS)}"
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    only = args.only.split(",") if args.only else list(OPERATIONS)
    unknown = [key for key in only if key not in OPERATIONS]
    if unknown:
        parser.error(f"unknown operations {unknown}; choose from {', '.join(OPERATIONS)}")
    args.only = only
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    sizes = QUICK if args.quick else FULL
    if args.rounds is not None:
        sizes = replace(sizes, rounds=args.rounds, bulk_rounds=args.rounds)
        sizes = replace(sizes, stream_rounds=args.rounds)

    def progress(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    found = machine()
    parts = [header(found, args.quick)]
    print(parts[0], end="\n\n", flush=True)
    results: list[BackendResult] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_crud_") as directory:
        temporary = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        for given in args.urls or DEFAULT_URLS:
            url = temporary if given == TEMP_SQLITE else given
            shown = (
                "a temporary SQLite file"
                if given == TEMP_SQLITE
                else make_url(given).render_as_string(hide_password=True)
            )
            result = asyncio.run(bench(url, shown, sizes, args.only, progress))
            results.append(result)
            parts.append(markdown(result))
            print(parts[-1], end="\n\n", flush=True)
    parts.append(calls(results))
    print(parts[-1], flush=True)
    progress(f"done in {time.perf_counter() - started:.0f} s")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n\n".join(parts) + "\n")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        found_json = as_json(found, args.quick, results)
        args.json.write_text(json.dumps(found_json, indent=2) + "\n")


if __name__ == "__main__":
    main()
