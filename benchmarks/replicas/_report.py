"""The machine, the results as one Markdown table with its method, and as JSON."""

from __future__ import annotations

from typing import Any

from benchmarks.crud._report import machine as crud_machine

from ._load import SERVERS, TASKS, Result


def machine() -> dict[str, str]:
    """The CRUD benchmark's description, without the libraries this one does not use."""
    found = crud_machine()
    for package in ("advanced-alchemy", "aiomysql", "aiosqlite", "sqlite library"):
        found.pop(package, None)
    return found


def _label(result: Result) -> str:
    return result.scenario if result.routing == "-" else f"{result.scenario} ({result.routing})"


def _baseline_ratio(results: list[Result]) -> tuple[float, float] | None:
    """(primary-session p50 ms, A's read-session p50 ms)."""
    base = next((r for r in results if r.routing == "-"), None)
    caught = next((r for r in results if r.scenario.startswith("A")), None)
    return None if base is None or caught is None else (base.quantile(0.5), caught.quantile(0.5))


def header(found: dict[str, str], context: dict[str, Any], sessions: int, quick: bool) -> str:
    described = ", ".join(f"{name} {version}" for name, version in found.items())
    title = "# Replica benchmark" + (" (quick run)" if quick else "")
    others = context["other jobs"]
    noise = (
        "The machine is shared and noisy (client, three PostgreSQL servers and the WAL "
        "streaming share its cores; 1-minute load average at the start: "
        f"{context['load average (1 min) at start']:.2f})"
    )
    if others:
        noise += f"; **a CI run of the project (`{others[0]}`) was running at the same time**"
    noise += ": compare rows, and trust shares and ratios more than absolute numbers."
    noise += f" The whole run, topology start included, took {context['seconds']:.0f} s."
    method = (
        "A `Cluster` over the PostgreSQL topology of the replica tests "
        "(`tests/topology_pg.py`: a primary and two streaming hot standbys, on loopback) with "
        "the asyncpg driver; each engine's pool holds 20 connections (pre-ping on). Table "
        "`bench_items`: 10,000 rows, created on the primary, replayed by both standbys before "
        f"the first scenario. {TASKS} concurrent asyncio tasks; each scenario runs untimed "
        f"warm-up sessions, then {sessions:,} timed ones; *sessions/s*: timed sessions over "
        "their wall time; p50/p99: the latency of one session (nearest rank), from entering "
        "it to leaving it, one primary-key `session.get` inside. A read session's latency "
        "includes the router's choice: a probe of a replica (a pool checkout and one "
        "statement), then the session's own checkout. **baseline**: the same lookups in "
        "plain sessions of `cluster.sessionmaker()` (primary). **A**: `cluster.read_session()` "
        "with both standbys caught up. **B**: each task UPDATEs its own row in "
        "`unit_of_work(cluster.sessionmaker())`, then reads it back in a `read_session()`; "
        "sessions/s counts the read sessions, whose wall time also holds the writes. "
        "**C**: B with standby 1's replay paused (`pg_wal_replay_pause()`) from the first "
        "timed write on. *wait*: `RoutingConfig.wait`, how long a read session may wait for "
        "a standby to replay its position before it reads from the primary. Per-server "
        "shares: a `before_cursor_execute` listener on each engine (whose events fire for "
        "the read-only views read sessions run on) counts the read sessions' SELECTs on "
        "`bench_items` (one per session). *stale reads*: lookups that returned another value "
        "than the last one committed for the row (must be 0)."
    )
    lines = [title, f"Machine: {described}.", method, noise]
    ratio = _baseline_ratio(_results_of(context))
    if ratio is not None:
        primary, read = ratio
        lines.append(
            f"Routing cost: p50 of a read session {read:.2f} ms against {primary:.2f} ms for "
            f"a primary session: x{read / primary:.2f}."
        )
    return "\n\n".join(lines)


def _results_of(context: dict[str, Any]) -> list[Result]:
    found: list[Result] = context.get("results", [])
    return found


def table(results: list[Result]) -> str:
    head = (
        "| scenario | sessions/s | p50 ms | p99 ms | primary % | standby 1 % | standby 2 % "
        "| stale reads |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for result in results:
        shares = " | ".join(f"{result.share(server):.1f}" for server in SERVERS)
        rows.append(
            f"| {_label(result)} | {result.rate:,.0f} | {result.quantile(0.5):.2f} | "
            f"{result.quantile(0.99):.2f} | {shares} | {result.stale} |"
        )
    notes = []
    for result in results:
        counted = sum(result.served.values())
        if counted != result.sessions:
            notes.append(f"{_label(result)}: {counted} lookups counted for {result.sessions}.")
        if result.write_latencies:
            notes.append(
                f"{_label(result)}: the writes (UPDATE, COMMIT, position read) took p50 "
                f"{result.quantile(0.5, True):.2f} ms, p99 {result.quantile(0.99, True):.2f} ms."
            )
    return "\n".join(rows) + ("\n\n" + "\n".join(f"- {n}" for n in notes) if notes else "")


def as_json(
    found: dict[str, str],
    context: dict[str, Any],
    sizes: dict[str, int],
    quick: bool,
    results: list[Result],
) -> dict[str, Any]:
    ratio = _baseline_ratio(results)
    return {
        "machine": found,
        "quick": quick,
        "tasks": TASKS,
        "sizes": sizes,
        "load_average_at_start": context["load average (1 min) at start"],
        "other_jobs": context["other jobs"],
        "seconds": round(context["seconds"], 1),
        "read_over_primary_p50": None if ratio is None else round(ratio[1] / ratio[0], 3),
        "scenarios": [
            {
                "scenario": result.scenario,
                "routing": result.routing,
                "sessions": result.sessions,
                "seconds": round(result.seconds, 3),
                "sessions_per_second": round(result.rate, 1),
                "p50_ms": round(result.quantile(0.5), 3),
                "p99_ms": round(result.quantile(0.99), 3),
                "served": result.served,
                "share_percent": {s: round(result.share(s), 2) for s in SERVERS},
                "stale_reads": result.stale,
                "write_p50_ms": (
                    round(result.quantile(0.5, True), 3) if result.write_latencies else None
                ),
                "write_p99_ms": (
                    round(result.quantile(0.99, True), 3) if result.write_latencies else None
                ),
            }
            for result in results
        ],
    }
