"""The README's Python examples run, so the README cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import mypy.api
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(source: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(source, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    paths = []
    for index, source in enumerate(BLOCKS):
        path = tmp_path / f"readme_example_{index}.py"
        path.write_text(source, encoding="utf-8")
        paths.append(str(path))
    config = README.parent / "mypy.ini"
    stdout, stderr, status = mypy.api.run(
        ["--config-file", str(config), "--strict", "--cache-dir", str(tmp_path / "cache"), *paths]
    )
    assert status == 0, stdout + stderr
