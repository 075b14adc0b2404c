"""The operations and the load: concurrent clients over one httpx client, per-request times."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from . import STATEMENTS_PATH
from ._seed import Seeded, Sizes


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    token: str


@dataclass(frozen=True)
class Operation:
    key: str
    title: str
    request: Callable[[Seeded, int], Request]
    """The ``index``-th request (warm-up first, then the timed ones)."""


OPERATIONS = (
    Operation(
        "list",
        "article list (`GET /api/articles?limit=20`)",
        lambda data, _: Request("GET", "/api/articles?limit=20", data.reader_token),
    ),
    Operation(
        "feed",
        "feed (`GET /api/articles/feed?limit=20`)",
        lambda data, _: Request("GET", "/api/articles/feed?limit=20", data.reader_token),
    ),
    Operation(
        "article",
        "one article (`GET /api/articles/{slug}`)",
        lambda data, index: Request(
            "GET", f"/api/articles/{data.slugs[index % len(data.slugs)]}", data.reader_token
        ),
    ),
    Operation(
        "favorite",
        "favorite (`POST /api/articles/{slug}/favorite`)",
        lambda data, index: Request(
            "POST",
            f"/api/articles/{data.new_favorites[index][1]}/favorite",
            data.new_favorites[index][0],
        ),
    ),
)


LOAD_ERRORS = frozenset({409, 503})
"""What load alone may cause: a lock not granted in time (``SerializationError``; on
SQLite, a writer that waited out the driver's 5 s busy timeout), the pool exhausted."""


@dataclass
class OperationResult:
    operation: str
    title: str
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    statements_per_request: float
    server_cpu_ms: float | None
    """CPU time of the server process (uvicorn, the app, the driver; not PostgreSQL's
    processes) per timed request; ``None`` where /proc is missing."""
    errors: dict[str, int]
    """Answers of :data:`LOAD_ERRORS` among the timed requests (included above), by text."""


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of them at or below it."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def _statements(client: httpx.AsyncClient) -> int:
    response = await client.get(STATEMENTS_PATH)
    response.raise_for_status()
    count: int = response.json()["statements"]
    return count


async def _drive(
    client: httpx.AsyncClient,
    data: Seeded,
    operation: Operation,
    indexes: range,
    clients: int,
    errors: dict[str, int],
) -> list[float]:
    """Send the requests of ``indexes`` from ``clients`` tasks; each one's seconds.

    An answer of :data:`LOAD_ERRORS` is counted in ``errors``; any other error raises.
    """
    queue: Iterator[int] = iter(indexes)
    latencies: list[float] = []

    async def worker() -> None:
        for index in queue:  # the tasks share the iterator: each index is sent once
            request = operation.request(data, index)
            headers = {"Authorization": f"Token {request.token}"}
            started = time.perf_counter()
            response = await client.request(request.method, request.path, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code == 200:
                continue
            if response.status_code not in LOAD_ERRORS:
                raise RuntimeError(
                    f"{request.method} {request.path}: {response.status_code} {response.text}"
                )
            answer = f"{response.status_code} {response.text[:100]}"
            errors[answer] = errors.get(answer, 0) + 1

    async with asyncio.TaskGroup() as group:
        for _ in range(clients):
            group.create_task(worker())
    return latencies


async def run(
    base: str,
    data: Seeded,
    sizes: Sizes,
    server_cpu: Callable[[], float | None],
    progress: Callable[[str], None],
) -> list[OperationResult]:
    """Each operation: the warm-up, then the timed requests; ``server_cpu``: the server
    process's CPU seconds so far."""
    limits = httpx.Limits(max_connections=sizes.clients, max_keepalive_connections=sizes.clients)
    results: list[OperationResult] = []
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        for operation in OPERATIONS:
            warmup_errors: dict[str, int] = {}
            await _drive(client, data, operation, range(sizes.warmup), sizes.clients, warmup_errors)
            before = await _statements(client)
            cpu_before = server_cpu()
            started = time.perf_counter()
            timed = range(sizes.warmup, sizes.warmup + sizes.requests)
            errors: dict[str, int] = {}
            latencies = await _drive(client, data, operation, timed, sizes.clients, errors)
            seconds = time.perf_counter() - started
            cpu_after = server_cpu()
            statements = await _statements(client) - before
            cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            ordered = sorted(latencies)
            results.append(
                OperationResult(
                    operation=operation.key,
                    title=operation.title,
                    requests=len(ordered),
                    seconds=seconds,
                    requests_per_second=len(ordered) / seconds,
                    p50_ms=percentile(ordered, 0.50) * 1e3,
                    p99_ms=percentile(ordered, 0.99) * 1e3,
                    mean_ms=sum(ordered) / len(ordered) * 1e3,
                    statements_per_request=statements / len(ordered),
                    server_cpu_ms=None if cpu is None else cpu / len(ordered) * 1e3,
                    errors=errors,
                )
            )
            progress(
                f"{operation.key}: {results[-1].requests_per_second:.0f} requests/s, "
                f"{seconds:.1f} s" + (f", errors: {errors}" if errors else "")
            )
    return results
