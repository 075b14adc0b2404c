"""MariaDB topologies started by the tests: GTID replication and a three-node Galera cluster.

Everything comes from Debian's packages (``mariadb-server``, which brings ``galera-4``;
``rsync``): servers of this run on spare loopback ports under
``/tmp/sqla_repo_topo_maria_<pid>_*`` (removed at the end; a killed run's leftovers are
killed and removed first), run as the OS user ``mysql`` when the tests run as root. Each
server reads only its own option file (``--defaults-file``, which the Galera SST scripts
read too), never ``/etc/mysql`` nor the machine's socket.

Accounts, the same on every server (made once in a template data directory copied for
each): ``root@localhost`` without a password over the server's socket (``sql()``),
``root@127.0.0.1`` with ``ROOT_PASSWORD`` over TCP (``admin_url()``), ``repl@127.0.0.1``.
Database ``app`` and the non-admin user ``app@%`` (``APP_PASSWORD``; ALL on ``app.*``, and
SLAVE MONITOR in the replication) are made on the primary / first Galera node and replicated.
Import the fixtures (``mariadb_replication``, ``galera`` and ``maria_workspace``) into a test
module; a test that breaks a topology calls its ``heal()`` afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.conftest import IN_CI, _pid_alive

MARIADBD = "/usr/sbin/mariadbd"
GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"
PREFIX = "sqla_repo_topo_maria_"
ROOT_PASSWORD = secrets.token_hex(8)
APP_PASSWORD = secrets.token_hex(8)
REPL_PASSWORD = secrets.token_hex(8)
START_TIMEOUT = 30.0
SQL_TIMEOUT = 30.0
_INNODB = {
    "innodb-buffer-pool-size": "32M",
    "innodb-log-file-size": "8M",
    "innodb-data-file-path": "ibdata1:10M:autoextend",
}
# Root runs the servers as ``mysql`` (the rsync SST daemon, started as root, would drop to
# ``nobody`` and could not write the joiner's data directory); anyone else as themselves.
SERVER_USER = "mysql" if os.geteuid() == 0 else ""
_ERROR = re.compile(r"ERROR (\d+) \(([0-9A-Z]+)\)(?: at line \d+)?: (.*)", re.S)


class TopologyError(RuntimeError):
    """A server or topology that did not start or did not reach the state awaited."""


class SqlError(Exception):
    """A statement the server refused: ``code`` is MariaDB's error number (1047, 1290...)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"({code}) {message}")
        self.code = code
        self.message = message


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: Callable[[], str]) -> None:
    """Poll ``check`` until true; past ``timeout`` seconds raise with ``log()``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except SqlError:
            pass
        if time.monotonic() > deadline:
            raise TopologyError(f"timed out after {timeout:.0f} s waiting for {what}\n{log()}")
        time.sleep(0.1)


def require_mariadb() -> None:
    """Skip (fail under ``CI=true``) when the MariaDB/Galera packages are not installed."""
    needed = [MARIADBD, GALERA_PROVIDER, "mariadb", "mariadb-install-db", "rsync"]
    if missing := [name for name in needed if not shutil.which(name) and not Path(name).exists()]:
        message = f"MariaDB topologies need {', '.join(missing)} (apt-get install mariadb-server)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def remove_leftovers() -> None:
    """Kill the processes of killed earlier runs (found by their directory in their command
    line) and remove their directories."""
    for old in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        match = re.match(rf"{PREFIX}(\d+)_", old.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if str(old).encode() in cmdline.read_bytes():
                    os.kill(int(cmdline.parent.name), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(old, ignore_errors=True)


class MariaServer:
    """One ``mariadbd`` of this run, stopped and started at will."""

    def __init__(
        self, name: str, directory: Path, port: int, template: Path, options: Mapping[str, str]
    ) -> None:
        self.name = name
        self.directory = directory
        self.port = port
        self.datadir = directory / "data"
        self.socket = directory / "mariadbd.sock"
        self.log = directory / "mariadbd.err"
        self.config = directory / "my.cnf"
        self._process: subprocess.Popen[bytes] | None = None
        directory.mkdir()
        shutil.copytree(template, self.datadir)
        _give(directory)
        settings = {**_INNODB, "user": SERVER_USER, **options}
        self.config.write_text(
            f"[mysqld]\ndatadir={self.datadir}\nsocket={self.socket}\nport={port}\n"
            f"pid-file={directory / 'mariadbd.pid'}\nlog-error={self.log}\n"
            "bind-address=127.0.0.1\nskip-name-resolve\ninnodb-flush-log-at-trx-commit=2\n"
            "performance-schema=OFF\nmax-connections=200\n"
            + "".join(f"{key}={value}\n" for key, value in settings.items() if value)
        )

    def __repr__(self) -> str:
        return f"MariaServer({self.name!r}, port={self.port})"

    def url(self, database: str = "app", user: str = "app") -> str:
        """``mysql+aiomysql://`` URL over TCP for ``app`` (or ``root``, with its password)."""
        password = ROOT_PASSWORD if user == "root" else APP_PASSWORD
        return f"mysql+aiomysql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def admin_url(self, database: str = "") -> str:
        """``root@127.0.0.1`` (password ``ROOT_PASSWORD``) over TCP."""
        return f"mysql+aiomysql://root:{ROOT_PASSWORD}@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *extra: str, timeout: float = START_TIMEOUT) -> None:
        """Start (``extra``: more command-line options) and wait until it answers."""
        if self.running:
            return
        with (self.directory / "stdout.log").open("ab") as out:
            self._process = subprocess.Popen(
                [MARIADBD, f"--defaults-file={self.config}", *extra],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def answers() -> bool:
            if not self.running:
                raise TopologyError(f"{self.name} exited at start\n{self.log_tail()}")
            return bool(self.sql("SELECT 1", timeout=5))

        wait_for(f"{self.name} to accept connections", answers, timeout, self.log_tail)

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        """Shut down cleanly (SIGTERM); SIGKILL past ``timeout``."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._process = None

    def kill(self) -> None:
        """SIGKILL: the server dies without shutting down."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(10)
            self._process = None

    def sql(
        self, statement: str, *, admin: bool = True, timeout: float = SQL_TIMEOUT
    ) -> list[tuple[str | None, ...]]:
        """Run statements with the ``mariadb`` client: as root over the socket, or
        (``admin=False``) as ``app`` over TCP in database ``app``. Rows as text tuples,
        NULL as None; a refused statement raises ``SqlError``."""
        return [tuple(row) for row in self._client(statement, admin, timeout, names=False)]

    def sql_dicts(
        self, statement: str, *, admin: bool = True, timeout: float = SQL_TIMEOUT
    ) -> list[dict[str, str | None]]:
        """Like ``sql``, rows as dicts by column name (``SHOW SLAVE STATUS``...)."""
        rows = self._client(statement, admin, timeout, names=True)
        return [dict(zip(map(str, rows[0]), row, strict=True)) for row in rows[1:]]

    def variable(self, name: str) -> str | None:
        """A global variable or status value, ``@@x`` or ``SHOW GLOBAL STATUS`` name."""
        if name.startswith("@@"):
            return self.sql(f"SELECT {name}")[0][0]
        rows = self.sql(f"SHOW GLOBAL STATUS LIKE '{name}'")
        return rows[0][1] if rows else None

    def _client(
        self, statement: str, admin: bool, timeout: float, names: bool
    ) -> list[list[str | None]]:
        if admin:
            who = [f"--socket={self.socket}", "--user=root"]
        else:
            who = ["--host=127.0.0.1", f"--port={self.port}", "--user=app", "--database=app"]
            who.append(f"--password={APP_PASSWORD}")
        command = ["mariadb", "--no-defaults", "--batch", "--connect-timeout=5", *who]
        if not names:
            command.append("--skip-column-names")
        try:
            done = subprocess.run(
                [*command, "-e", statement], capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as err:
            raise SqlError(0, f"client timed out after {timeout} s: {statement}") from err
        if done.returncode != 0:
            match = _ERROR.search(done.stderr)
            if match is None:
                raise SqlError(0, done.stderr.strip())
            raise SqlError(int(match.group(1)), match.group(3).strip())
        return [
            [None if value == "NULL" else value for value in line.split("\t")]
            for line in done.stdout.splitlines()
        ]

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)


class MariaWorkspace:
    """This run's directory: a template data directory and the servers made from it."""

    def __init__(self) -> None:
        remove_leftovers()
        self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}_"))
        _give(self.root)
        self.servers: list[MariaServer] = []
        self._ports: set[int] = set()
        self._template: Path | None = None

    def port(self, span: int = 1) -> int:
        """A free loopback port (with the ``span - 1`` following ones free too)."""
        for _ in range(100):
            ports = set(range(port := _free_port(0), port + span))
            if not ports & self._ports and all(_free_port(p) for p in ports):
                self._ports |= ports
                return port
        raise TopologyError("no free loopback ports")

    def server(self, name: str, options: Mapping[str, str]) -> MariaServer:
        server = MariaServer(name, self.root / name, self.port(), self.template(), options)
        self.servers.append(server)
        return server

    def template(self) -> Path:
        """An initialized data directory with the accounts (made once per run)."""
        if self._template is not None:
            return self._template
        template = self.root / "template"
        log = self.root / "install.log"
        innodb = [f"--{key}={value}" for key, value in _INNODB.items()]
        with log.open("ab") as out:
            install = ["mariadb-install-db", "--no-defaults", "--skip-test-db"]
            install.append("--auth-root-authentication-method=normal")
            bootstrap = [MARIADBD, "--no-defaults", "--bootstrap"]
            for command, script in ((install, None), (bootstrap, _ACCOUNTS)):
                user = [f"--user={SERVER_USER}"] if SERVER_USER else []
                done = subprocess.run(
                    [*command, *user, f"--datadir={template}", *innodb, f"--log-error={log}"],
                    input=script,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=120,
                    text=script is not None,
                    check=False,
                )
                if done.returncode != 0:
                    raise TopologyError(f"{command[0]} failed ({done.returncode})\n{_tail(log)}")
        self._template = template
        return template

    def close(self) -> None:
        for server in reversed(self.servers):
            try:
                server.stop(timeout=15)
            except Exception:
                server.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    return f"--- last {lines} lines of {log} ---\n" + "\n".join(text.splitlines()[-lines:])


