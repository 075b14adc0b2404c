"""``sqla-repo init-migrations``: an Alembic set-up whose ``env.py`` is ``run_migrations()``.

Writes files only; Alembic itself (the ``alembic`` extra) is needed to run them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from string import Template

DEFAULT_DIRECTORY = "migrations"
_PROG = "sqla-repo init-migrations"
_TEMPLATES = files("sqla_repo").joinpath("_templates", "alembic")


def init_migrations(directory: str = DEFAULT_DIRECTORY, *, root: Path | None = None) -> int:
    """Write ``alembic.ini`` in ``root`` (default: the working directory) and ``directory``.

    ``directory`` (relative to ``root``) gets ``env.py`` (``run_migrations(Base.metadata)``),
    ``script.py.mako`` and ``versions/<rev>_create_users.py``, the first revision, creating
    ``users`` as :class:`sqla_repo.User` declares it. ``alembic.ini`` sets
    ``script_location = %(here)s/<directory>`` and no ``sqlalchemy.url``.

    Returns the exit status: 0 after writing, with one line on stdout; 1 with nothing
    written and one line on stderr if ``alembic.ini`` exists, ``directory`` exists and
    is not an empty directory, or a file cannot be written.
    """
    base = Path.cwd() if root is None else root
    ini = base / "alembic.ini"
    target = base / directory
    shown = directory.rstrip("/" + os.sep) or directory
    if ini.exists() or ini.is_symlink():
        return _refuse(f"{ini.name} already exists")
    if target.is_dir():
        if any(target.iterdir()):
            return _refuse(f"{shown} is not empty")
    elif target.exists() or target.is_symlink():
        return _refuse(f"{shown} exists and is not a directory")

    revision = uuid.uuid4().hex[-12:]
    version_file = f"{revision}_create_users.py"
    contents = {
        ini: _render("alembic.ini.tmpl", script_location=_script_location(base, target)),
        target / "env.py": _render("env.py.tmpl"),
        target / "script.py.mako": _render("script.py.mako"),
        target / "versions" / version_file: _render(
            "create_users.py.tmpl",
            revision=revision,
            create_date=str(datetime.now()),
        ),
    }
    made: list[Path] = []  # files and folders, in the order they were made
    try:
        for path, text in contents.items():
            missing = [folder for folder in path.parents if not folder.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
            with path.open("x", encoding="utf-8", newline="\n") as out:
                made.append(path)
                out.write(text)
    except OSError as err:
        _undo(made)
        return _refuse(f"cannot write {err.filename or 'a file'}: {err.strerror or err}")

    print(
        f"{_PROG}: wrote {ini.name} and {shown}/ (env.py, script.py.mako, "
        f"versions/{version_file}); next: DATABASE_URL=... alembic upgrade head"
        + ("" if _alembic_installed() else " (first: pip install 'sqla-repo[alembic]')")
    )
    return 0


def _refuse(reason: str) -> int:
    print(f"{_PROG}: {reason}; nothing written", file=sys.stderr)
    return 1


def _render(name: str, **values: str) -> str:
    text = _TEMPLATES.joinpath(name).read_text(encoding="utf-8")
    return Template(text).substitute(values) if values else text


def _script_location(base: Path, target: Path) -> str:
    """The directory as ``script_location`` after ``%(here)s/``, escaped for configparser."""
    location = os.path.relpath(target.absolute(), base.absolute())
    return Path(location).as_posix().replace("%", "%%")


def _undo(made: list[Path]) -> None:
    for path in reversed(made):
        try:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
        except OSError:
            continue  # best effort: the first error is the one reported


def _alembic_installed() -> bool:
    return importlib.util.find_spec("alembic") is not None
