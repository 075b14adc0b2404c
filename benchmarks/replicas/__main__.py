"""Replica benchmark: read sessions of a ``Cluster`` over a primary and two hot standbys.

    python -m benchmarks.replicas [--quick] [--markdown PATH] [--json PATH]

Starts the PostgreSQL topology of the replica tests (``tests/topology_pg.py``: a primary
and two streaming hot standbys from the Debian binaries, in a temporary folder, as the OS
user ``postgres``), creates ``bench_items`` (10,000 rows) on the primary, waits for both
standbys, then times, with 20 concurrent tasks, primary-key lookups in plain primary
sessions (the baseline), in read sessions with the standbys caught up (A), in read
sessions each following an UPDATE of the task's own row (B, read your writes) and the
same with standby 1's replay paused (C). It prints one Markdown table: sessions/s, p50
and p99 latency, the share of read sessions each server served and the stale reads.
``--quick``: 200 sessions per scenario, a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.topology_pg import PgTopology

from sqla_repo import EngineFactory, PoolConfig, RoutingConfig

from ._load import TASKS, Bench, Result, Step, create_items, run
from ._report import as_json, header, machine, table


@dataclass(frozen=True)
class Sizes:
    rows: int
    sessions: int
    warmup: int


FULL = Sizes(rows=10_000, sessions=2_000, warmup=200)
QUICK = Sizes(rows=10_000, sessions=200, warmup=40)
WAIT = 0.2
"""``RoutingConfig.wait`` of the second read-your-writes row and of the paused scenario."""


def busy() -> list[str]:
    """The other jobs that share the machine: a CI run (``.ci/run``) of the project."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if int(proc.name) != os.getpid() and any(part.endswith(".ci/run") for part in cmdline):
            found.append(" ".join(cmdline).strip())
    return sorted(set(found))


async def scenarios(
    topology: PgTopology, sizes: Sizes, progress: Callable[[str], None]
) -> list[Result]:
    def cluster(wait: float) -> Bench:
        made = EngineFactory(
            topology.primary.url(),
            replicas=[standby.url() for standby in topology.standbys],
            routing=RoutingConfig(wait=wait),
            pool=PoolConfig(size=TASKS),
        ).create_cluster()
        return Bench(made, sizes.rows, expected)

    async def caught_up() -> None:
        for standby in topology.standbys:
            await asyncio.to_thread(topology.wait_caught_up, standby)

    expected: dict[int, int] = {}
    results: list[Result] = []

    async def timed(bench: Bench, step: Step, scenario: str, routing: str) -> None:
        progress(f"{scenario} ({routing})")
        found = await run(
            bench,
            step,
            scenario=scenario,
            routing=routing,
            sessions=sizes.sessions,
            warmup=sizes.warmup,
            read_sessions=step != bench.primary_lookup,
        )
        results.append(found)

    bench = cluster(0.0)
    try:
        progress(f"creating bench_items ({sizes.rows:,} rows)")
        await create_items(bench.cluster.primary, sizes.rows)
        await bench.touch()  # a position for read sessions to cover
        await caught_up()
        await timed(bench, bench.primary_lookup, "baseline: primary sessions", "-")
        await timed(bench, bench.read_lookup, "A caught up", "wait=0")
        await timed(bench, bench.write_then_read, "B read your writes", "wait=0")
    finally:
        await bench.cluster.dispose()
    await caught_up()
    bench = cluster(WAIT)
    try:
        await timed(bench, bench.write_then_read, "B read your writes", f"wait={WAIT}")
        await asyncio.to_thread(topology.pause_replay, topology.standbys[0])
        await timed(bench, bench.write_then_read, "C standby 1 paused", f"wait={WAIT}")
        await asyncio.to_thread(topology.resume_replay, topology.standbys[0])
    finally:
        await bench.cluster.dispose()
    return results


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    description = __doc__.split("\n\n")[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas", description=description)
    parser.add_argument("--quick", action="store_true", help="smoke sizes: runs and prints")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the table here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    sizes = QUICK if args.quick else FULL

    def progress(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    found, others, load = machine(), busy(), os.getloadavg()[0]
    started = time.perf_counter()
    progress("starting the topology: a primary and two standbys")
    topology = PgTopology(2)
    try:
        progress(f"topology up in {topology.timings.get('total', 0.0):.1f} s")
        results = asyncio.run(scenarios(topology, sizes, progress))
    finally:
        topology.close()
    seconds = time.perf_counter() - started
    others = sorted({*others, *busy()})
    context = {
        "load average (1 min) at start": load,
        "other jobs": others,
        "seconds": seconds,
        "results": results,
    }
    parts = [header(found, context, sizes.sessions, args.quick), table(results)]
    print("\n\n".join(parts), flush=True)
    progress(f"done in {seconds:.0f} s")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n\n".join(parts) + "\n")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = as_json(found, context, sizes.__dict__, args.quick, results)
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
