"""RealWorld benchmark: the Conduit example over HTTP, on each backend.

    python -m benchmarks.realworld [--quick] [--requests N] [--markdown PATH]
                                   [--json PATH] [URL ...]

For each URL (default: the local PostgreSQL server, or SQLA_REPO_TEST_POSTGRES_URL, and
``sqlite``: a SQLite file in a temporary directory; a MariaDB URL may be given too) it
creates a database of its own (``sqla_repo_bench_realworld``; the URL's database is
only connected to), starts the example app in a uvicorn process (its migrations
create the schema), seeds it, measures requests per second, p50 and p99 latency and
statements per request of the article list, the feed, one article and "favorite" with
20 concurrent clients, then stops the server and drops the database. It prints one
Markdown table. ``--quick``: 500 articles and 200 requests per operation, a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy.engine import make_url

from . import _load
from ._databases import TEMP_SQLITE, own_database
from ._report import BackendResult, as_json, backends, header, machine, table
from ._seed import FULL, QUICK, Sizes, seed
from ._serve import cpu_seconds, serve

DEFAULT_URLS = (
    os.environ.get(
        "SQLA_REPO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ),
    TEMP_SQLITE,
)


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    return "mariadb" if name == "mysql" else name


async def bench(given: str, sizes: Sizes, progress: Callable[[str], None]) -> BackendResult:
    async with own_database(given) as target:
        backend = _backend(target.url)
        secret = secrets.token_urlsafe(32)
        progress(f"{backend}: starting the server (migrations)")
        async with serve(target.url, secret) as (base, pid):
            progress(f"{backend}: seeding {sizes.articles:,} articles")
            started = time.perf_counter()
            data = await seed(target.url, sizes, secret)
            seed_seconds = time.perf_counter() - started
            progress(f"{backend}: seeded in {seed_seconds:.1f} s")
            operations = await _load.run(
                base,
                data,
                sizes,
                lambda: cpu_seconds(pid),
                lambda message: progress(f"{backend}: {message}"),
            )
    return BackendResult(backend, target.shown, data.server_version, seed_seconds, operations)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    description = __doc__.split("\n\n")[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="python -m benchmarks.realworld", description=description)
    parser.add_argument(
        "urls",
        nargs="*",
        metavar="URL",
        help=f"database URLs (default: PostgreSQL and {TEMP_SQLITE!r}, a temporary file)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke sizes: runs and prints")
    parser.add_argument("--requests", type=int, metavar="N", help="timed requests per operation")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the table here")
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    sizes = QUICK if args.quick else FULL
    if args.requests is not None:
        sizes = replace(sizes, requests=args.requests)

    def progress(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    found = machine()
    started = time.perf_counter()
    results: list[BackendResult] = []
    for given in args.urls or DEFAULT_URLS:
        results.append(asyncio.run(bench(given, sizes, progress)))
    parts = [header(found, sizes, args.quick), table(results), backends(results)]
    print("\n\n".join(parts), flush=True)
    progress(f"done in {time.perf_counter() - started:.0f} s")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n\n".join(parts) + "\n")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = as_json(found, sizes, args.quick, results)
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
