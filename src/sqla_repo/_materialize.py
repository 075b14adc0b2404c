"""Rows written by bulk statements, given the standing a flush would give them.

``create_many`` and the upserts write with Core statements (one multi-row INSERT
per batch) and read the stored rows back with ``RETURNING``. The objects for those
rows are registered in the session exactly as a flush registers the objects it
inserts: persistent, in the identity map, with no pending changes, and expunged
again if the transaction rolls back. A row whose identity the session already
holds updates that object in place, so the session never keeps a stale copy.

This leans on SQLAlchemy's own bookkeeping (``Session._save_impl``,
``Session._register_persistent``, ``InstanceState._commit``), the calls its unit
of work makes; the tests pin the outcome on every supported SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.state import InstanceState

from ._statements import primary_key_fields


def new_instance(mapper: Mapper[Any], values: Mapping[str, Any]) -> Any:
    """A transient instance holding ``values``, built without running ``__init__``.

    Only for models whose constructor just assigns its keyword arguments (the
    declarative default, with no ``@validates`` hooks): the result is the same.
    """
    obj = mapper.class_manager.new_instance()
    instance_state(obj).dict.update(values)
    return obj


def register_written(
    session: Session,
    mapper: Mapper[Any],
    objects: Sequence[Any],
    keys: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> list[Any]:
    """Give each object the values of its returned row and make it persistent.

    ``objects`` are transient instances holding the values that were written;
    ``rows`` what the statement returned for them, in the same order, as values of
    the attributes ``keys``. Returns the persistent objects in input order: the
    given object, or the one the session already held for that row.
    """
    identity_map = session.identity_map
    key_names = primary_key_fields(mapper)
    column_keys = mapper.column_attrs.keys()
    stored: list[Any] = []
    fresh: set[InstanceState[Any]] = set()
    seen: dict[Any, Any] = {}  # one row returned twice (MySQL: keys equal by collation)
    for obj, row in zip(objects, rows, strict=True):
        state = instance_state(obj)
        values = state.dict
        values.update(zip(keys, row, strict=True))
        identity = mapper.identity_key_from_primary_key(tuple(values[name] for name in key_names))
        held = seen[identity] if identity in seen else identity_map.get(identity)
        if held is None or held is obj:
            seen[identity] = obj
            session._save_impl(state)
            fresh.add(state)
            stored.append(obj)
        else:
            columns = {key: values[key] for key in column_keys if key in values}
            refresh_values(held, columns)
            stored.append(held)
    if fresh:
        session._register_persistent(fresh)
    return stored


def adopt_loaded(session: Session, mapper: Mapper[Any], values: Mapping[str, Any]) -> Any:
    """The persistent object for a row read from the database, as a query would give it.

    An object the session holds for the row takes the stored column values in place
    (its loaded relationships stay loaded); otherwise a new one joins the session as a
    loaded row (public API: a detached instance added back).
    """
    key_names = primary_key_fields(mapper)
    identity = mapper.identity_key_from_primary_key(tuple(values[name] for name in key_names))
    held = session.identity_map.get(identity)
    if held is not None:
        refresh_values(held, values)
        return held
    obj = new_instance(mapper, values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def refresh_values(obj: Any, values: Mapping[str, Any]) -> None:
    """Overwrite attributes of a persistent object with stored values, as a load would.

    The attributes are left loaded and unmodified (nothing for the next flush).
    """
    state = instance_state(obj)
    state.dict.update(values)
    state._commit(state.dict, values)
