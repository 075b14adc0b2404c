"""The ``sqla-repo demo`` walk-through, on every backend and as a user starts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from sqla_repo._cli import main

STEPS = ["create", "get", "list", "update", "conflict", "delete"]
SECRET = "s3cr3t-Pa55word"


def _steps(output: str) -> list[str]:
    return [line.split(":", 1)[0] for line in output.splitlines()]


def test_demo_walks_through_every_step_repeatably(
    db_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    url = db_url.render_as_string(hide_password=False)
    for _ in range(2):  # the same database twice: leftovers never break a rerun
        assert main(["demo", "--url", url]) == 0
        out = capsys.readouterr().out
        assert _steps(out) == STEPS
        lines = dict(line.split(": ", 1) for line in out.splitlines())
        assert "Ada Lovelace" in lines["create"]
        assert "Ada King" in lines["update"]
        assert lines["conflict"].startswith("ConflictError")
        assert "uq_users_email" in lines["conflict"]
        assert lines["delete"].endswith("returns None")


def test_module_runs_the_demo_on_embedded_sqlite(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sqla_repo", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _steps(result.stdout) == STEPS
    assert list(tmp_path.iterdir()) == []  # embedded in memory: no file left behind


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("sqla-repo")
    result = subprocess.run(
        [os.fspath(script), "demo"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert _steps(result.stdout) == STEPS


def test_bad_url_is_a_usage_error_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["demo", "--url", f"postgresql+psycopg2://app:{SECRET}@db/app"])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "postgresql+asyncpg" in err
    assert SECRET not in err


def test_unreachable_server_fails_cleanly_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--url", f"postgresql+asyncpg://app:{SECRET}@127.0.0.1:1/app"]) == 1
    captured = capsys.readouterr()
    assert "DatabaseUnavailableError" in captured.err
    assert "Traceback" not in captured.err
    assert SECRET not in captured.out + captured.err
