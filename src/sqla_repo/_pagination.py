"""``Page`` and ``CursorPage``: what ``Repository.page`` and ``Repository.paginate`` return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of an offset pagination.

    ``total`` counts every matching row, also when ``offset`` is past the end and
    ``items`` is empty.
    """

    items: list[ItemT]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class CursorPage(Generic[ItemT]):
    """One page of a keyset pagination.

    ``has_next`` is true exactly when another row follows the last item (a walk
    never ends on an empty page); ``next_cursor`` is then the cursor for the next
    page (pass it as ``after=``), else ``None``.
    """

    items: list[ItemT]
    next_cursor: str | None
    has_next: bool
