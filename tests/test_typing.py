"""Typing tests: what ``mypy --strict``, pyright and basedpyright accept and reject, as
users see it.

- ``typing/client_ok.py`` (the core package) and ``typing/client_integrations.py``
  (``sqla_repo.fastapi``, ``sqla_repo.alembic``) are client modules that pin every public
  result with ``assert_type``: mypy must report nothing, and their walk-throughs must run
  on every backend.
- ``typing/misuse_repository.py`` holds misuses, one a line, each marked ``# E: <code>``:
  mypy must report exactly those codes on those lines and nothing anywhere else.
- pyright and basedpyright, in strict mode (the ``# pyright: strict`` comment the client
  modules open with), must report nothing on the client modules: users' IDEs run them.
- basedpyright in strict mode must reject every marked misuse with a rule matching its
  mypy code (``BASEDPYRIGHT_RULES``) and report nothing on the unmarked lines.
- ``basedpyright --verifytypes`` must find every symbol of the public modules fully typed.

mypy runs once on the three files, basedpyright once, for the whole module.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mypy.api
import pytest
from sqlalchemy.engine import URL

import sqla_repo
from tests.typing import client_integrations, client_ok

ROOT = Path(__file__).resolve().parent.parent
TYPING = ROOT / "tests" / "typing"
CLIENT = TYPING / "client_ok.py"
INTEGRATIONS = TYPING / "client_integrations.py"
CLIENTS = (CLIENT, INTEGRATIONS)
MISUSE = TYPING / "misuse_repository.py"

MARKER = re.compile(r"#\s*E:")
"""Starts an expectation comment; what follows must match ``EXPECTATION``."""
EXPECTATION = re.compile(r"#\s*E:\s*(?P<codes>[a-z][a-z0-9-]*(?:\s*,\s*[a-z][a-z0-9-]*)*)\s*")
CLIENT_IMPORTS = frozenset({"sqla_repo", "sqlalchemy", "pydantic", "typing_extensions"})
"""What an application that installed sqla-repo without extras can import."""
INTEGRATIONS_IMPORTS = CLIENT_IMPORTS | {"fastapi", "starlette", "alembic", "httpx"}
"""With the ``fastapi`` and ``alembic`` extras, and httpx to send requests."""
PYRIGHT_STRICT = "# pyright: strict"

BASEDPYRIGHT_RULES: dict[str, frozenset[str]] = {
    "arg-type": frozenset(
        # pyright infers a call's type variables from the declared target first, so an
        # argument that contradicts the target is reported on the assignment
        {"reportArgumentType", "reportAssignmentType"}
    ),
    "assignment": frozenset(
        # a wrong value for a mapped attribute breaks its descriptor's __set__
        {"reportAssignmentType", "reportAttributeAccessIssue"}
    ),
    "attr-defined": frozenset(
        # a missing __iter__/__enter__/__aenter__ is a protocol error to pyright
        {"reportAttributeAccessIssue", "reportGeneralTypeIssues"}
    ),
    "call-arg": frozenset({"reportCallIssue"}),
    "call-overload": frozenset(
        # pyright names the argument that no overload accepts when it is one argument
        {"reportCallIssue", "reportArgumentType"}
    ),
    "dict-item": frozenset({"reportArgumentType", "reportCallIssue"}),
    # pyright has no rule for using the result of a call that returns None; each such
    # line also carries the error that the use itself is (an assignment)
    "func-returns-value": frozenset(),
    "index": frozenset({"reportIndexIssue"}),
    "list-item": frozenset({"reportArgumentType"}),
    "misc": frozenset({"reportGeneralTypeIssues"}),  # await of a non-awaitable
    "truthy-bool": frozenset({"reportUnnecessaryComparison"}),  # a coroutine as condition
    "type-arg": frozenset({"reportInvalidTypeArguments"}),
    "type-var": frozenset({"reportArgumentType"}),
    "union-attr": frozenset({"reportOptionalMemberAccess"}),
    "unused-coroutine": frozenset({"reportUnusedCoroutine"}),
}
"""mypy error code -> the basedpyright rules that report the same misuse.

