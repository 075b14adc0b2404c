"""The query half of ``Repository``: many keys at once, pages, keyset cursors, streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import replace
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    bindparam,
    exists,
    func,
    inspect,
    literal,
    select,
)

from ._base import ModelT, Options, PkT, RepositoryBase
from ._cursor import can_carry, decode_cursor, encode_cursor
from ._errors import InvalidFieldError
from ._ordering import (
    OrderBy,
    SortKey,
    after_clause,
    ordering_signature,
    sort_keys,
)
from ._pagination import CursorPage, Page
from ._soft_delete import NO_SOFT_DELETE, SoftPlan
from ._statements import MAX_BATCH, MAX_WINDOW, Where, check_positive, check_where, check_window

_key_pages: WeakKeyDictionary[Any, dict[tuple[str, bool, bool], Select[Any]]] = WeakKeyDictionary()
"""``paginate`` statements by primary key with no condition, per mapper."""


class Reads(RepositoryBase[ModelT, PkT]):
    """``get_many``, ``count``, ``exists``, ``page``, ``paginate`` and ``stream``.

    Each leaves out the rows of a :class:`~sqla_repo.SoftDeleteMixin` model that are
    marked deleted (and marked rows its ``options`` load), unless
    ``include_deleted=True``; on other models that keyword changes nothing.
    """

    _soft_plan: SoftPlan = NO_SOFT_DELETE

    async def get_many(
        self,
        pks: Iterable[PkT],
        /,
        *,
        options: Options | None = None,
        include_deleted: bool = False,
    ) -> dict[PkT, ModelT]:
        """The objects whose primary keys are in ``pks``, keyed by primary key.

        Keys with no row are simply missing from the result; ``[]`` sends no SQL.
        Objects the session already holds come from its identity map; the rest are
        read with ``IN`` queries of as many keys as the driver's parameter limit
        allows (50,000 keys: two round trips). With ``options`` every key is read,
        so what the options name is loaded for held objects too. A composite key is
        a tuple in primary-key column order; the wrong arity raises
        :class:`~sqla_repo.InvalidFieldError` before any SQL.
        """
        if isinstance(pks, str | bytes):
            raise TypeError("pks must be an iterable of primary keys, not a single string")
        wanted = list(dict.fromkeys(self._key_values(pk) for pk in pks))
        if wanted:
            await self._flush()  # the identity map must not offer an object now deleted
        found: dict[tuple[Any, ...], ModelT] = {}
        missing = wanted if options else self._from_identity_map(wanted, found, include_deleted)
        for obj in await self._live_by_keys(missing, options, include_deleted) if missing else ():
            found[inspect(obj).identity or ()] = obj
        ordered = {key: found.pop(key) for key in wanted if key in found}
        ordered.update(found)  # keys the database matched in another spelling
        single = len(self._mapper.primary_key) == 1
        by_key = {(key[0] if single else key): obj for key, obj in ordered.items()}
        return cast("dict[PkT, ModelT]", by_key)

    async def count(self, *where: Where, include_deleted: bool = False) -> int:
        """How many rows match every ``where`` condition; one ``SELECT count(*)``."""
        check_where(self._mapper, where)
        statement = select(func.count()).select_from(self.model).where(*where)
        if self._soft_plan is not NO_SOFT_DELETE:
            statement = self._soft_plan.select(statement, None, include_deleted)
        with self.translate_errors():
            return int((await self._session.execute(statement)).scalar_one())

    async def exists(self, *where: Where, include_deleted: bool = False) -> bool:
        """Whether any row matches every ``where`` condition; one ``SELECT EXISTS``.

        Never counts: the database stops at the first matching row.
        """
        check_where(self._mapper, where)
        own = self._soft_plan.own
        if own is not None and not include_deleted:
            where = (*where, own.live)
        statement = select(exists().select_from(self.model).where(*where))
        with self.translate_errors():
            found = (await self._session.execute(statement)).scalar_one()
            return bool(found)

    async def page(
        self,
        *where: Where,
        order_by: OrderBy | None = None,
        limit: int = 50,
        offset: int = 0,
        options: Options | None = None,
        include_deleted: bool = False,
    ) -> Page[ModelT]:
        """One page of the matching objects, with ``total`` counting every match.

        One round trip: the count rides along as an uncorrelated subquery, which the
        database evaluates once. A second query counts only when the page is empty
        past the first row (``offset`` beyond the end, or ``limit=0``). Ordering and
        checks as for :meth:`list`.
        """
        keys = sort_keys(self._mapper, order_by)
        check_window(limit, offset)
        if limit is None:
            raise InvalidFieldError(f"limit must be an integer in 0..{MAX_WINDOW}")
        soft = self._soft_plan
        statement = soft.select(self._select(where, options), options, include_deleted)
        counted = soft.select(
            select(func.count()).select_from(self.model).where(*where), None, include_deleted
        ).correlate(None)
        statement = (
            statement.add_columns(counted.scalar_subquery())
            .order_by(*self._order(keys))
            .limit(limit)
            .offset(offset)
        )
        with self.translate_errors():
            rows = await self._rows(statement, options)
        if rows:
            return Page([row[0] for row in rows], int(rows[0][1]), limit, offset)
        total = (
            0
            if offset == 0 and limit > 0
            else await self.count(*where, include_deleted=include_deleted)
        )
        return Page([], total, limit, offset)

    async def paginate(
        self,
        *where: Where,
        order_by: OrderBy | None = None,
        limit: int = 50,
        after: str | None = None,
        options: Options | None = None,
        include_deleted: bool = False,
    ) -> CursorPage[ModelT]:
        """One page of a keyset pagination: the ``limit`` objects that follow ``after``.

        Rows come in the order :meth:`list` gives (the primary key appended as the
        tie-breaker), on any ordering: ascending, descending, mixed, nullable
        columns. Pass ``next_cursor`` as ``after`` for the next page; a walk never
        repeats a row and never skips one that existed throughout, whatever other
        sessions write meanwhile. Cursors are opaque URL-safe strings bound to the
        ordering (not to the filters or the limit), valid across sessions and
        processes; anything else, ``""`` included, raises
        :class:`~sqla_repo.InvalidCursorError` before any SQL. One SELECT.
        """
        keys = sort_keys(self._mapper, order_by)
        check_positive("limit", limit)
        types = self._key_types(keys)
        for key, kind in zip(keys, types, strict=True):
            if not can_carry(kind):
                raise InvalidFieldError(
                    f"cannot paginate by {key.describe()}: a cursor cannot carry "
                    f"{getattr(kind, '__name__', kind)} values"
                )
        signature = ordering_signature(self._mapper, keys)
        values = None if after is None else decode_cursor(signature, after, types)
        params: dict[str, object] = {}
        soft = self._soft_plan
        if (
            order_by is None
            and not where
            and not options
            and (values is None or None not in values)
        ):
            # by primary key, unfiltered: a statement built once, the values bound
            live = soft.own is not None and not include_deleted
            statement = self._key_page_statement(keys, after=values is not None, live=live)
            params = {f"sqla_repo_after{i}": value for i, value in enumerate(values or ())}
            params["sqla_repo_limit"] = min(limit + 1, MAX_WINDOW)
        else:
            statement = soft.select(self._select(where, options), options, include_deleted)
            statement = self._with_keys(statement, keys)
            if values is not None:
                statement = statement.where(self._after(keys, values))
            statement = statement.limit(min(limit + 1, MAX_WINDOW))
        with self.translate_errors():
            rows = await self._rows(statement, options, params)
        has_next = len(rows) > limit
        rows = rows[:limit]
        cursor = _cursor_of(signature, keys, rows[-1]) if has_next else None
        return CursorPage([row[0] for row in rows], cursor, has_next)

    async def stream(
        self,
        *where: Where,
        order_by: OrderBy | None = None,
        batch_size: int = 1000,
        options: Options | None = None,
        include_deleted: bool = False,
    ) -> AsyncGenerator[ModelT, None]:
        """The matching objects one by one, in bounded memory (``async for``, no ``await``).

        Rows arrive ``batch_size`` at a time, from a server-side cursor where the
        driver lets other statements run beside one (PostgreSQL, SQLite). MySQL and
        MariaDB cannot (a statement sent mid-stream silently cuts it short), so there
        each batch is its own keyset query: ``options`` (``selectinload``) and the
        loop's own statements work on every backend. Ordering as for :meth:`list`;
        an index on the ordering keeps each batch cheap. Closing the stream early
        (``break``, ``aclose()``) releases the cursor and leaves the session usable.
        """
        keys = sort_keys(self._mapper, order_by)
        check_positive("batch_size", batch_size, maximum=MAX_BATCH)
        statement = self._soft_plan.select(self._select(where, options), options, include_deleted)
        # Loader options may join collections, which no server-side cursor can stream
        # (rows of one object would straddle batches): those streams go by keyset too.
        batches = (
            self._cursor_batches(statement.order_by(*self._order(keys)), batch_size)
            if self._backend.interleaved_cursors and not options
            else self._keyset_batches(statement, keys, batch_size, options)
        )
        try:
            async for batch in batches:
                for obj in batch:
                    yield obj
        finally:
            await batches.aclose()

    async def _cursor_batches(
        self, statement: Select[Any], batch_size: int
    ) -> AsyncGenerator[Sequence[ModelT], None]:
        """Batches from one server-side cursor, closed however the iteration ends."""
        with self.translate_errors():
            result = await self._session.stream_scalars(
                statement.execution_options(yield_per=batch_size)
            )
        try:
            partitions = result.partitions(batch_size)
            while True:
                with self.translate_errors():
                    batch = await anext(partitions, None)
                if batch is None:
                    return
                yield batch
        finally:
            await result.close()

    async def _keyset_batches(
        self,
        statement: Select[Any],
        keys: Sequence[SortKey],
        batch_size: int,
        options: Options | None,
    ) -> AsyncGenerator[Sequence[ModelT], None]:
        """Batches from successive keyset queries, each read whole before it is handed out."""
        first = self._with_keys(statement, keys).limit(batch_size)
        query = first
        while True:
            with self.translate_errors():
                rows = await self._rows(query, options)
            yield [row[0] for row in rows]
            if len(rows) < batch_size:
                return
            query = first.where(self._after(keys, tuple(rows[-1])[1:]))

    def _with_keys(self, statement: Select[Any], keys: Sequence[SortKey]) -> Select[Any]:
        """The entity and, after it, the value of every ordering key (for the next cursor)."""
        terms = self._backend.keyset_terms
        values = (terms(key.expression)[0].label(f"_key_{n}") for n, key in enumerate(keys))
        return statement.add_columns(*values).order_by(*self._order(keys))

    async def _rows(
        self,
        statement: Select[Any],
        options: Options | None,
        params: dict[str, object] | None = None,
    ) -> Sequence[Any]:
        result = await self._session.execute(statement, params or None)
        # joined eager loads of collections repeat rows; only options can add them
        return cast("Sequence[Any]", (result.unique() if options else result).all())

    def _after(
        self, keys: Sequence[SortKey], values: Sequence[object], *, named: bool = False
    ) -> ColumnElement[bool]:
        """The rows after the one holding ``values``; ``named``: the values are left to
        parameters ``sqla_repo_after0``, ``sqla_repo_after1``, ..."""
        compared: list[SortKey] = []
        bound: list[object] = []
        for i, (key, value) in enumerate(zip(keys, values, strict=True)):
            read, compare = self._backend.keyset_terms(key.expression)
            compared.append(replace(key, expression=compare))
            # bound with the type the value was read as, so it compares as stored
            if named:
                bound.append(bindparam(f"sqla_repo_after{i}", type_=read.type))
            else:
                bound.append(None if value is None else literal(value, read.type))
        return after_clause(compared, bound, nulls_low=self._backend.nulls_low)

    def _key_page_statement(
        self, keys: Sequence[SortKey], *, after: bool, live: bool
    ) -> Select[Any]:
        """A page by primary key with no condition (``live``: but leaving marked rows
        out): built once per model, backend, whether a cursor is given and ``live``,
        the cursor's values and the limit as parameters."""
        built = _key_pages.setdefault(self._mapper, {})
        found = built.get((self._backend.name, after, live))
        if found is None:
            statement = self._soft_plan.select(self._select([]), None, not live)
            statement = self._with_keys(statement, keys)
            if after:
                statement = statement.where(self._after(keys, [0] * len(keys), named=True))
            found = statement.limit(bindparam("sqla_repo_limit", type_=BigInteger()))
            built[(self._backend.name, after, live)] = found
        return found

    def _key_types(self, keys: Sequence[SortKey]) -> list[type | None]:
        """The Python type of each key's value in a cursor."""
        return [_python_type(self._backend.keyset_terms(key.expression)[0]) for key in keys]

    def _from_identity_map(
        self,
        wanted: Sequence[tuple[Any, ...]],
        found: dict[tuple[Any, ...], ModelT],
        include_deleted: bool,
    ) -> list[tuple[Any, ...]]:
        """Fill ``found`` from the identity map; return the keys it does not hold loaded
        (a held object marked deleted is neither, unless ``include_deleted``)."""
        identity_map = self._session.identity_map
        own = None if include_deleted else self._soft_plan.own
        missing = []
        for key in wanted:
            obj = identity_map.get(self._mapper.identity_key_from_primary_key(key))
            state = inspect(obj) if obj is not None else None
            if state is not None and not state.expired_attributes and not state.deleted:
                if own is None:
                    found[key] = cast("ModelT", obj)
                elif own.key not in state.dict:
                    missing.append(key)
                elif state.dict[own.key] is None:
                    found[key] = cast("ModelT", obj)
            else:
                missing.append(key)
        return missing

    async def _live_by_keys(
        self, keys: Sequence[tuple[Any, ...]], options: Options | None, include_deleted: bool
    ) -> list[ModelT]:
        """The objects with these primary keys (live ones only, unless
        ``include_deleted``), in as few ``IN`` queries as the driver allows."""
        soft = self._soft_plan
        if include_deleted or (soft.own is None and (not options or soft.criteria is None)):
            return await self._by_keys(keys, options)
        found: list[ModelT] = []
        for condition in self._key_batches(keys):
            statement = soft.select(self._select([], options).where(condition), options, False)
            with self.translate_errors():
                result = await self._session.scalars(statement)
                found.extend(result.unique() if options else result)
        return found


def _python_type(expression: ColumnElement[Any]) -> type | None:
    try:
        kind: object = expression.type.python_type
    except NotImplementedError:
        return None
    return kind if isinstance(kind, type) else None


def _cursor_of(signature: str, keys: Sequence[SortKey], row: Sequence[Any]) -> str:
    try:
        return encode_cursor(signature, tuple(row)[1:])
    except TypeError as err:
        names = ", ".join(key.describe() for key in keys)
        raise InvalidFieldError(f"cannot paginate by ({names}): {err}") from None
