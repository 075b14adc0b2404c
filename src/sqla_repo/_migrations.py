"""``sqla-repo init-migrations``: an Alembic set-up whose ``env.py`` is ``run_migrations()``.

By default ``env.py`` migrates sqla_repo's own ``Base.metadata`` and a first revision creates
``users``. With ``--metadata MODULE:ATTR`` (the ``metadata`` keyword) ``env.py`` imports the
application's ``MetaData`` (or declarative base) instead and ``versions/`` starts empty, for
``alembic revision --autogenerate``; the spec is checked by importing it first.

Writes files only; Alembic itself (the ``alembic`` extra) is needed to run them.
"""

from __future__ import annotations

import importlib
import importlib.util
import keyword
import os
import sys
import uuid
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from string import Template
from types import ModuleType
from typing import NamedTuple

from sqlalchemy import MetaData

DEFAULT_DIRECTORY = "migrations"
_PROG = "sqla-repo init-migrations"
_TEMPLATES = files("sqla_repo").joinpath("_templates", "alembic")


def init_migrations(
    directory: str = DEFAULT_DIRECTORY, *, root: Path | None = None, metadata: str | None = None
) -> int:
    """Write ``alembic.ini`` in ``root`` (default: the working directory) and ``directory``.

    ``directory`` (relative to ``root``) gets ``env.py`` (``run_migrations(Base.metadata)``),
    ``script.py.mako`` and ``versions/<rev>_create_users.py``, the first revision, creating
    ``users`` as :class:`sqla_repo.User` declares it. ``alembic.ini`` sets
    ``script_location = %(here)s/<directory>`` and no ``sqlalchemy.url``.

    ``metadata``, ``"MODULE:ATTR"`` (e.g. ``"myapp.models:Base"`` or
    ``"myapp.models:Base.metadata"``), names the application's tables instead: ``ATTR`` is a
    dotted attribute path whose value is a :class:`~sqlalchemy.MetaData` or has one as
    ``.metadata`` (a declarative base). ``env.py`` then reads ``from MODULE import NAME`` (the
    first name of ``ATTR``) and ``run_migrations(ATTR)``, ``.metadata`` added for a declarative
    base, and ``versions/`` is left empty for ``alembic revision --autogenerate``. Before
    writing, ``MODULE`` is imported with ``root`` first on ``sys.path`` (as
    ``prepend_sys_path = .`` does for ``alembic`` run there) and ``ATTR`` resolved.

    Returns the exit status: 0 after writing, with one line on stdout; 1 with nothing
    written and one line on stderr if ``metadata`` is malformed, does not import or is not
    a ``MetaData``, ``alembic.ini`` exists, ``directory`` exists and is not an empty
    directory, or a file cannot be written.
    """
    base = Path.cwd() if root is None else root
    ini = base / "alembic.ini"
    target = base / directory
    shown = directory.rstrip("/" + os.sep) or directory
    spec = None if metadata is None else _parse_spec(metadata)
    if metadata is not None and spec is None:
        return _refuse(
            f"--metadata {metadata!r} is not MODULE:ATTR with dotted Python names "
            "(e.g. myapp.models:Base)"
        )
    if ini.exists() or ini.is_symlink():
        return _refuse(f"{ini.name} already exists")
    if target.is_dir():
        if any(target.iterdir()):
            return _refuse(f"{shown} is not empty")
    elif target.exists() or target.is_symlink():
        return _refuse(f"{shown} exists and is not a directory")

    contents: dict[Path, str | None] = {  # None: an empty folder
        ini: _render("alembic.ini.tmpl", script_location=_script_location(base, target)),
    }
    if spec is None:
        revision = uuid.uuid4().hex[-12:]
        version_file = f"{revision}_create_users.py"
        contents[target / "env.py"] = _render("env.py.tmpl")
        contents[target / "script.py.mako"] = _render("script.py.mako")
        contents[target / "versions" / version_file] = _render(
            "create_users.py.tmpl",
            revision=revision,
            create_date=str(datetime.now()),
        )
        wrote = f"env.py, script.py.mako, versions/{version_file}"
        next_step = "DATABASE_URL=... alembic upgrade head"
    else:
        resolved = _resolve(spec, base)
        if isinstance(resolved, str):
            return _refuse(f"--metadata {metadata}: {resolved}")
        contents[target / "env.py"] = _render_env(spec, resolved)
        contents[target / "script.py.mako"] = _render("script.py.mako")
        contents[target / "versions"] = None
        wrote = f"env.py using {spec.module}:{resolved.expression}, script.py.mako, versions/"
        next_step = (
            'DATABASE_URL=... alembic revision --autogenerate -m "create tables", '
            "then alembic upgrade head"
        )
    made: list[Path] = []  # files and folders, in the order they were made
    try:
        for path, text in contents.items():
            missing = [folder for folder in path.parents if not folder.exists()]
            if text is None:
                missing.insert(0, path)
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
            if text is None:
                continue
            with path.open("x", encoding="utf-8", newline="\n") as out:
                made.append(path)
                out.write(text)
    except OSError as err:
        _undo(made)
        return _refuse(f"cannot write {err.filename or 'a file'}: {err.strerror or err}")

    print(
        f"{_PROG}: wrote {ini.name} and {shown}/ ({wrote}); next: {next_step}"
        + ("" if _alembic_installed() else " (first: pip install 'sqla-repo[alembic]')")
    )
    return 0


