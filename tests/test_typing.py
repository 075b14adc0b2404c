"""Typing tests: what ``mypy --strict`` accepts and rejects, as users see it.

- ``typing/client_ok.py`` is a client module that pins every public result with
  ``assert_type``: mypy must report nothing, and its walk-through must run on every backend.
- ``typing/misuse_repository.py`` holds misuses, one a line, each marked ``# E: <code>``:
  mypy must report exactly those codes on those lines and nothing anywhere else.
- pyright, in strict mode (the ``# pyright: strict`` comment the client module opens
  with), must report nothing on the client module either: users' IDEs run it.

mypy runs once, on both files, for the whole module.
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

import mypy.api
import pytest
from sqlalchemy.engine import URL

from tests.typing import client_ok

ROOT = Path(__file__).resolve().parent.parent
TYPING = ROOT / "tests" / "typing"
CLIENT = TYPING / "client_ok.py"
MISUSE = TYPING / "misuse_repository.py"

MARKER = re.compile(r"#\s*E:")
"""Starts an expectation comment; what follows must match ``EXPECTATION``."""
EXPECTATION = re.compile(r"#\s*E:\s*(?P<codes>[a-z][a-z0-9-]*(?:\s*,\s*[a-z][a-z0-9-]*)*)\s*")
CLIENT_IMPORTS = frozenset({"sqla_repo", "sqlalchemy", "typing_extensions"})
PYRIGHT_STRICT = "# pyright: strict"


@dataclass(frozen=True)
class Diagnostic:
    """One error mypy reported."""

    path: Path
    line: int
    code: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}: {self.message}  [{self.code}]"


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
    """mypy's errors on both typing files (and anything they import), by file."""
    by_file: dict[Path, list[Diagnostic]] = defaultdict(list)
    for diagnostic in run_mypy(CLIENT, MISUSE, cache_dir=tmp_path_factory.mktemp("mypy-cache")):
        by_file[diagnostic.path].append(diagnostic)
    return dict(by_file)


def test_client_module_type_checks(mypy_errors: dict[Path, list[Diagnostic]]) -> None:
    errors = mypy_errors.get(CLIENT, [])
    assert not errors, "\n".join(map(str, errors))


def test_client_module_passes_pyright_strict(tmp_path: Path) -> None:
    """pyright on a copy of the client module outside the source tree, so that
    ``sqla_repo`` resolves as an application's does: through this environment."""
    first_line = CLIENT.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == PYRIGHT_STRICT, f"client_ok.py must start with {PYRIGHT_STRICT!r}"
    client = tmp_path / CLIENT.name
    shutil.copyfile(CLIENT, client)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYRIGHT_PYTHON")}
    env["PYRIGHT_PYTHON_IGNORE_WARNINGS"] = "1"  # no look-up of newer releases
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyright",
            "--pythonpath",
            sys.executable,
            "--outputjson",
            str(client),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"pyright exited with {completed.returncode}: {completed.stdout}{completed.stderr}"
        )
    diagnostics = [
        f"{CLIENT.name}:{d['range']['start']['line'] + 1}: {d['severity']}: {d['message']}"
        f"  [{d.get('rule', '')}]"
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]
    assert not diagnostics, "\n".join(diagnostics)
    assert report["summary"]["filesAnalyzed"] == 1
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_no_errors_outside_the_typing_files(mypy_errors: dict[Path, list[Diagnostic]]) -> None:
    elsewhere = [
        str(d) for path, found in mypy_errors.items() if path not in (CLIENT, MISUSE) for d in found
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


def test_client_imports_only_what_an_application_has() -> None:
    """The client module is also checked outside the repository, against the wheel."""
    tree = ast.parse(CLIENT.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in the client module"
            assert node.module is not None
            modules.add(node.module)
    roots = {module.partition(".")[0] for module in modules}
    foreign = roots - CLIENT_IMPORTS - sys.stdlib_module_names - {"__future__"}
    assert not foreign, f"client_ok.py imports {sorted(foreign)}"
    assert "sqla_repo" in roots


async def test_client_walk_through(db_url: URL) -> None:
    await client_ok.walk_through(db_url.render_as_string(hide_password=False))
