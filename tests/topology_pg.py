"""PostgreSQL topologies started by the tests themselves: a primary with streaming standbys,
a failover pair, and PgBouncer in transaction mode.

Every server runs as the OS user ``postgres`` (when the tests run as root) from a temporary
folder ``/tmp/sqla_repo_topo_pg_*`` on spare loopback ports; the machine's own servers are
never touched (sockets live in the temporary folder). Every wait is bounded; a server that
cannot start raises :class:`TopologyError` with the tail of its log. Folders left by a killed
run (its pid, in ``owner.pid``, is gone) are cleaned up, their processes ended, first.

Fixtures (``pytest_plugins = ("tests.topology_pg",)`` makes them visible):

- ``pg_topology`` (session): :class:`PgTopology`, a primary and two caught-up standbys;
- ``pg_failover_pair`` (function): a fresh primary + one standby, for tests that break it;
- ``pgbouncer`` (session): :class:`PgBouncer` in front of ``pg_topology.primary``.

Locally a missing binary skips; under ``CI=true`` it fails. PYTEST_DONT_REWRITE: the
module holds no asserts, and this marker lets a test module both import it and name it
in ``pytest_plugins`` without pytest's "already imported" warning.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_BIN = Path(os.environ.get("SQLA_REPO_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PREFIX = "sqla_repo_topo_pg_"
TIMEOUT = 30.0
"""The bound of every wait, in seconds."""

_SERVER_CONF = """
# sqla_repo topology tests: speed over durability
fsync = off
full_page_writes = off
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
listen_addresses = '127.0.0.1'
shared_buffers = 32MB
max_connections = 100
"""
_HBA = """
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""


class TopologyError(RuntimeError):
    """A server that did not start, stop or answer in time; the message ends with its log."""


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Processes run as ``postgres`` when the tests run as root (initdb refuses root).
_ROOT = os.geteuid() == 0
_USER = "postgres" if _ROOT else None
_AS_USER: dict[str, Any] = {"user": _USER, "group": _USER, "extra_groups": [] if _ROOT else None}


def _env(home: Path) -> dict[str, str]:
    path = os.environ.get("PATH", "/usr/bin:/bin")
    return {"PATH": f"{PG_BIN}:{path}", "HOME": str(home), "LC_ALL": "C.UTF-8", "TZ": "UTC"}


def _run(args: list[str], cwd: Path, timeout: float = TIMEOUT) -> str:
    """Run a command as ``postgres``; its stdout, or TopologyError with its output.

    It runs in a process group of its own, killed whole on timeout (pg_basebackup forks).
    """
    options = {"cwd": cwd, "env": _env(cwd), "stdin": subprocess.DEVNULL, **_AS_USER}
    pipe = subprocess.PIPE
    with subprocess.Popen(args, stdout=pipe, stderr=pipe, start_new_session=True, **options) as run:
        try:
            out, err = run.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            out, err = run.communicate()
            raise TopologyError(f"{args[0]} took over {timeout}s: {err.decode()}") from None
    if run.returncode != 0:
        raise TopologyError(f"{' '.join(args)} failed ({run.returncode}):\n{err.decode()}")
    return str(out.decode())


