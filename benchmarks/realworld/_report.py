"""The machine, the results as one Markdown table, and as JSON."""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.crud._report import machine as crud_machine

from ._load import OperationResult
from ._seed import Sizes


@dataclass
class BackendResult:
    backend: str
    url: str
    server_version: str
    seed_seconds: float
    operations: list[OperationResult]


def machine() -> dict[str, str]:
    """The CRUD benchmark's description, with the web stack instead of advanced-alchemy."""
    found = crud_machine()
    found.pop("advanced-alchemy", None)
    for package in ("fastapi", "starlette", "uvicorn", "httpx", "uvloop", "httptools"):
        found[package] = _version(package)
    return found


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def header(found: dict[str, str], sizes: Sizes, quick: bool) -> str:
    shown = ", ".join(f"{name} {version}" for name, version in found.items() if name != "cpu")
    return "\n".join(
        [
            "# RealWorld benchmark"
            + (" (--quick: smoke sizes, timings mean nothing)" if quick else ""),
            "",
            f"Machine: {found['cpu']}; {shown}.",
            "",
            "The Conduit example (`examples/realworld`) served as deployed: one uvicorn "
            "worker (`--no-access-log`), its default pool (5 + 10 overflow, pre-ping), in a "
            "process of its own; the load comes from "
            f"{sizes.clients} concurrent clients (asyncio tasks sharing one httpx client "
            f"with {sizes.clients} keep-alive connections) on the same machine, so client, "
            "server and database share its cores. "
            f"Data: {sizes.articles:,} articles by {sizes.authors} authors, "
            f"{sizes.tags_per_article} tags each (of {sizes.tags}), "
            f"{sizes.favorites_per_article} favorites each; the reader follows "
            f"{sizes.followed} authors (a feed of about "
            f"{sizes.articles * sizes.followed // sizes.authors:,} articles). "
            f"Each operation: {sizes.warmup} untimed requests, then {sizes.requests:,} timed "
            "ones; *requests/s*: timed requests over their wall time; p50/p99: per-request "
            "latency seen by the client (nearest rank). Every request carries a token; "
            "*one article* cycles through the slugs; *favorite* favorites, as one of the "
            "100 authors, an article that user has not favorited: every request inserts a "
            "row. *statements/request*: statements the server's engine sent during the "
            "timed requests (a `before_cursor_execute` listener, added by "
            "`benchmarks/realworld/_server.py`), over the requests: COMMIT and the pool's "
            "pre-ping are not counted; SQLite's BEGIN is, where SQLAlchemy sends it. "
            "*server CPU ms/request*: the uvicorn process's CPU time (user + system, from "
            "/proc: the app, the driver, SQLite itself; not PostgreSQL's processes) over "
            "the timed requests, less sensitive than wall time to what else the machine runs. "
            "The machine is shared and noisy: compare rows, and trust ratios more "
            "than absolute numbers.",
        ]
    )


def _statements(count: float) -> str:
    return f"{count:g}" if abs(count - round(count)) < 0.005 else f"{count:.2f}"


def _milliseconds(found: float | None) -> str:
    return "" if found is None else f"{found:.1f}"


def table(results: list[BackendResult]) -> str:
    lines = [
        "| backend | operation | requests/s | p50 ms | p99 ms | statements/request "
        "| server CPU ms/request |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for found in result.operations:
            lines.append(
                f"| {result.backend} | {found.title} | {found.requests_per_second:,.0f} "
                f"| {found.p50_ms:.1f} | {found.p99_ms:.1f} "
                f"| {_statements(found.statements_per_request)} "
                f"| {_milliseconds(found.server_cpu_ms)} |"
            )
    failed = [
        f"{result.backend} {found.operation}: "
        + ", ".join(f"{count} x `{answer}`" for answer, count in found.errors.items())
        for result in results
        for found in result.operations
        if found.errors
    ]
    if failed:
        lines += [
            "",
            "Errors among the timed requests (counted in the row: they took their time too): "
            + "; ".join(failed)
            + ".",
        ]
    return "\n".join(lines)


def backends(results: list[BackendResult]) -> str:
    shown = [
        f"{result.backend} {result.server_version} (`{result.url}`; seeding took "
        f"{result.seed_seconds:.1f} s)"
        for result in results
    ]
    return "Backends: " + "; ".join(shown) + "."


def as_json(
    found: dict[str, str], sizes: Sizes, quick: bool, results: list[BackendResult]
) -> dict[str, Any]:
    return {
        "machine": found,
        "quick": quick,
        "sizes": asdict(sizes),
        "backends": [asdict(result) for result in results],
    }
