"""Error translation: integrity violations become typed errors, named alike on every backend.

The database tests run on every backend of ``conftest.BACKENDS``. Each asserts the exact
error class, its ``constraint`` and ``columns`` wherever the backend reports them (completed
from the model's metadata), and the documented fallback (``None`` / ``()``) where the backend
cannot name them. The last section tests the pieces of the translation without a database,
with hand-built driver-like exceptions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import delete, exc, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.schema import Table

from sqla_repo import (
    CheckViolationError,
    CommitOutcomeUnknownError,
    ConflictError,
    DatabaseUnavailableError,
    EngineFactory,
    ForeignKeyViolationError,
    IntegrityViolationError,
    InvalidCursorError,
    InvalidFieldError,
    NotFoundError,
    NotLoadedError,
    NotNullViolationError,
    PoolTimeoutError,
    ReadOnlyError,
    RepositoryError,
    SerializationError,
    StaleDataError,
    StatementTimeoutError,
    User,
    UserRepository,
)
from sqla_repo._backends import MYSQL, POSTGRESQL, SQLITE
from sqla_repo._translate import ErrorContext, _resolve_constraint, translate
from tests.models import (
    Order,
    OrderRepository,
    Product,
    ProductRepository,
    Tag,
    TagRepository,
)

EMAIL = "ada.lovelace@example.com"
OTHER_EMAIL = "grace.hopper@example.com"
CHECK_NAME = "ck_products_price_cents_non_negative"
FK_NAME = "fk_orders_product_id_products"


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _is_sqlite(backend: str) -> bool:
    return backend.startswith("sqlite")


def _assert_translated(
    err: IntegrityViolationError,
    kind: type[IntegrityViolationError],
    constraint: str | None,
    columns: tuple[str, ...],
) -> None:
    """The exact class, its details, and the SQLAlchemy error chained as the cause."""
    assert type(err) is kind
    assert (err.constraint, err.columns) == (constraint, columns)
    assert isinstance(err, RepositoryError)
    assert not isinstance(err, exc.SQLAlchemyError)
    cause = err.__cause__
    assert isinstance(cause, exc.DBAPIError)
    assert cause.orig is not None


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Committed rows: two users, one product (id 1) with one order, one tag."""
    async with sessions.begin() as session:
        await UserRepository(session).create({"email": EMAIL, "name": "Ada"})
        await UserRepository(session).create({"email": OTHER_EMAIL, "name": "Grace"})
        await ProductRepository(session).create(
            {"id": 1, "sku": "SKU-1", "name": "Lamp", "price_cents": 1500}
        )
        await OrderRepository(session).create({"product_id": 1, "quantity": 2})
        await TagRepository(session).create(
            {"scope": "shop", "name": "red", "label": "Red", "color": "red"}
        )


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _committed(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """What a fresh session sees: row counts and the users' emails."""
    async with sessions() as session:
        emails = (await session.scalars(select(User.email).order_by(User.email))).all()
        return {
            "users": list(emails),
            "products": await _count(session, Product),
            "orders": await _count(session, Order),
            "tags": await _count(session, Tag),
        }


SEEDED_STATE = {"users": [EMAIL, OTHER_EMAIL], "products": 1, "orders": 1, "tags": 1}


# --- unique and primary key: ConflictError --------------------------------------------


@pytest.mark.usefixtures("seeded")
async def test_duplicate_unique_email_is_a_conflict(session: AsyncSession) -> None:
    with pytest.raises(ConflictError) as raised:
        await UserRepository(session).create({"email": EMAIL})
    _assert_translated(raised.value, ConflictError, "uq_users_email", ("email",))
    assert isinstance(raised.value.__cause__, exc.IntegrityError)


@pytest.mark.usefixtures("seeded")
async def test_duplicate_email_on_update_is_a_conflict(session: AsyncSession) -> None:
    users = UserRepository(session)
    other = await users.get_by_email(OTHER_EMAIL)
    assert other is not None
    with pytest.raises(ConflictError) as raised:
        await users.update(other.id, email=EMAIL)
    _assert_translated(raised.value, ConflictError, "uq_users_email", ("email",))


@pytest.mark.usefixtures("seeded")
async def test_duplicate_primary_key_is_a_conflict(session: AsyncSession) -> None:
    with pytest.raises(ConflictError) as raised:
        await ProductRepository(session).create({"id": 1, "sku": "SKU-2", "name": "Desk"})
    # MySQL/MariaDB report every primary key as 'PRIMARY': resolved from the metadata.
    _assert_translated(raised.value, ConflictError, "pk_products", ("id",))


@pytest.mark.usefixtures("seeded")
async def test_duplicate_composite_primary_key_is_a_conflict(session: AsyncSession) -> None:
    with pytest.raises(ConflictError) as raised:
        await TagRepository(session).create({"scope": "shop", "name": "red"})
    _assert_translated(raised.value, ConflictError, "pk_tags", ("scope", "name"))


@pytest.mark.usefixtures("seeded")
async def test_duplicate_single_column_unique_is_a_conflict(session: AsyncSession) -> None:
    with pytest.raises(ConflictError) as raised:
        await ProductRepository(session).create({"id": 2, "sku": "SKU-1", "name": "Desk"})
    _assert_translated(raised.value, ConflictError, "uq_products_sku", ("sku",))


@pytest.mark.usefixtures("seeded")
async def test_duplicate_two_column_unique_is_a_conflict(session: AsyncSession) -> None:
    with pytest.raises(ConflictError) as raised:
        await TagRepository(session).create(
            {"scope": "blog", "name": "crimson", "label": "Red", "color": "red"}
        )
    _assert_translated(raised.value, ConflictError, "uq_tags_label_color", ("label", "color"))


@pytest.mark.usefixtures("seeded")
async def test_conflict_in_a_related_row_names_the_related_table(session: AsyncSession) -> None:
    # The flush inserts the new product (cascaded from the order) and that INSERT fails:
    # the constraint is the products table's, not the repository's own (orders).
    order = Order(product=Product(id=1, sku="SKU-9", name="Chair"))
    with pytest.raises(ConflictError) as raised:
        await OrderRepository(session).create(order)
    _assert_translated(raised.value, ConflictError, "pk_products", ("id",))


# --- foreign keys ---------------------------------------------------------------------


def _assert_fk(err: IntegrityViolationError, backend: str) -> None:
    if _is_sqlite(backend):
        # SQLite says only "FOREIGN KEY constraint failed": no constraint, no columns.
        _assert_translated(err, ForeignKeyViolationError, None, ())
    else:
        _assert_translated(err, ForeignKeyViolationError, FK_NAME, ("product_id",))


@pytest.mark.usefixtures("seeded")
async def test_order_for_a_missing_product_is_a_foreign_key_violation(
    session: AsyncSession, backend: str
) -> None:
    with pytest.raises(ForeignKeyViolationError) as raised:
        await OrderRepository(session).create({"product_id": 999})
    _assert_fk(raised.value, backend)
    assert isinstance(raised.value.__cause__, exc.IntegrityError)


@pytest.mark.usefixtures("seeded")
async def test_moving_an_order_to_a_missing_product_is_a_foreign_key_violation(
    session: AsyncSession, backend: str
) -> None:
    orders = OrderRepository(session)
    (order,) = await orders.list()
    with pytest.raises(ForeignKeyViolationError) as raised:
        await orders.update(order.id, product_id=999)
    _assert_fk(raised.value, backend)


@pytest.mark.usefixtures("seeded")
async def test_deleting_a_referenced_product_is_a_foreign_key_violation(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    # Product.orders has passive_deletes="all", so the database decides
    # (MySQL 1451, PostgreSQL 23503, SQLite 787).
    async with sessions() as session:
        with pytest.raises(ForeignKeyViolationError) as raised:
            await ProductRepository(session).delete(1)
        _assert_fk(raised.value, backend)
        await session.rollback()
    assert await _committed(sessions) == SEEDED_STATE


class _PurgingProductRepository(ProductRepository):
    """A custom statement in a repository subclass, under the repository's translation."""

    async def purge(self, pk: int) -> None:
        with self.translate_errors():
            await self.session.execute(delete(Product).where(Product.id == pk))


@pytest.mark.usefixtures("seeded")
async def test_deleting_a_referenced_row_by_statement_is_a_foreign_key_violation(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    async with sessions() as session:
        with pytest.raises(ForeignKeyViolationError) as raised:
            await _PurgingProductRepository(session).purge(1)
        _assert_fk(raised.value, backend)
        await session.rollback()
    assert await _committed(sessions) == SEEDED_STATE


# --- NOT NULL and CHECK -----------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
async def test_create_with_null_in_a_required_column_is_a_not_null_violation(
    session: AsyncSession,
) -> None:
    with pytest.raises(NotNullViolationError) as raised:
        await ProductRepository(session).create({"id": 2, "sku": "SKU-2", "name": None})
    # NOT NULL constraints have no name on any backend; the column is always reported.
    _assert_translated(raised.value, NotNullViolationError, None, ("name",))


@pytest.mark.usefixtures("seeded")
async def test_update_to_null_in_a_required_column_is_a_not_null_violation(
    session: AsyncSession,
) -> None:
    with pytest.raises(NotNullViolationError) as raised:
        await ProductRepository(session).update(1, name=None)
    _assert_translated(raised.value, NotNullViolationError, None, ("name",))


@pytest.mark.usefixtures("seeded")
async def test_create_without_a_required_field_is_a_not_null_violation(
    session: AsyncSession,
) -> None:
    with pytest.raises(NotNullViolationError) as raised:
        await UserRepository(session).create({"name": "Nobody"})
    _assert_translated(raised.value, NotNullViolationError, None, ("email",))


def _assert_check_cause(err: CheckViolationError, backend: str) -> None:
    cause = err.__cause__
    assert isinstance(cause, exc.DBAPIError)
    if backend == "mysql":
        # MariaDB raises 4025 as an OperationalError (MySQL 3819): classified by its code.
        assert cause.orig is not None
        assert cause.orig.args[0] in (3819, 4025)
    else:
        assert isinstance(cause, exc.IntegrityError)


@pytest.mark.usefixtures("seeded")
async def test_negative_price_on_create_is_a_check_violation(
    session: AsyncSession, backend: str
) -> None:
    with pytest.raises(CheckViolationError) as raised:
        await ProductRepository(session).create(
            {"id": 2, "sku": "SKU-2", "name": "Desk", "price_cents": -1}
        )
    _assert_translated(raised.value, CheckViolationError, CHECK_NAME, ())
    _assert_check_cause(raised.value, backend)


@pytest.mark.usefixtures("seeded")
async def test_negative_price_on_update_is_a_check_violation(
    session: AsyncSession, backend: str
) -> None:
    with pytest.raises(CheckViolationError) as raised:
        await ProductRepository(session).update(1, price_cents=-1)
    _assert_translated(raised.value, CheckViolationError, CHECK_NAME, ())
    _assert_check_cause(raised.value, backend)


# --- the hierarchy, seen from callers -----------------------------------------------------


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("base", [IntegrityViolationError, RepositoryError])
async def test_integrity_errors_are_caught_by_their_bases(
    sessions: async_sessionmaker[AsyncSession], base: type[RepositoryError]
) -> None:
    attempts: list[Callable[[AsyncSession], Awaitable[object]]] = [
        lambda s: UserRepository(s).create({"email": EMAIL}),
        lambda s: OrderRepository(s).create({"product_id": 999}),
        lambda s: ProductRepository(s).update(1, name=None),
        lambda s: ProductRepository(s).update(1, price_cents=-5),
    ]
    caught: list[type[BaseException]] = []
    for attempt in attempts:
        async with sessions() as session:
            with pytest.raises(base) as raised:
                await attempt(session)
            caught.append(type(raised.value))
            await session.rollback()
    assert caught == [
        ConflictError,
        ForeignKeyViolationError,
        NotNullViolationError,
        CheckViolationError,
    ]


@pytest.mark.usefixtures("seeded")
async def test_missing_row_is_not_found_and_a_lookup_error(session: AsyncSession) -> None:
    products = ProductRepository(session)
    with pytest.raises(LookupError) as on_update:
        await products.update(404, name="Ghost")
    with pytest.raises(LookupError) as on_delete:
        await products.delete(404)
    for raised in (on_update, on_delete):
        assert type(raised.value) is NotFoundError
        assert isinstance(raised.value, RepositoryError)


@pytest.mark.usefixtures("seeded")
async def test_unknown_field_is_invalid_and_a_value_error(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="colour") as raised:
        await TagRepository(session).create({"scope": "shop", "name": "blue", "colour": "blue"})
    assert type(raised.value) is InvalidFieldError
    assert isinstance(raised.value, RepositoryError)


# --- what messages show -------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
async def test_conflict_message_does_not_contain_the_written_value(
    session: AsyncSession,
) -> None:
    with pytest.raises(ConflictError) as raised:
        await UserRepository(session).create({"email": EMAIL})
    err = raised.value
    for text in (str(err), repr(err), *map(str, err.args)):
        assert EMAIL not in text
        assert "ada.lovelace" not in text
    assert "uq_users_email" in str(err)


@pytest.mark.usefixtures("seeded")
async def test_a_written_value_cannot_pose_as_the_key_name(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # MySQL/MariaDB name the key only inside the message text, after the duplicate value:
    # "Duplicate entry '<value>' for key '<name>'". A value that looks like the tail of
    # such a message must not be read as the key.
    tricky = "dup' for key 'planted"
    async with sessions.begin() as session:
        await UserRepository(session).create({"email": tricky})
    async with sessions() as session:
        with pytest.raises(ConflictError) as raised:
            await UserRepository(session).create({"email": tricky})
        _assert_translated(raised.value, ConflictError, "uq_users_email", ("email",))
        assert "planted" not in str(raised.value)


# --- transactions after an integrity error --------------------------------------------------


@pytest.mark.usefixtures("seeded")
async def test_session_is_usable_after_rollback_and_nothing_partial_is_kept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        users = UserRepository(session)
        products = ProductRepository(session)
        await users.create({"email": "flushed.before@example.com"})
        await products.create({"id": 2, "sku": "SKU-2", "name": "Desk"})
        with pytest.raises(ConflictError):
            await users.create({"email": EMAIL})
        await session.rollback()

        # the same session works again, and its commit keeps only what follows the rollback
        await products.create({"id": 3, "sku": "SKU-3", "name": "Shelf", "price_cents": 900})
        await session.commit()
        assert (await products.get(3)) is not None

    assert await _committed(sessions) == {**SEEDED_STATE, "products": 2}
    async with sessions() as session:
        assert [p.id for p in await ProductRepository(session).list()] == [1, 3]


@pytest.mark.usefixtures("seeded")
async def test_unit_of_work_that_hits_a_conflict_writes_none_of_its_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def unit_of_work() -> None:
        async with sessions.begin() as session:
            await ProductRepository(session).create({"id": 2, "sku": "SKU-2", "name": "Desk"})
            await UserRepository(session).create({"email": "new.user@example.com"})
            await ProductRepository(session).create({"id": 3, "sku": "SKU-1", "name": "Lamp 2"})

    with pytest.raises(ConflictError) as raised:
        await unit_of_work()
    _assert_translated(raised.value, ConflictError, "uq_products_sku", ("sku",))
    assert await _committed(sessions) == SEEDED_STATE


# --- without a database: the hierarchy ------------------------------------------------------


def test_hierarchy() -> None:
    integrity = (
        ConflictError,
        ForeignKeyViolationError,
        NotNullViolationError,
        CheckViolationError,
    )
    for integrity_kind in integrity:
        assert issubclass(integrity_kind, IntegrityViolationError)
    others = (
        NotFoundError,
        InvalidFieldError,
        InvalidCursorError,
        NotLoadedError,
        StaleDataError,
        SerializationError,
        ReadOnlyError,
        StatementTimeoutError,
        PoolTimeoutError,
        DatabaseUnavailableError,
    )
    assert issubclass(IntegrityViolationError, RepositoryError)
    for kind in others:
        assert issubclass(kind, RepositoryError)
        assert not issubclass(kind, IntegrityViolationError)
    # a timeout is not an outage: run_in_transaction and callers treat them apart
    assert not issubclass(StatementTimeoutError, DatabaseUnavailableError)
    assert issubclass(CommitOutcomeUnknownError, DatabaseUnavailableError)
    assert issubclass(NotFoundError, LookupError)
    assert issubclass(InvalidFieldError, ValueError)
    assert issubclass(InvalidCursorError, ValueError)


def test_integrity_error_message_names_constraint_and_columns() -> None:
    err = ConflictError(constraint="uq_tags_label_color", columns=["label", "color"])
    assert err.columns == ("label", "color")
    assert str(err) == (
        "unique constraint violated: constraint 'uq_tags_label_color', columns (label, color)"
    )
    assert str(NotNullViolationError(columns=("name",))) == (
        "not null constraint violated: columns (name)"
    )
    bare = ForeignKeyViolationError()
    assert (bare.constraint, bare.columns) == (None, ())
    assert str(bare) == "foreign key constraint violated"


# --- without a database: what each backend reports ------------------------------------------


class _DriverError(Exception):
    """A driver exception of any shape: attributes are set from keywords."""

    def __init__(self, *args: object, **attributes: object) -> None:
        super().__init__(*args)
        for name, value in attributes.items():
            setattr(self, name, value)


def _asyncpg_error(sqlstate: str, **fields: object) -> BaseException:
    """SQLAlchemy's asyncpg adapter error, chaining the asyncpg error that carries the fields."""
    adapter = _DriverError("database error", sqlstate=sqlstate)
    fields = {"constraint_name": None, "column_name": None, "detail": None, **fields}
    adapter.__cause__ = _DriverError(sqlstate=sqlstate, **fields)
    return adapter


@pytest.mark.parametrize(
    ("orig", "kind", "expected"),
    [
        (
            _asyncpg_error("23505", constraint_name="uq_users_email"),
            ConflictError,
            ("uq_users_email", ()),
        ),
        # a unique violation's DETAIL lists the key's columns (the values are not taken)
        (
            _asyncpg_error(
                "23505",
                constraint_name="tags_label_color_key",
                detail="Key (label, color)=(Red, red) already exists.",
            ),
            ConflictError,
            ("tags_label_color_key", ("label", "color")),
        ),
        # the DETAIL of a violation on delete lists the referenced (parent) key, which
        # is not the foreign key's own columns: those come from the metadata
        (
            _asyncpg_error(
                "23503",
                constraint_name=FK_NAME,
                detail='Key (id)=(1) is still referenced from table "orders".',
            ),
            ForeignKeyViolationError,
            (FK_NAME, ()),
        ),
        (
            _asyncpg_error("23502", column_name="name"),
            NotNullViolationError,
            (None, ("name",)),
        ),
        # the asyncpg error itself
        (
            _DriverError(sqlstate="23514", constraint_name=CHECK_NAME, column_name=None),
            CheckViolationError,
            (CHECK_NAME, ()),
        ),
        # psycopg: the fields sit on ``diag``
        (
            _DriverError(
                sqlstate="23503",
                diag=_DriverError(constraint_name=FK_NAME, column_name=None),
            ),
            ForeignKeyViolationError,
            (FK_NAME, ()),
        ),
        (_DriverError("no details", sqlstate="23505"), ConflictError, (None, ())),
    ],
)
def test_postgresql_details(
    orig: BaseException, kind: type[IntegrityViolationError], expected: tuple[Any, ...]
) -> None:
    assert POSTGRESQL.classify(orig) is kind
    assert POSTGRESQL.error_details(orig, kind) == expected


@pytest.mark.parametrize(
    ("code", "message", "kind", "expected"),
    [
        (
            1062,
            "Duplicate entry 'a@example.com' for key 'uq_users_email'",
            ConflictError,
            ("uq_users_email", ()),
        ),
        # MySQL 8 qualifies the key with its table
        (
            1062,
            "Duplicate entry 'a@example.com' for key 'users.uq_users_email'",
            ConflictError,
            ("uq_users_email", ()),
        ),
        (1062, "Duplicate entry '1' for key 'PRIMARY'", ConflictError, ("PRIMARY", ())),
        # a written value that imitates the message's tail is not the key
        (
            1062,
            "Duplicate entry 'x' for key 'planted' for key 'uq_users_email'",
            ConflictError,
            ("uq_users_email", ()),
        ),
        (
            1452,
            "Cannot add or update a child row: a foreign key constraint fails (`db`.`orders`, "
            "CONSTRAINT `fk_orders_product_id_products` FOREIGN KEY (`product_id`) "
            "REFERENCES `products` (`id`))",
            ForeignKeyViolationError,
            (FK_NAME, ("product_id",)),
        ),
        (
            1451,
            "Cannot delete or update a parent row: a foreign key constraint fails "
            "(`db`.`lines`, CONSTRAINT `fk_lines` FOREIGN KEY (`order_id`, `line`) "
            "REFERENCES `orders` (`id`, `line`))",
            ForeignKeyViolationError,
            ("fk_lines", ("order_id", "line")),
        ),
        (1048, "Column 'name' cannot be null", NotNullViolationError, (None, ("name",))),
        (
            1364,
            "Field 'email' doesn't have a default value",
            NotNullViolationError,
            (None, ("email",)),
        ),
        (
            3819,
            "Check constraint 'ck_products_price_cents_non_negative' is violated.",
            CheckViolationError,
            (CHECK_NAME, ()),
        ),
        (
            4025,
            "CONSTRAINT `ck_products_price_cents_non_negative` failed for `db`.`products`",
            CheckViolationError,
            (CHECK_NAME, ()),
        ),
    ],
)
def test_mysql_details(
    code: int,
    message: str,
    kind: type[IntegrityViolationError],
    expected: tuple[Any, ...],
) -> None:
    orig = _DriverError(code, message)
    assert MYSQL.classify(orig) is kind
    assert MYSQL.error_details(orig, kind) == expected


def test_mysql_details_without_a_message() -> None:
    assert MYSQL.error_details(_DriverError(1062), ConflictError) == (None, ())
    assert MYSQL.error_details(_DriverError(), ConflictError) == (None, ())


@pytest.mark.parametrize(
    ("code", "message", "kind", "expected"),
    [
        (2067, "UNIQUE constraint failed: users.email", ConflictError, (None, ("email",))),
        (
            2067,
            "UNIQUE constraint failed: tags.label, tags.color",
            ConflictError,
            (None, ("label", "color")),
        ),
        (1555, "UNIQUE constraint failed: products.id", ConflictError, (None, ("id",))),
        (787, "FOREIGN KEY constraint failed", ForeignKeyViolationError, (None, ())),
        (
            1299,
            "NOT NULL constraint failed: products.name",
            NotNullViolationError,
            (None, ("name",)),
        ),
        (
            275,
            "CHECK constraint failed: ck_products_price_cents_non_negative",
            CheckViolationError,
            (CHECK_NAME, ()),
        ),
        # an unnamed CHECK is reported by its expression
        (
            275,
            "CHECK constraint failed: price_cents >= 0",
            CheckViolationError,
            ("price_cents >= 0", ()),
        ),
    ],
)
def test_sqlite_details(
    code: int,
    message: str,
    kind: type[IntegrityViolationError],
    expected: tuple[Any, ...],
) -> None:
    orig = _DriverError(message, sqlite_errorcode=code)
    assert SQLITE.classify(orig) is kind
    assert SQLITE.error_details(orig, kind) == expected


def test_classification_reads_codes() -> None:
    assert POSTGRESQL.classify(_DriverError(sqlstate="23514")) is CheckViolationError
    assert POSTGRESQL.classify(_DriverError(sqlstate="08006")) is DatabaseUnavailableError
    assert POSTGRESQL.classify(_DriverError(sqlstate="42P01")) is None
    assert POSTGRESQL.classify(_DriverError("no code")) is None
    assert MYSQL.classify(_DriverError(1586, "...")) is ConflictError
    assert MYSQL.classify(_DriverError("not a code")) is None
    # SQLITE_BUSY_SNAPSHOT (517) falls back to its primary code, SQLITE_BUSY
    assert SQLITE.classify(_DriverError("busy", sqlite_errorcode=517)) is SerializationError


# --- without a database: completion from the metadata ---------------------------------------


@pytest.mark.parametrize(
    ("model", "kind", "reported", "expected"),
    [
        # MySQL/MariaDB's PRIMARY becomes the model's primary-key name
        (Product, ConflictError, ("PRIMARY", ()), ("pk_products", ("id",))),
        (Tag, ConflictError, ("PRIMARY", ()), ("pk_tags", ("scope", "name"))),
        # a reported name gets its columns
        (User, ConflictError, ("uq_users_email", ()), ("uq_users_email", ("email",))),
        (
            Tag,
            ConflictError,
            ("uq_tags_label_color", ()),
            ("uq_tags_label_color", ("label", "color")),
        ),
        (Order, ForeignKeyViolationError, (FK_NAME, ()), (FK_NAME, ("product_id",))),
        # a constraint of another table of the same metadata
        (Product, ForeignKeyViolationError, (FK_NAME, ()), (FK_NAME, ("product_id",))),
        (Product, CheckViolationError, (CHECK_NAME, ()), (CHECK_NAME, ())),
        # reported columns name the unique constraint or primary key, in any order
        (User, ConflictError, (None, ("email",)), ("uq_users_email", ("email",))),
        (
            Tag,
            ConflictError,
            (None, ("color", "label")),
            ("uq_tags_label_color", ("color", "label")),
        ),
        (Tag, ConflictError, (None, ("scope", "name")), ("pk_tags", ("scope", "name"))),
        (Product, ConflictError, (None, ("id",)), ("pk_products", ("id",))),
        # columns that no unique constraint covers exactly: no name is made up
        (Tag, ConflictError, (None, ("label",)), (None, ("label",))),
        # only conflicts are named from their columns
        (Product, NotNullViolationError, (None, ("name",)), (None, ("name",))),
        # an unnamed CHECK reported by its expression (SQLite) has no name
        (Product, CheckViolationError, ("price_cents >= 0", ()), (None, ())),
        # a name the metadata does not know is kept, without columns
        (Product, ConflictError, ("uq_made_elsewhere", ()), ("uq_made_elsewhere", ())),
        (Product, ForeignKeyViolationError, (None, ()), (None, ())),
    ],
)
def test_resolve_constraint(
    model: type[Any],
    kind: type[IntegrityViolationError],
    reported: tuple[str | None, tuple[str, ...]],
    expected: tuple[str | None, tuple[str, ...]],
) -> None:
    assert _resolve_constraint(_table(model), kind, *reported) == expected


def test_resolve_constraint_without_a_table_keeps_what_was_reported() -> None:
    assert _resolve_constraint(None, ConflictError, "PRIMARY", ()) == ("PRIMARY", ())
    assert _resolve_constraint(None, ConflictError, None, ("email",)) == (None, ("email",))
    assert _resolve_constraint(None, CheckViolationError, "price_cents >= 0", ()) == (None, ())


# --- without a database: the whole translation ------------------------------------------------


def test_mariadb_check_raised_as_operational_error_is_a_check_violation() -> None:
    orig = _DriverError(
        4025, "CONSTRAINT `ck_products_price_cents_non_negative` failed for `db`.`products`"
    )
    err = exc.OperationalError("INSERT INTO products ...", None, orig)
    context = ErrorContext(make_url("mariadb+aiomysql://db/shop"), table=_table(Product))
    translated = translate(err, lambda: context)
    assert type(translated) is CheckViolationError
    assert (translated.constraint, translated.columns) == (CHECK_NAME, ())


def test_unknown_integrity_code_is_still_an_integrity_violation() -> None:
    orig = _DriverError(sqlstate="23000")  # integrity_constraint_violation, no subclass
    err = exc.IntegrityError("UPDATE users ...", None, orig)
    context = ErrorContext(make_url("postgresql+asyncpg://db/shop"), table=_table(User))
    translated = translate(err, lambda: context)
    assert type(translated) is IntegrityViolationError
    assert (translated.constraint, translated.columns) == (None, ())


def test_non_database_errors_are_not_translated() -> None:
    context = ErrorContext(make_url("sqlite+aiosqlite://"))
    assert translate(KeyError("x"), lambda: context) is None
    assert translate(exc.InvalidRequestError("misuse"), lambda: context) is None


# --- the other PostgreSQL driver ---------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_psycopg_errors_are_classified_like_asyncpg(
    db_url: URL, sessions: async_sessionmaker[AsyncSession]
) -> None:
    factory = EngineFactory(db_url.set(drivername="postgresql+psycopg"))
    engine = factory.create_async_engine()
    try:
        async with factory.create_sessionmaker(engine)() as session:
            users = UserRepository(session)
            await users.create({"email": "ada@example.com"})
            await session.commit()
            with pytest.raises(ConflictError) as conflict:
                await users.create({"email": "ada@example.com"})
            assert (conflict.value.constraint, conflict.value.columns) == (
                "uq_users_email",
                ("email",),
            )
            await session.rollback()
            with pytest.raises(ForeignKeyViolationError) as foreign_key:
                await OrderRepository(session).create({"product_id": 999, "quantity": 1})
            assert (foreign_key.value.constraint, foreign_key.value.columns) == (
                "fk_orders_product_id_products",
                ("product_id",),
            )
            await session.rollback()
            with pytest.raises(NotNullViolationError) as not_null:
                await ProductRepository(session).create({"sku": "n", "name": None})
            assert not_null.value.columns == ("name",)
            await session.rollback()
            with pytest.raises(CheckViolationError) as check:
                await ProductRepository(session).create(
                    {"sku": "c", "name": "C", "price_cents": -1}
                )
            assert check.value.constraint == "ck_products_price_cents_non_negative"
            await session.rollback()
    finally:
        await engine.dispose()
    async with sessions() as session:
        assert [u.email for u in await UserRepository(session).list()] == ["ada@example.com"]