def _psql(root: Path, port: int, database: str, statement: str) -> str:
    """One statement through ``psql`` on 127.0.0.1; its unaligned output."""
    psql = [str(PG_BIN / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres"]
    target = ["-h", "127.0.0.1", "-p", str(port), "-d", database, "-c", statement]
    return _run([*psql, *target], root).strip()


def _wait(check: Callable[[], bool], what: str, log: Callable[[], str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(TopologyError):
            if check():
                return
        if time.monotonic() > deadline:
            raise TopologyError(f"{what} not within {timeout}s; log tail:\n{log()}")
        time.sleep(0.05)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as err:
        return f"(no log: {err})"


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _processes_in(folder: str) -> list[tuple[int, str]]:
    """The pids and programs of the processes naming ``folder`` in their command line."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if any(folder in part for part in cmdline):
                found.append((int(proc.name), os.path.basename(cmdline[0])))
    return found


def reap_stale() -> None:
    """End the processes of, and remove, folders whose owning test run is gone."""
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        try:
            owner = int(Path(folder, "owner.pid").read_text())
        except (OSError, ValueError):
            owner = 0  # being created, or half removed: judge by age
            if time.time() - os.path.getmtime(folder) < 60:
                continue
        if owner and _pid_alive(owner):
            continue
        deadline = time.monotonic() + 10
        while (processes := _processes_in(folder)) and time.monotonic() < deadline:
            for pid, program in processes:  # SIGQUIT: a postmaster's immediate shutdown
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGQUIT if program == "postgres" else signal.SIGKILL)
            time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)


def make_root() -> Path:
    """A fresh temporary folder owned by ``postgres``, marked with this run's pid."""
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    (root / "owner.pid").write_text(str(os.getpid()))
    if _ROOT:
        shutil.chown(root, "postgres", "postgres")
    return root


class PgServer:
    """One PostgreSQL server (primary or standby) in ``root/name``."""

    def __init__(self, root: Path, name: str, port: int | None = None) -> None:
        self.root = root
        self.name = name
        self.port = port if port is not None else free_port()
        self.data_dir = root / name
        self.log_file = root / f"{name}.log"

    def __repr__(self) -> str:
        return f"PgServer({self.name!r}, port={self.port})"

    def url(self, database: str = "app", driver: str = "asyncpg") -> str:
        """``postgresql+DRIVER://postgres@127.0.0.1:PORT/DATABASE``."""
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> str:
        data, log = str(self.data_dir), str(self.log_file)
        return _run([str(PG_BIN / "pg_ctl"), "-D", data, "-l", log, *args], self.root)

    def configure(self) -> None:
        """Append this server's settings to its ``postgresql.conf`` (later lines win)."""
        settings = f"{_SERVER_CONF}port = {self.port}\nunix_socket_directories = '{self.root}'\n"
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(settings)

    def start(self) -> None:
        """Start and wait (bounded) until it accepts connections.

        A port taken since it was picked (by some client's ephemeral port) is picked anew.
        """
        for attempt in range(3):
            try:
                self._pg_ctl("-w", "-t", str(int(TIMEOUT)), "start")
                break
            except TopologyError as err:
                if attempt == 2 or "could not create any TCP/IP" not in self.log_tail(5):
                    message = f"{self.name} did not start: {err}\n{self.log_tail()}"
                    raise TopologyError(message) from err
                self.port = free_port()
                self.configure()
        self.until("SELECT 1", "1", "up", database="postgres")

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """Stop (``immediate`` is a crash: no shutdown checkpoint)."""
        if self.running:
            self._pg_ctl("-m", mode, "-w", "-t", str(int(TIMEOUT)), "stop")

    def promote(self) -> None:
        """Promote this standby and wait until it is out of recovery."""
        self._pg_ctl("-w", "-t", str(int(TIMEOUT)), "promote")
        self.until("SELECT pg_is_in_recovery()", "f", "promoted")

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        pid = self.pid
        return pid is not None and _pid_alive(pid)

    def sql(self, statement: str, database: str = "app") -> str:
        """Run one statement through ``psql`` as ``postgres``; its unaligned output."""
        return _psql(self.root, self.port, database, statement)

    def until(
        self,
        statement: str,
        expected: str,
        what: str,
        timeout: float = TIMEOUT,
        database: str = "app",
    ) -> None:
        """Poll ``statement`` until it returns ``expected``; TopologyError after ``timeout``."""
        check = lambda: self.sql(statement, database) == expected  # noqa: E731
        _wait(check, f"{self.name} {what}", self.log_tail, timeout)

    def log_tail(self, lines: int = 40) -> str:
        return f"--- {self.log_file} ---\n{_tail(self.log_file, lines)}"


class PgTopology:
    """A primary and its streaming standbys (each with a physical slot), in one folder.

    The database ``app`` exists on all of them.
    """

    def __init__(self, standbys: int = 2) -> None:
        self.root = make_root()
        self.primary = PgServer(self.root, "primary")
        self.standbys: tuple[PgServer, ...] = ()
        self.timings: dict[str, float] = {}
        try:
            self._start(standbys)
        except BaseException:
            self.close()
            raise

    def _start(self, count: int) -> None:
        began = time.monotonic()
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.primary.data_dir), "-U", "postgres"]
        _run([*initdb, "-A", "trust", "-E", "UTF8", "--locale=C", "-N"], self.root, 60)
        (self.primary.data_dir / "pg_hba.conf").write_text(_HBA)
        self.primary.configure()
        self.timings["initdb"] = time.monotonic() - began
        self.primary.start()
        self.primary.sql("CREATE DATABASE app", "postgres")
        standbys = [PgServer(self.root, f"standby{number}") for number in range(1, count + 1)]
        for standby in standbys:  # reserving WAL now: a backup's checkpoint may else recycle
            # the segment the other backup streams from ("requested WAL segment ... removed")
            self.primary.sql(f"SELECT pg_create_physical_replication_slot('{standby.name}', true)")
        with ThreadPoolExecutor(max(count, 1)) as pool:  # the copies run side by side
            for done in [pool.submit(self._base_backup, standby) for standby in standbys]:
                done.result()
        self.standbys = tuple(standbys)
        for standby in self.standbys:
            standby.start()
        for standby in self.standbys:
            self.wait_caught_up(standby)
        self.timings["total"] = time.monotonic() - began

    def _base_backup(self, standby: PgServer) -> None:
        """``pg_basebackup -R`` into the standby's folder, streaming WAL through its slot."""
        backup = [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port)]
        target = ["-U", "postgres", "-D", str(standby.data_dir), "-R", "-S", standby.name]
        _run([*backup, *target, "-X", "stream", "-c", "fast", "-N", "--no-manifest"], self.root, 60)
        standby.configure()

    @property
    def servers(self) -> tuple[PgServer, ...]:
        return (self.primary, *self.standbys)

    def pause_replay(self, standby: PgServer) -> None:
        """Stop replaying WAL (it is still received): a deterministic lag."""
        standby.sql("SELECT pg_wal_replay_pause()")
        standby.until("SELECT pg_get_wal_replay_pause_state()", "paused", "paused")

    def resume_replay(self, standby: PgServer) -> None:
        standby.sql("SELECT pg_wal_replay_resume()")

    def hold_back(self, standby: PgServer, seconds: float) -> None:
        """Apply each commit only ``seconds`` after the primary made it
        (``recovery_min_apply_delay``)."""
        milliseconds = round(seconds * 1000)
        standby.sql(f"ALTER SYSTEM SET recovery_min_apply_delay = '{milliseconds}ms'")
        self._reload(standby, milliseconds)

    def release(self, standby: PgServer) -> None:
        """Undo :meth:`hold_back`."""
        standby.sql("ALTER SYSTEM RESET recovery_min_apply_delay")
        self._reload(standby, 0)

    def _reload(self, standby: PgServer, milliseconds: int) -> None:
        standby.sql("SELECT pg_reload_conf()")
        setting = "SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'"
        standby.until(setting, str(milliseconds), "reloaded")

    def wait_caught_up(self, standby: PgServer, timeout: float = TIMEOUT) -> None:
        """Wait until the standby replayed everything the primary wrote until now."""
        target = self.primary.sql("SELECT pg_current_wal_lsn()")
        query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
        standby.until(query, "t", f"replayed up to {target}", timeout)

    def close(self) -> None:
        """Stop every server and remove the folder; never raises."""
        for server in reversed(self.servers):
            with contextlib.suppress(Exception):
                server.stop("immediate")
            pid = server.pid
            if pid is not None and _pid_alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def multi_host_url(
    servers: Iterable[PgServer], database: str = "app", driver: str = "asyncpg"
) -> str:
    """``postgresql+asyncpg://postgres@/app?host=127.0.0.1:P1&host=127.0.0.1:P2
    &target_session_attrs=read-write``: connects to whichever server accepts writes.

    SQLAlchemy (2.0.18+) turns repeated ``host=HOST:PORT`` query parameters into asyncpg's
    host/port lists and passes ``target_session_attrs`` on; the same form works with
    ``driver="psycopg"`` (libpq's multi-host conninfo).
    """
    hosts = "&".join(f"host=127.0.0.1:{server.port}" for server in servers)
    return f"postgresql+{driver}://postgres@/{database}?{hosts}&target_session_attrs=read-write"


class PgBouncer:
    """PgBouncer (``pool_mode = transaction``) in front of one server, as ``postgres``."""

    def __init__(self, server: PgServer, binary: str) -> None:
        self.server = server
        self.root = make_root()
        self.port = free_port()
        self.log_file = self.root / "pgbouncer.log"
        self.process: subprocess.Popen[bytes] | None = None
        ini = self.root / "pgbouncer.ini"
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        target = f"host=127.0.0.1 port={server.port}"
        ini.write_text(
            f"[databases]\napp = {target} dbname=app\n* = {target}\n\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir = {self.root}\n"
            f"auth_type = trust\nauth_file = {self.root / 'userlist.txt'}\n"
            "pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 20\n"
            "ignore_startup_parameters = extra_float_digits\nadmin_users = postgres\n"
            f"logfile = {self.log_file}\npidfile = {self.root / 'pgbouncer.pid'}\n"
        )
        for path in self.root.iterdir() if _ROOT else ():
            shutil.chown(path, "postgres", "postgres")
        try:
            with open(self.root / "stderr.log", "wb") as err:
                options = {"cwd": self.root, "env": _env(self.root), **_AS_USER}
                command = [binary, "-q", str(ini)]
                self.process = subprocess.Popen(command, stdout=err, stderr=err, **options)
            _wait(self._ready, "pgbouncer up", self.log_tail, TIMEOUT)
        except BaseException:
            self.close()
            raise

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise TopologyError(f"pgbouncer exited ({self.process.returncode}):\n{self.log_tail()}")
        return _psql(self.root, self.port, "app", "SELECT 1") == "1"

    def url(self, driver: str = "asyncpg", database: str = "app") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, command: str) -> str:
        """A command (``SHOW POOLS``...) on PgBouncer's admin console."""
        return _psql(self.root, self.port, "pgbouncer", command)

    def log_tail(self, lines: int = 40) -> str:
        stderr = _tail(self.root / "stderr.log", lines)
        return f"--- {self.log_file} ---\n{_tail(self.log_file, lines)}\n--- stderr ---\n{stderr}"

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(message: str) -> NoReturn:
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _require_postgres() -> None:
    for tool in ("initdb", "pg_ctl", "pg_basebackup", "psql", "postgres"):
        if not (PG_BIN / tool).exists():
            _unavailable(f"{PG_BIN / tool} missing (set SQLA_REPO_TEST_PG_BIN)")