On a marked line basedpyright must report, for each code with rules, an error under one
of them; it may also report what the misuse makes unknown (``reportUnknown*`` rules),
and nothing else."""
CONSEQUENCE_RULE = "reportUnknown"
"""Prefix of the rules whose errors follow from another error on the same line."""
PUBLIC_MODULES = frozenset(
    {"sqla_repo", "sqla_repo.alembic", "sqla_repo.fastapi", "sqla_repo.testing"}
)
"""Modules ``--verifytypes`` must find in the package and check."""


@dataclass(frozen=True)
class Diagnostic:
    """One error mypy or basedpyright reported (``code``: mypy's code or pyright's rule)."""

    path: Path
    line: int
    code: str | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}: {self.severity}: {self.message}  [{self.code}]"


def expected_codes(path: Path) -> dict[int, list[str]]:
    """Line number -> the sorted error codes its ``# E: code[, code]`` comment names."""
    expected: dict[int, list[str]] = {}
    with path.open("rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type != tokenize.COMMENT or not MARKER.match(token.string):
                continue
            match = EXPECTATION.fullmatch(token.string)
            if match is None:
                raise ValueError(f"{path.name}:{token.start[0]}: malformed marker {token.string!r}")
            codes = [code.strip() for code in match["codes"].split(",")]
            expected[token.start[0]] = sorted(codes)
    return expected


MISUSES = expected_codes(MISUSE)


def run_mypy(*paths: Path, cache_dir: Path) -> list[Diagnostic]:
    """Run mypy with the project's configuration and ``--strict``; return its errors."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # mypy_path in mypy.ini is relative to the working directory
        stdout, stderr, status = mypy.api.run(
            [
                "--config-file",
                str(ROOT / "mypy.ini"),
                "--strict",
                "--cache-dir",
                str(cache_dir),
                "--output",
                "json",
                *(str(path) for path in paths),
            ]
        )
        diagnostics = []
        for line in stdout.splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if record["severity"] != "error":
                continue
            diagnostics.append(
                Diagnostic(
                    Path(record["file"]).resolve(),
                    record["line"],
                    record["code"],
                    record["message"],
                )
            )
    # 0: clean, 1: errors found; anything else is a crash or a usage error.
    assert status in (0, 1), f"mypy exited with {status}: {stderr}{stdout}"
    assert status == (1 if diagnostics else 0), stdout + stderr
    return diagnostics


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, list[Diagnostic]]:
    """mypy's errors on the typing files (and anything they import), by file."""
    by_file: dict[Path, list[Diagnostic]] = defaultdict(list)
    cache_dir = tmp_path_factory.mktemp("mypy-cache")
    for diagnostic in run_mypy(*CLIENTS, MISUSE, cache_dir=cache_dir):
        by_file[diagnostic.path].append(diagnostic)
    return dict(by_file)


def checker_environment() -> dict[str, str]:
    """The environment for pyright and basedpyright: this interpreter's environment first on
    ``PATH`` (``--verifytypes`` finds packages through the ``python`` it finds there)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYRIGHT_PYTHON")}
    env["PYRIGHT_PYTHON_IGNORE_WARNINGS"] = "1"  # no look-up of newer releases
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = sys.prefix
    return env


def run_json_checker(arguments: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``python -m pyright`` or ``python -m basedpyright`` with ``--outputjson``."""
    completed = subprocess.run(
        [sys.executable, "-m", *arguments, "--outputjson"],
        cwd=cwd,
        env=checker_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"{arguments[0]} exited with {completed.returncode}: "
            f"{completed.stdout}{completed.stderr}"
        )
    # 0: clean, 1: errors found; anything else is a crash or a usage error.
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr
    report["returncode"] = completed.returncode
    return report


@pytest.fixture(scope="module")
def basedpyright_diagnostics(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, list[Diagnostic]]:
    """basedpyright's errors and warnings on copies of the typing files, by file name.

    Strict mode from a configuration file (the misuse file has no ``# pyright: strict``
    comment), outside the source tree so that ``sqla_repo`` resolves as an application's
    does: through this environment.
    """
    work = tmp_path_factory.mktemp("basedpyright")
    for path in (*CLIENTS, MISUSE):
        shutil.copyfile(path, work / path.name)
    (work / "pyrightconfig.json").write_text(
        json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.11"}), encoding="utf-8"
    )
    report = run_json_checker(
        [
            "basedpyright",
            "--pythonpath",
            sys.executable,
            *(path.name for path in (*CLIENTS, MISUSE)),
        ],
        work,
    )
    assert report["summary"]["filesAnalyzed"] == 3, report["summary"]
    by_file: dict[str, list[Diagnostic]] = defaultdict(list)
    for d in report["generalDiagnostics"]:
        if d["severity"] not in ("error", "warning"):
            continue
        path = Path(d["file"])
        by_file[path.name].append(
            Diagnostic(
                path,
                d["range"]["start"]["line"] + 1,
                d.get("rule"),
                d["message"],
                d["severity"],
            )
        )
    return dict(by_file)


@pytest.mark.parametrize("client", CLIENTS, ids=[path.stem for path in CLIENTS])
def test_client_module_type_checks(mypy_errors: dict[Path, list[Diagnostic]], client: Path) -> None:
    errors = mypy_errors.get(client, [])
    assert not errors, "\n".join(map(str, errors))


@pytest.mark.parametrize("client", CLIENTS, ids=[path.stem for path in CLIENTS])
def test_client_module_passes_basedpyright_strict(
    basedpyright_diagnostics: dict[str, list[Diagnostic]], client: Path
) -> None:
    found = basedpyright_diagnostics.get(client.name, [])
    assert not found, "\n".join(map(str, found))


@pytest.mark.parametrize("client", CLIENTS, ids=[path.stem for path in CLIENTS])
def test_client_module_passes_pyright_strict(tmp_path: Path, client: Path) -> None:
    """pyright on a copy of the client module outside the source tree, so that
    ``sqla_repo`` resolves as an application's does: through this environment."""
    first_line = client.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == PYRIGHT_STRICT, f"{client.name} must start with {PYRIGHT_STRICT!r}"
    copy = tmp_path / client.name
    shutil.copyfile(client, copy)
    report = run_json_checker(["pyright", "--pythonpath", sys.executable, str(copy)], tmp_path)
    diagnostics = [
        f"{client.name}:{d['range']['start']['line'] + 1}: {d['severity']}: {d['message']}"
        f"  [{d.get('rule', '')}]"
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]
    assert not diagnostics, "\n".join(diagnostics)
    assert report["summary"]["filesAnalyzed"] == 1
    assert report["returncode"] == 0


def test_no_errors_outside_the_typing_files(mypy_errors: dict[Path, list[Diagnostic]]) -> None:
    elsewhere = [
        str(d)
        for path, found in mypy_errors.items()
        if path not in (*CLIENTS, MISUSE)
        for d in found
    ]
    assert not elsewhere, "\n".join(elsewhere)


def test_misuse_file_keeps_its_misuses() -> None:
    """An emptied misuse file would otherwise pass: no markers, no errors."""
    assert len(MISUSES) >= 40
    lines = MISUSE.read_text(encoding="utf-8").splitlines()
    bare = [line for line in MISUSES if lines[line - 1].lstrip().startswith("#")]
    assert not bare, f"markers on lines without code: {bare}"


@pytest.mark.parametrize(
    ("line", "codes"),
    sorted(MISUSES.items()),
    ids=[f"line{line}-{'+'.join(codes)}" for line, codes in sorted(MISUSES.items())],
)
def test_misuse_is_rejected(
    mypy_errors: dict[Path, list[Diagnostic]], line: int, codes: list[str]
) -> None:
    source = MISUSE.read_text(encoding="utf-8").splitlines()[line - 1].strip()
    found = [d for d in mypy_errors.get(MISUSE, []) if d.line == line]
    assert sorted(str(d.code) for d in found) == codes, (
        f"{MISUSE.name}:{line}: {source}\n"
        f"expected {codes}, mypy reported: {[str(d) for d in found] or 'nothing'}"
    )


def test_no_unexpected_misuse_errors(mypy_errors: dict[Path, list[Diagnostic]]) -> None:
    unexpected = [str(d) for d in mypy_errors.get(MISUSE, []) if d.line not in MISUSES]
    assert not unexpected, "\n".join(unexpected)


@pytest.mark.parametrize(
    ("client", "allowed"),
    [(CLIENT, CLIENT_IMPORTS), (INTEGRATIONS, INTEGRATIONS_IMPORTS)],
    ids=[path.stem for path in CLIENTS],
)
def test_client_imports_only_what_an_application_has(client: Path, allowed: frozenset[str]) -> None:
    """The client modules are also checked outside the repository, against the wheel."""
    tree = ast.parse(client.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in the client module"
            assert node.module is not None
            modules.add(node.module)
    roots = {module.partition(".")[0] for module in modules}
    foreign = roots - allowed - sys.stdlib_module_names - {"__future__"}
    assert not foreign, f"{client.name} imports {sorted(foreign)}"
    assert "sqla_repo" in roots


async def test_client_walk_through(db_url: URL) -> None:
    await client_ok.walk_through(db_url.render_as_string(hide_password=False))


async def test_integrations_walk_through(db_url: URL) -> None:
    await client_integrations.walk_through(db_url.render_as_string(hide_password=False))


def test_every_misuse_code_has_basedpyright_rules() -> None:
    """A new kind of misuse needs its basedpyright counterpart written down first."""
    codes = {code for found in MISUSES.values() for code in found}
    assert codes <= BASEDPYRIGHT_RULES.keys(), sorted(codes - BASEDPYRIGHT_RULES.keys())


@pytest.mark.parametrize(
    ("line", "codes"),
    sorted(MISUSES.items()),
    ids=[f"line{line}-{'+'.join(codes)}" for line, codes in sorted(MISUSES.items())],
)
def test_misuse_is_rejected_by_basedpyright(
    basedpyright_diagnostics: dict[str, list[Diagnostic]], line: int, codes: list[str]
) -> None:
    source = MISUSE.read_text(encoding="utf-8").splitlines()[line - 1].strip()
    found = [d for d in basedpyright_diagnostics.get(MISUSE.name, []) if d.line == line]
    shown = f"{MISUSE.name}:{line}: {source}\nbasedpyright: {[str(d) for d in found] or 'nothing'}"
    assert all(d.severity == "error" for d in found), shown
    rejected = {str(d.code) for d in found if not str(d.code).startswith(CONSEQUENCE_RULE)}
    assert rejected, shown  # the misuse itself, not only what it makes unknown
    for code in codes:
        rules = BASEDPYRIGHT_RULES[code]
        assert not rules or rejected & rules, f"{code}: expected one of {sorted(rules)}\n{shown}"
    accepted = set().union(*(BASEDPYRIGHT_RULES[code] for code in codes))
    assert rejected <= accepted, f"unexpected {sorted(rejected - accepted)}\n{shown}"


def test_no_unexpected_basedpyright_errors(
    basedpyright_diagnostics: dict[str, list[Diagnostic]],
) -> None:
    unexpected = [
        str(d) for d in basedpyright_diagnostics.get(MISUSE.name, []) if d.line not in MISUSES
    ]
    assert not unexpected, "\n".join(unexpected)


def test_public_modules_are_completely_typed(tmp_path: Path) -> None:
    """``basedpyright --verifytypes``: every symbol of the public modules has a known type.

    ``--ignoreexternal``: the types that SQLAlchemy, pydantic, FastAPI and Alembic leave
    partly unknown inside their own packages are theirs to complete, not this package's.
    The package is the one this environment imports (an editable install resolves to the
    source tree through its ``.pth`` file, a wheel to site-packages).
    """
    report = run_json_checker(
        ["basedpyright", "--verifytypes", "sqla_repo", "--ignoreexternal"], tmp_path
    )
    completeness = report["typeCompleteness"]
    assert Path(completeness["packageRootDirectory"]) == Path(sqla_repo.__file__).parent
    assert completeness["pyTypedPath"], "no py.typed found"
    modules = {module["name"] for module in completeness["modules"]}
    assert modules >= PUBLIC_MODULES, sorted(PUBLIC_MODULES - modules)
    problems = [
        f"{symbol['name']}: {diagnostic['message']}"
        for symbol in completeness["symbols"]
        for diagnostic in symbol.get("diagnostics", [])
        if diagnostic["severity"] == "error"
    ]
    for counts in ("exportedSymbolCounts", "otherSymbolCounts"):
        assert completeness[counts]["withUnknownType"] == 0, "\n".join(problems)
        assert completeness[counts]["withAmbiguousType"] == 0, "\n".join(problems)
    assert completeness["completenessScore"] == 1, "\n".join(problems)
    assert not problems, "\n".join(problems)
    assert report["returncode"] == 0