def _give(path: Path) -> None:
    """Hand ``path`` (recursively) to the servers' OS user."""
    if SERVER_USER:
        for entry in [path, *path.rglob("*")]:
            shutil.chown(entry, SERVER_USER, SERVER_USER)


def _free_port(port: int) -> int:
    """``port`` (0: any) if free on 127.0.0.1, else 0."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
        return int(probe.getsockname()[1])


_ACCOUNTS = f"""
FLUSH PRIVILEGES;
DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'{socket.gethostname()}',
  ''@'localhost', ''@'{socket.gethostname()}';
CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '{ROOT_PASSWORD}';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '{REPL_PASSWORD}';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
"""

APP_SETUP = f"""
CREATE DATABASE app;
CREATE USER 'app'@'%' IDENTIFIED BY '{APP_PASSWORD}';
GRANT ALL PRIVILEGES ON app.* TO 'app'@'%';
"""


class MariaReplication:
    """A primary and a replica, GTID replication (``MASTER_USE_GTID=slave_pos``, strict)."""

    def __init__(self, workspace: MariaWorkspace) -> None:
        common = {"log-bin": "binlog", "binlog-format": "ROW", "gtid-strict-mode": "ON"}
        common["log-slave-updates"] = "ON"
        self.primary = workspace.server("primary", {**common, "server-id": "1"})
        self.replica = workspace.server(
            "replica", {**common, "server-id": "2", "read-only": "ON", "relay-log": "relay"}
        )

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        self.replica.sql(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.primary.port}, "
            f"MASTER_USER='repl', MASTER_PASSWORD='{REPL_PASSWORD}', "
            "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE"
        )
        # SLAVE MONITOR lets ``app`` run SHOW REPLICA STATUS on the replica.
        self.primary.sql(APP_SETUP + "GRANT SLAVE MONITOR ON *.* TO 'app'@'%';")
        self.wait_caught_up()

    def replica_status(self) -> dict[str, str | None]:
        """``SHOW SLAVE STATUS`` on the replica, as root."""
        rows = self.replica.sql_dicts("SHOW SLAVE STATUS")
        return rows[0] if rows else {}

    def stop_replica_sql(self) -> None:
        """Events keep arriving in the relay log but are not applied: deterministic lag."""
        self.replica.sql("STOP SLAVE SQL_THREAD")

    def start_replica_sql(self) -> None:
        self.replica.sql("START SLAVE SQL_THREAD")

    def wait_caught_up(self, timeout: float = START_TIMEOUT) -> str:
        """Wait until the replica has applied the primary's ``@@gtid_binlog_pos``; return it."""
        position = self.primary.variable("@@gtid_binlog_pos") or ""
        found = self.replica.sql(
            f"SELECT MASTER_GTID_WAIT('{position}', {timeout})", timeout=timeout + 10
        )
        if found[0][0] != "0":
            raise TopologyError(
                f"replica not at {position!r} after {timeout} s: {self.replica_status()}\n"
                + self.replica.log_tail()
            )
        return position

    def stop_replica_server(self) -> None:
        self.replica.stop()

    def start_replica_server(self) -> None:
        """Start the replica again; replication resumes by itself (no skip-slave-start)."""
        self.replica.start()

    def heal(self) -> None:
        """Back to the fixture's state: both up, replica applying and caught up."""
        self.primary.start()
        self.replica.start()
        self.replica.sql("START SLAVE")
        self.wait_caught_up()

    def stop(self) -> None:
        self.replica.stop()
        self.primary.stop()


