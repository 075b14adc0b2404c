"""Row locks for reads: ``for_update=True``, ``"nowait"`` and ``"skip_locked"``."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Select

ForUpdate = bool | Literal["nowait", "skip_locked"]
"""How a read locks the rows it returns (``False``: no lock)."""


def with_lock(statement: Select[Any], for_update: ForUpdate) -> Select[Any]:
    """``statement`` with ``FOR UPDATE`` as asked, reading the locked rows' current values.

    Compilers without row locks (SQLite) leave the clause out.
    """
    if for_update is False:
        return statement
    if not isinstance(for_update, bool) and for_update not in ("nowait", "skip_locked"):
        raise ValueError(
            f"for_update must be False, True, 'nowait' or 'skip_locked', not {for_update!r}"
        )
    locked = statement.with_for_update(
        nowait=for_update == "nowait", skip_locked=for_update == "skip_locked"
    )
    # the session may hold an older copy of a row: the locked row's values win
    return locked.execution_options(populate_existing=True)