_reaped: list[bool] = []


def _topology(standbys: int) -> PgTopology:
    _require_postgres()
    if not _reaped:
        reap_stale()
        _reaped.append(True)
    try:
        return PgTopology(standbys)
    except TopologyError as err:
        pytest.fail(f"PostgreSQL topology did not start: {err}", pytrace=False)


@pytest.fixture(scope="session")
def pg_topology() -> Iterator[PgTopology]:
    """A primary and two standbys, caught up; shared by the session: leave them working."""
    topology = _topology(2)
    try:
        yield topology
    finally:
        topology.close()


@pytest.fixture
def pg_failover_pair() -> Iterator[PgTopology]:
    """A fresh primary and one standby (``standbys[0]``) for a test that may break them."""
    topology = _topology(1)
    try:
        yield topology
    finally:
        topology.close()


@pytest.fixture(scope="session")
def pgbouncer(pg_topology: PgTopology) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of ``pg_topology.primary``."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(binary):
        _unavailable("pgbouncer missing: run tests/topology-deps.sh")
    try:
        bouncer = PgBouncer(pg_topology.primary, binary)
    except TopologyError as err:
        pytest.fail(f"PgBouncer did not start: {err}", pytrace=False)
    try:
        yield bouncer
    finally:
        bouncer.close()
