"""The machine's description, and the results as Markdown and JSON."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ._harness import (
    ADVANCED,
    BASELINE,
    CONTENDERS,
    CORE,
    RAW,
    REPO,
    REPO_COUNT,
    REPO_MIXINS,
    OperationResult,
    Ratio,
)
from ._models import Sizes


@dataclass
class BackendResult:
    backend: str
    url: str
    server_version: str
    driver: str
    sizes: Sizes
    seed_seconds: float
    operations: list[OperationResult]


def machine() -> dict[str, str]:
    """CPU, Python and library versions: what the numbers were measured on."""
    model, processors = "unknown", 0
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name" and model == "unknown":
                model = value.strip()
            processors += name.strip() == "processor"
    found = {
        "cpu": f"{model} x {processors or os.cpu_count()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite library": sqlite3.sqlite_version,
    }
    for package in ("sqla-repo", "SQLAlchemy", "advanced-alchemy", "asyncpg", "aiomysql"):
        found[package] = _version(package)
    found["aiosqlite"] = _version("aiosqlite")
    return found


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def duration(seconds: float) -> str:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.0f} KiB"


def ratio(found: Ratio | None) -> str:
    if found is None:
        return ""
    return f"{found.median:.2f} ({found.low:.2f}-{found.high:.2f})"


def statements(count: float) -> str:
    if count == 0:
        return "0*"  # the COPY of create_many(returning=False): past the cursor
    return f"{count:g}" if count == int(count) else f"{count:.1f}"


def header(found: dict[str, str], quick: bool) -> str:
    shown = ", ".join(f"{name} {version}" for name, version in found.items() if name != "cpu")
    lines = [
        "# CRUD benchmark" + (" (--quick: smoke sizes, timings mean nothing)" if quick else ""),
        "",
        f"Machine: {found['cpu']}; {shown}.",
        "",
        "Each cell is the median of per-round ratios to the hand-written ORM (min-max), "
        "measured in interleaved rounds (contender order shuffled per round, after an "
        "untimed warm-up) in one process; below 1 is faster than the ORM. The ORM column "
        "gives its median time per call (per row for the stream). Every contender's "
        "results are checked equal. The engine is EngineFactory's, with "
        "PoolConfig(pre_ping=False) so that a checkout costs no round trip, as with the "
        "drivers' own pools. *statements*: statements sent per call, in the order "
        "raw / Core / ORM / repo / repo rf / repo+mixins / AA, counted by a before_cursor_execute "
        "listener (every executemany batch counted; BEGIN where SQLAlchemy sends it as "
        "a statement, as on SQLite) and, for the raw drivers, as the calls made "
        "(an executemany or a COPY is one); 0*: nothing the listener sees, as a COPY sent "
        "through the driver connection. *repo rf*: create_many(returning=False); "
        "*AA*: advanced-alchemy's SQLAlchemyAsyncRepository with its defaults. "
        "*repo+mixins* (sqla_repo + mixins): the sqla_repo calls on a model with the same "
        "columns plus BigIntPrimaryKeyMixin (its BIGINT key), TimestampMixin and "
        "SoftDeleteMixin, in tables of its own (bench_crud_*_m, seeded alike, every row "
        "live); its results are checked equal to the others' on the shared columns of its "
        "live rows, and its writes' timestamps and marks are checked too. It sends what "
        "sqla_repo sends: the timestamps are Python-side values bound into the same "
        "statements, reads add `deleted_at IS NULL` to their WHERE, and its delete is a "
        "soft delete, one UPDATE setting deleted_at instead of the DELETE. "
        "*mixins / sqla_repo*: its time over plain sqla_repo's.",
    ]
    return "\n".join(lines)


def markdown(result: BackendResult) -> str:
    sizes = result.sizes
    lines = [
        f"## {result.backend} {result.server_version} ({result.driver}, `{result.url}`)",
        "",
        f"{sizes.rounds} rounds ({sizes.bulk_rounds} for the 10,000-row writes, "
        f"{sizes.stream_rounds} for the stream) after a warm-up; seeding took "
        f"{result.seed_seconds:.1f} s.",
        "",
        "| operation | ORM time | raw driver | Core | sqla_repo | sqla_repo (returning=False) "
        "| sqla_repo + mixins | advanced-alchemy | sqla_repo / raw | sqla_repo / Core "
        "| mixins / sqla_repo | statements |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for operation in result.operations:
        cells = [operation.title]
        baseline = operation.contenders.get(BASELINE)
        cells.append(f"{duration(baseline.seconds)}/{operation.unit}" if baseline else "")
        for name in (RAW, CORE, REPO, REPO_COUNT, REPO_MIXINS, ADVANCED):
            if name in operation.missing:
                cells.append("n/a")
            else:
                cells.append(ratio(operation.ratios.get(f"{name} / {BASELINE}")))
        for against in (RAW, CORE):
            shown = ratio(operation.ratios.get(f"{REPO} / {against}"))
            counted = ratio(operation.ratios.get(f"{REPO_COUNT} / {against}"))
            if counted:
                shown += f"<br>returning=False: {counted}"
            cells.append(shown)
        cells.append(ratio(operation.ratios.get(f"{REPO_MIXINS} / {REPO}")))
        cells.append(
            " / ".join(
                statements(operation.contenders[name].statements)
                if name in operation.contenders
                else "-"
                for name in CONTENDERS
            )
        )
        lines.append("| " + " | ".join(cells) + " |")
    memory = [
        f"{name} {size(found.peak_bytes)}"
        for operation in result.operations
        for name, found in operation.contenders.items()
        if found.peak_bytes is not None
    ]
    if memory:
        lines += [
            "",
            f"Stream, peak traced Python memory over its first {sizes.traced_rows:,} rows "
            "(the warm-up pass; tracing slows every allocation): " + ", ".join(memory) + ".",
        ]
    missing = {
        f"{name}: {why}"
        for operation in result.operations
        for name, why in operation.missing.items()
    }
    if missing:
        lines += ["", "n/a (no such method): " + "; ".join(sorted(missing)) + "."]
    return "\n".join(lines)


def calls(results: list[BackendResult]) -> str:
    """What every contender calls, per operation (the same on every backend)."""
    if not results:
        return ""
    lines = [
        "## What each contender calls",
        "",
        "| operation | contender | call |",
        "|---|---|---|",
    ]
    for operation in results[0].operations:
        for name in CONTENDERS:
            if name in operation.contenders:
                how = operation.contenders[name].how.replace("|", "\\|")
                lines.append(f"| {operation.title} | {name} | `{how}` |")
    return "\n".join(lines)


def as_json(found: dict[str, str], quick: bool, results: list[BackendResult]) -> dict[str, Any]:
    return {
        "machine": found,
        "quick": quick,
        "baseline": BASELINE,
        "backends": [asdict(result) for result in results],
    }
