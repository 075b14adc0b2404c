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
    fresh: list[tuple[InstanceState[Any], Any]] = []
    seen: dict[Any, Any] = {}  # one row returned twice (MySQL: keys equal by collation)
    identity_class = mapper._identity_class
    for obj, row in zip(objects, rows, strict=True):
        state = instance_state(obj)
        values = state.dict
        values.update(zip(keys, row, strict=True))
        identity = (identity_class, tuple([values[name] for name in key_names]), None)
        held = seen[identity] if identity in seen else identity_map.get(identity)
        if held is None or held is obj:
            seen[identity] = obj
            fresh.append((state, identity))
            stored.append(obj)
        else:
            columns = {key: values[key] for key in column_keys if key in values}
            refresh_values(held, columns)
            stored.append(held)
    if fresh:
        if _lifecycle_heard(session):
            for state, _ in fresh:
                session._save_impl(state)
            session._register_persistent({state for state, _ in fresh})
        else:
            _make_persistent(session, fresh)
    return stored


_LIFECYCLE_EVENTS = (
    "before_attach",
    "after_attach",
    "transient_to_pending",
    "pending_to_persistent",
)


def _lifecycle_heard(session: Session) -> bool:
    """Whether a listener waits for the events a flush sends its new objects."""
    events = session.dispatch
    return any(getattr(events, name) for name in _LIFECYCLE_EVENTS)


def _make_persistent(session: Session, states: Sequence[tuple[InstanceState[Any], Any]]) -> None:
    """What ``_save_impl`` then ``_register_persistent`` leave behind, for states known
    to be new and absent from the identity map, when no listener waits for their
    events: attached, keyed, in the identity map, committed, and recorded as new in
    the transaction, so that a rollback expunges them again."""
    session._autobegin_t()
    transaction = session._transaction
    identity_map: Any = session.identity_map
    hash_key = session.hash_key
    new = transaction._new if transaction is not None else {}
    for state, identity in states:
        state.key = identity
        state.session_id = hash_key
        identity_map._add_unpresent(state, identity)
        new[state] = True
    InstanceState._commit_all_states(((state, state.dict) for state, _ in states), identity_map)


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
