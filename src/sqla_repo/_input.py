"""Pydantic models as write input: the fields they contribute."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def as_fields(item: object, model: type[Any]) -> object:
    """A pydantic model's fields by field name, the schema's defaults included
    (``model_dump()``); an instance of the mapped ``model`` (a class may be both) or
    anything else is returned as it is."""
    if isinstance(item, BaseModel) and not isinstance(item, model):
        return item.model_dump()
    return item


def as_changes(changes: object) -> object:
    """PATCH: a pydantic model contributes only the fields that were set
    (``model_dump(exclude_unset=True)``): omitted ones stay untouched, an explicit
    ``None`` writes NULL. Anything else is returned as it is."""
    if isinstance(changes, BaseModel):
        return changes.model_dump(exclude_unset=True)
    return changes