class _Spec(NamedTuple):
    """``--metadata MODULE:ATTR``, split into dotted names."""

    module: str
    attribute: tuple[str, ...]


class _Resolved(NamedTuple):
    """Where the spec's metadata is and how ``env.py`` spells it."""

    expression: str  # ATTR, plus ``.metadata`` when ATTR is a declarative class
    first_party: bool  # MODULE was found under the project directory


# names env.py binds itself, which the application's import must not shadow
_ENV_NAMES = frozenset({"fileConfig", "context", "run_migrations"})


def _parse_spec(text: str) -> _Spec | None:
    module, colon, attribute = text.partition(":")
    names = (module.split("."), attribute.split("."))
    if not colon or not all(_is_name(name) for part in names for name in part):
        return None
    return _Spec(module, tuple(names[1]))


def _is_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _resolve(spec: _Spec, base: Path) -> _Resolved | str:
    """Import ``spec.module`` from ``base`` and find its metadata; a string says what is wrong."""
    folder = os.fspath(base.absolute())
    sys.path.insert(0, folder)
    try:
        importlib.invalidate_caches()  # files written since the last import are found
        module = importlib.import_module(spec.module)
    except Exception as err:  # the application's own error, reported
        return f"cannot import {spec.module} ({_one_line(err)})"
    finally:
        sys.path.remove(folder)
    value: object = module
    for depth, name in enumerate(spec.attribute):
        try:
            value = getattr(value, name)
        except Exception as err:  # AttributeError, or a property's own error
            owner = ".".join((spec.module, *spec.attribute[:depth]))
            if isinstance(err, AttributeError):
                return f"{owner} has no attribute {name!r}"
            return f"cannot read {owner}.{name} ({_one_line(err)})"
    expression = ".".join(spec.attribute)
    if not isinstance(value, MetaData):
        if not isinstance(getattr(value, "metadata", None), MetaData):
            if isinstance(value, type):
                found = f"class {value.__qualname__}"
            else:
                found = f"type {type(value).__qualname__}"
            return (
                f"{spec.module}.{expression} is not a MetaData and has no .metadata "
                f"MetaData ({found})"
            )
        expression += ".metadata"
    return _Resolved(expression, _found_under(module, spec.module, base))


def _found_under(module: ModuleType, name: str, base: Path) -> bool:
    """Whether the top-level package of ``module`` lives in ``base`` (ruff: first party)."""
    top = sys.modules.get(name.partition(".")[0], module)
    places = [top.__file__] if top.__file__ else list(getattr(top, "__path__", []))
    root = base.resolve()
    return any(Path(place).resolve().is_relative_to(root) for place in places)


def _one_line(err: BaseException) -> str:
    message = " ".join(str(err).split())
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def _render_env(spec: _Spec, resolved: _Resolved) -> str:
    name = spec.attribute[0]
    alias = f"app_{name}" if name in _ENV_NAMES else name
    imported = f"from {spec.module} import {name}" + (f" as {alias}" if alias != name else "")
    expression = ".".join((alias, *resolved.expression.split(".")[1:]))
    ours = ["from alembic import context", "from sqla_repo.alembic import run_migrations"]
    if resolved.first_party:
        imports = "\n".join(ours) + "\n\n" + imported
    else:  # one block of third-party imports, in isort's order
        imports = "\n".join(sorted([*ours, imported], key=_import_order))
    package, _, _ = spec.module.rpartition(".")
    return _render(
        "env_metadata.py.tmpl",
        imports=imports,
        other_models=f"{package}.other_models" if package else "other_models",
        expression=expression,
    )


def _import_order(line: str) -> str:
    return line.split()[1].lower()


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
