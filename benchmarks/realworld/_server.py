"""The Conduit app as deployed, plus a statement counter: what the benchmark serves.

    DATABASE_URL=... CONDUIT_JWT_SECRET=... python -m uvicorn benchmarks.realworld._server:app

``app`` is ``examples.realworld.app.app`` itself, with two additions made here and only
for the benchmark: a ``before_cursor_execute`` listener on the engine that the app's
lifespan creates, counting every statement sent (each executemany once), and the route
``GET /_bench/statements`` that returns the count so far. Nothing else changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from examples.realworld.app import app
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from . import STATEMENTS_PATH


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: Any) -> None:
        self.count += 1


def instrument(target: FastAPI) -> FastAPI:
    """Wrap ``target``'s lifespan to count its engine's statements; add the route."""
    counter = StatementCounter()
    inner = target.router.lifespan_context

    @asynccontextmanager
    async def counting_lifespan(started: Any) -> AsyncIterator[Any]:
        async with inner(started) as state:
            engine: AsyncEngine = target.state.engine  # set by sqla_repo's lifespan
            event.listen(engine.sync_engine, "before_cursor_execute", counter)
            yield state

    target.router.lifespan_context = counting_lifespan

    @target.get(STATEMENTS_PATH, include_in_schema=False)
    async def statements() -> dict[str, int]:
        return {"statements": counter.count}

    return target


instrument(app)