class GaleraCluster:
    """Three Galera nodes on loopback: the first bootstraps, the others join by rsync SST."""

    def __init__(self, workspace: MariaWorkspace, size: int = 3) -> None:
        gcomm = [workspace.port(span=2) for _ in range(size)]  # port + 1: IST
        peers = ",".join(f"127.0.0.1:{port}" for port in gcomm)
        self.nodes: list[MariaServer] = []
        for index, port in enumerate(gcomm, start=1):
            provider = (
                f"base_host=127.0.0.1;base_port={port};gmcast.listen_addr=tcp://127.0.0.1:{port};"
                f"ist.recv_addr=127.0.0.1:{port + 1};gcache.size=16M;"
                "evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;"
                "evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S;evs.install_timeout=PT3S"
            )
            options = {
                "wsrep-on": "ON",
                "wsrep-provider": GALERA_PROVIDER,
                "wsrep-cluster-name": f"sqla_repo_{os.getpid()}",  # <= 32 chars
                "wsrep-cluster-address": f"gcomm://{peers}",
                "wsrep-provider-options": f'"{provider}"',
                "wsrep-node-name": f"node{index}",
                "wsrep-node-address": "127.0.0.1",
                "wsrep-sst-method": "rsync",
                "wsrep-sst-receive-address": f"127.0.0.1:{workspace.port()}",
                "binlog-format": "ROW",
                "default-storage-engine": "InnoDB",
                "innodb-autoinc-lock-mode": "2",
            }
            self.nodes.append(workspace.server(f"galera{index}", options))

    def start(self) -> None:
        first, *others = self.nodes
        first.start("--wsrep-new-cluster")
        self.wait_ready([first])
        for node in others:  # one at a time: together is no faster (one donor at a time)
            node.start(timeout=60)
            self.wait_ready([node])
        self.wait_size(len(self.nodes))
        first.sql(APP_SETUP)

    def wait_ready(self, nodes: list[MariaServer]) -> None:
        for node in nodes:
            _wait_status(node, {"wsrep_ready": "ON", "wsrep_local_state_comment": "Synced"})

    def wait_size(self, size: int, nodes: list[MariaServer] | None = None) -> None:
        """Wait until each of ``nodes`` (all) is in a Primary component of ``size`` nodes."""
        for node in nodes or self.nodes:
            _wait_status(node, {"wsrep_cluster_size": str(size), "wsrep_cluster_status": "Primary"})

    def isolate(self, node: MariaServer) -> None:
        """Cut ``node`` off the others: it loses quorum (non-Primary), they carry on."""
        node.sql("SET GLOBAL wsrep_provider_options='gmcast.isolate=1'")
        wait_for(
            f"{node.name}: non-Primary",
            lambda: node.variable("wsrep_cluster_status") != "Primary",
            START_TIMEOUT,
            node.log_tail,
        )
        self.wait_size(len(self.nodes) - 1, [other for other in self.nodes if other is not node])

    def rejoin(self, node: MariaServer) -> None:
        """Undo ``isolate``: wait until the cluster is whole and the node ready again."""
        node.sql("SET GLOBAL wsrep_provider_options='gmcast.isolate=0'")
        self.wait_size(len(self.nodes))
        self.wait_ready([node])

    def heal(self) -> None:
        """Back to the fixture's state: every node up, joined, ready."""
        for node in self.nodes:
            if not node.running:
                node.start(timeout=60)
            elif node.variable("wsrep_cluster_status") != "Primary":
                node.sql("SET GLOBAL wsrep_provider_options='gmcast.isolate=0'")
        self.wait_size(len(self.nodes))
        self.wait_ready(self.nodes)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()


def _wait_status(node: MariaServer, expected: Mapping[str, str]) -> None:
    def reached() -> bool:
        return all(node.variable(name) == value for name, value in expected.items())

    wait_for(f"{node.name}: {expected}", reached, START_TIMEOUT, node.log_tail)


@pytest.fixture(scope="session")
def maria_workspace() -> Iterator[MariaWorkspace]:
    require_mariadb()
    workspace = MariaWorkspace()
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.fixture(scope="session")
def mariadb_replication(maria_workspace: MariaWorkspace) -> Iterator[MariaReplication]:
    topology = MariaReplication(maria_workspace)
    try:
        topology.start()
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="session")
def galera(maria_workspace: MariaWorkspace) -> Iterator[GaleraCluster]:
    cluster = GaleraCluster(maria_workspace)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
