"""The app in a uvicorn process of its own (one worker), as it is deployed."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import time
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from . import STATEMENTS_PATH

ROOT = Path(__file__).resolve().parents[2]
APP = "benchmarks.realworld._server:app"
START_SECONDS = 120.0
"""How long the server may take to start, its migrations included."""
STOP_SECONDS = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of the process so far (Linux's /proc; else ``None``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


async def _stop(process: Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()


async def _wait_ready(process: Process, base: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as client:
        while True:
            if process.returncode is not None:
                raise RuntimeError(
                    f"the server exited with status {process.returncode}:\n{_tail(log)}"
                )
            try:
                response = await client.get(STATEMENTS_PATH)
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server did not answer within {START_SECONDS:.0f} s:\n{_tail(log)}"
                )
            await asyncio.sleep(0.1)


@asynccontextmanager
async def serve(database_url: str, jwt_secret: str) -> AsyncIterator[tuple[str, int]]:
    """Start uvicorn on a free port; once it answers, yield its base URL and process id;
    stop it on exit.

    Its output (warnings and errors only) goes to a file, shown when it fails.
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "CONDUIT_JWT_SECRET": jwt_secret}
    arguments = ["--host", "127.0.0.1", "--port", str(port)]
    arguments += ["--no-access-log", "--log-level", "warning"]
    with tempfile.TemporaryDirectory(prefix="bench_realworld_server_") as directory:
        log = Path(directory) / "server.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "uvicorn",
                APP,
                *arguments,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                await _wait_ready(process, base, log)
                yield base, process.pid
                if process.returncode is not None:
                    raise RuntimeError(f"the server died during the run:\n{_tail(log)}")
            finally:
                await _stop(process)
