"""Taking written values and connection secrets out of an error chain, in place.

SQLAlchemy's ``hide_parameters`` keeps bound parameters out of its own messages,
but the database still quotes written values in the text it sends back (MariaDB's
``Duplicate entry '<value>'``, PostgreSQL's ``Key (email)=(<value>)``), and that
text rides along in the driver's exception, in the SQLAlchemy error wrapping it and
in anything that formats either. The translation boundary chains those errors
under the error it raises, so it cleans them first: every exception reachable by
``__cause__``, ``__context__`` and ``.orig`` has the values cut out of its
arguments and message attributes, by the message shapes each backend is known to
use (codes, constraint names, column names and SQL text are kept).

The shapes are regular expressions whose groups cover written values; the text
each group matched becomes :data:`HIDDEN`. A composite message (SQLAlchemy's,
which embeds the driver's; psycopg's, which joins its diagnostic fields) is
cleaned by replacing each cleaned part literally, so quoting and escaping inside
it cannot hide a value from the shapes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

HIDDEN = "<hidden>"
"""What a written value is replaced with."""

Shapes = Sequence["re.Pattern[str]"]

# Python's own messages, chained under a driver error that failed to convert a value.
PYTHON_SHAPES: tuple[re.Pattern[str], ...] = (
    # the value is shown as its repr: one line
    re.compile(r"invalid literal for \w+\(\) with base \d+: (.*)$", re.MULTILINE),
    re.compile(r"could not convert string to float: (.*)$", re.MULTILINE),
)

# What each backend's messages quote (read through its row in ``_backends``).
POSTGRESQL_VALUES: tuple[re.Pattern[str], ...] = (
    # DETAIL of 23505 / 23503 / 23P01: "Key (email)=(<value>) already exists."
    re.compile(
        r"Key \(.+?\)=\((.*)\)(?= already exists| is not present in table"
        r"| is still referenced from table| conflicts with existing key)",
        re.DOTALL,
    ),
    re.compile(r"conflicts with existing key \(.+?\)=\((.*)\)\.", re.DOTALL),
    # DETAIL of 23502 / 23514: "Failing row contains (1, <value>, null)."
    re.compile(r"Failing row contains \((.*)\)\.", re.DOTALL),
    # 22P02 and kin: 'invalid input syntax for type integer: "<value>"'
    re.compile(r': "(.*)"$', re.DOTALL | re.MULTILINE),
    re.compile(r'value "(.*)" is out of range for type', re.DOTALL),
    re.compile(r'Token "(.*)" is invalid\.', re.DOTALL),
    # one line each: the JSON text of the failing line; bytes as hex
    re.compile(r"JSON data, line \d+: (.*)$", re.MULTILINE),
    re.compile(r'invalid byte sequence for encoding "[^"]*": (.*)$', re.MULTILINE),
    # CONTEXT, when the server sets log_parameter_max_length_on_error
    re.compile(r"parameter \$\d+ = '(.*)'$", re.DOTALL | re.MULTILINE),
    # asyncpg's own: "invalid input for query argument $1: <value's repr> (<reason>)"
    re.compile(r"invalid input for query argument \$\d+: (.*)$", re.MULTILINE),
)

MYSQL_VALUES: tuple[re.Pattern[str], ...] = (
    re.compile(r"Duplicate entry '(.*)' for key '", re.DOTALL),  # 1062
    # 1366 / 1292: "Incorrect integer value: '<value>' for column `db`.`t`.`c` at row 1"
    re.compile(r"value: '(.*)' for column ", re.DOTALL),
    re.compile(r"[Tt]runcated incorrect [\w ]+ value: '(.*)'$", re.DOTALL | re.MULTILINE),
    re.compile(r"Illegal \w+ '(.*)' value found", re.DOTALL),  # 1367
    re.compile(r'Invalid JSON text[^:\n]*: "(.*)" at position', re.DOTALL),  # 3140
)

# Attributes in which drivers keep (parts of) the server's message: asyncpg's
# fields, SQLAlchemy's ``StatementError.detail`` (a list) and Python's notes.
_MESSAGE_ATTRIBUTES = ("message", "detail", "hint", "context", "internal_query", "__notes__")

_MAX_CHAIN = 32
"""Exceptions visited at most (chains are a handful deep; cycles are cut anyway)."""


def hide_values(text: str, shapes: Shapes) -> str:
    """``text`` with every span a shape marks as a written value replaced by :data:`HIDDEN`."""
    for shape in shapes:
        text = shape.sub(_hide_groups, text)
    return text


def _hide_groups(match: re.Match[str]) -> str:
    pieces: list[str] = []
    position = match.start()
    for group in range(1, (match.re.groups or 0) + 1):
        start, end = match.span(group)
        if start < 0:
            continue
        pieces += [match.string[position:start], HIDDEN]
        position = end
    pieces.append(match.string[position : match.end()])
    return "".join(pieces)


def scrub_chain(err: BaseException, shapes: Shapes, *, values: bool) -> None:
    """Clean ``err`` and every exception it chains, in place.

    Connection secrets (psycopg keeps the failed connection, password included, on its
    error) are always dropped; written values only when ``values`` is true (the
    engine's ``hide_parameters``).
    """
    chain = list(_chain(err))
    for each in chain:
        _drop_secrets(each)
    if not values:
        return
    before = [(each, _text(each)) for each in chain]
    replaced: dict[str, str] = {}

    def clean(text: str) -> str:
        cleaned = hide_values(text, shapes)
        if cleaned != text:
            replaced[text] = cleaned
        return cleaned

    for each in chain:
        _rewrite(each, clean)
    for each, text in before:
        if text and (now := _text(each)) != text:
            replaced[text] = now
    pairs = sorted(replaced.items(), key=lambda pair: len(pair[0]), reverse=True)

    def clean_composite(text: str) -> str:
        for old, new in pairs:
            text = text.replace(old, new)
        return hide_values(text, shapes)

    for each in chain:
        _rewrite(each, clean_composite)


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException] = [err]
    while pending and len(seen) < _MAX_CHAIN:
        each = pending.pop(0)
        if id(each) in seen:
            continue
        seen.add(id(each))
        yield each
        for linked in (each.__cause__, each.__context__, getattr(each, "orig", None)):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _text(err: BaseException) -> str:
    try:
        return str(err)
    except Exception:  # a broken __str__ must not hide the error being translated
        return ""


def _rewrite(err: BaseException, clean: Callable[[str], str]) -> None:
    with contextlib.suppress(AttributeError, TypeError):  # an exception with read-only args
        err.args = tuple(clean(arg) if isinstance(arg, str) else arg for arg in err.args)
    for name in _MESSAGE_ATTRIBUTES:
        value = getattr(err, name, None)
        with contextlib.suppress(AttributeError, TypeError):  # a read-only property
            if isinstance(value, str):
                setattr(err, name, clean(value))
            elif isinstance(value, list) and all(isinstance(item, str) for item in value):
                value[:] = [clean(item) for item in value]
    _rewrite_diagnostics(err, clean)


def _rewrite_diagnostics(err: BaseException, clean: Callable[[str], str]) -> None:
    """psycopg: ``err.diag`` reads its fields (``message_detail``...) from ``_info``.

    ``_info`` is the server's result or, once pickled, a dict of field -> bytes; it is
    replaced by that dict with each field cleaned.
    """
    info = getattr(err, "_info", None)
    if info is None or not hasattr(err, "diag"):
        return
    fields = _diagnostic_fields(info)
    if fields is None:
        return
    encoding = getattr(err, "_encoding", "utf-8")
    cleaned: dict[object, bytes | None] = {}
    changed = False
    for key, raw in fields:
        cleaned[key] = raw if isinstance(raw, bytes) else None
        if not isinstance(raw, bytes):
            continue
        text = raw.decode(encoding, "replace")
        now = clean(text)
        if now != text:
            cleaned[key] = now.encode(encoding)
            changed = True
    if changed:  # the error's ``pgresult`` goes with it, as when psycopg pickles an error
        with contextlib.suppress(AttributeError):
            err._info = cleaned  # type: ignore[attr-defined]  # psycopg's private field store


def _diagnostic_fields(info: object) -> Iterable[tuple[object, object]] | None:
    if isinstance(info, dict):
        return list(info.items())
    error_field = getattr(info, "error_field", None)
    if error_field is None:
        return None
    try:
        # imported here: psycopg is optional, and only its errors get this far
        from psycopg.pq import DiagnosticField
    except ImportError:  # pragma: no cover - info with error_field comes from psycopg
        return None
    return [(field, error_field(field)) for field in DiagnosticField]


def _drop_secrets(err: BaseException) -> None:
    # psycopg keeps the failed connection on a connect error; its repr shows the
    # password. psycopg itself drops it when the error is pickled.
    if getattr(err, "_pgconn", None) is not None and hasattr(err, "pgconn"):
        with contextlib.suppress(AttributeError):
            err._pgconn = None  # type: ignore[attr-defined]  # psycopg's private field
