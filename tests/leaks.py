"""Looking for a secret or a written value everywhere an error chain can show it."""

from __future__ import annotations

import traceback

# Where drivers keep parts of the server's message (asyncpg's fields, SQLAlchemy's
# StatementError.detail) and psycopg's diagnostic fields.
_ATTRIBUTES = ("message", "detail", "hint", "context", "internal_query", "__notes__")
_DIAGNOSTICS = ("message_primary", "message_detail", "message_hint", "context", "internal_query")


def chain(err: BaseException) -> list[BaseException]:
    """``err`` and every exception reachable by ``__cause__``, ``__context__`` and ``.orig``."""
    found: list[BaseException] = []
    pending: list[object] = [err]
    while pending:
        each = pending.pop(0)
        if not isinstance(each, BaseException) or any(each is seen for seen in found):
            continue
        found.append(each)
        pending += [each.__cause__, each.__context__, getattr(each, "orig", None)]
    return found


def everything_shown(err: BaseException) -> str:
    """All the text ``err`` and its chain show: str, repr, args, message fields, traceback."""
    shown = ["".join(traceback.format_exception(err))]
    for each in chain(err):
        shown += [str(each), repr(each), repr(each.args)]
        shown += [repr(getattr(each, name, None)) for name in _ATTRIBUTES]
        diag = getattr(each, "diag", None)
        if diag is not None:
            shown += [repr(getattr(diag, name, None)) for name in _DIAGNOSTICS]
        pgconn = getattr(each, "pgconn", None)
        if pgconn is not None:
            shown.append(repr(pgconn))
    return "\n".join(shown)
