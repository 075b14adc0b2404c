"""Loading guards: a clear :class:`NotLoadedError` instead of ``MissingGreenlet``.

Under asyncio an attribute access cannot wait for the database. SQLAlchemy still
tries, and fails deep in the driver with ``MissingGreenlet``. The guard below
runs before any connection is touched: a relationship or column load started by
a plain attribute access (outside SQLAlchemy's async bridge) is refused with an
error that names the attribute and the fix, and the session stays usable. Loads
that run inside the bridge (repository methods, ``awaitable_attrs``,
``session.run_sync``) are left alone.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakSet

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.util import immutabledict
from sqlalchemy.util.concurrency import in_greenlet

from ._errors import NotLoadedError

_guarded: WeakSet[Session] = WeakSet()
"""Sessions whose guard is installed (looking the listener up costs more than this)."""


class GuardedSession(Session):
    """The synchronous session of ``EngineFactory.create_sessionmaker``'s sessions: the
    guard runs on entry to :meth:`execute`, where every lazy and expired-attribute load
    comes in.

    The same guard on any other session is a ``do_orm_execute`` listener, which makes
    SQLAlchemy build an ``ORMExecuteState`` for every statement the session runs (6-14 %
    of a ``session.get``); here a statement inside the async bridge costs one check.
    """

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if not in_greenlet():
            _refuse_implicit_io(_execute_state(self, statement, *args, **kwargs))
        return super().execute(statement, *args, **kwargs)


def _execute_state(
    session: Session,
    statement: Any,
    params: Any = None,
    *,
    execution_options: Any = None,
    bind_arguments: Any = None,
    **_: Any,
) -> ORMExecuteState:
    """What a ``do_orm_execute`` listener would be handed for this call."""
    bind = dict(bind_arguments or {})
    subject = getattr(statement, "_propagate_attrs", {}).get("plugin_subject")
    if "mapper" not in bind and subject is not None:
        bind["mapper"] = getattr(subject, "mapper", None)
    options = immutabledict(execution_options or {})
    return ORMExecuteState(session, statement, params, options, bind, None, [])


def guard_lazy_loads(session: AsyncSession) -> None:
    """Install the guard on ``session`` (once; later calls do nothing)."""
    target = session.sync_session
    if isinstance(target, GuardedSession) or target in _guarded:
        return
    if not event.contains(target, "do_orm_execute", _refuse_implicit_io):
        event.listen(target, "do_orm_execute", _refuse_implicit_io)
    _guarded.add(target)


def _refuse_implicit_io(state: ORMExecuteState) -> None:
    if in_greenlet():
        return  # inside the async bridge: the load can run
    if state.is_relationship_load:
        path = state.loader_strategy_path
        prop: Any = getattr(path, "prop", None)
        if prop is not None:
            owner = prop.parent.class_.__name__
            raise NotLoadedError(
                f"{owner}.{prop.key} was not loaded, and under asyncio an attribute access "
                f"cannot load it: name it in the read, e.g. "
                f"options=[selectinload({owner}.{prop.key})], "
                f"or await obj.awaitable_attrs.{prop.key}"
            )
    if state.is_relationship_load or state.is_column_load:
        mapper = state.bind_mapper
        model = mapper.class_.__name__ if mapper is not None else "the object"
        raise NotLoadedError(
            f"an attribute of {model} is expired or deferred, and under asyncio an attribute "
            f"access cannot load it: await session.refresh(obj) first (sessions from "
            f"EngineFactory.create_sessionmaker keep objects loaded after commit)"
        )
