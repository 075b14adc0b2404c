"""Models the tests store, on a DeclarativeBase of their own (not ``sqla_repo.Base``)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedAsDataclass, mapped_column, relationship

from sqla_repo import Repository, VersionedMixin


class Shop(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Product(Shop):
    __tablename__ = "products"
    __table_args__ = (CheckConstraint("price_cents >= 0", name="price_cents_non_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(10), server_default="new")

    # passive_deletes="all": deleting a product still referenced is refused by the
    # database (a ForeignKeyViolationError) instead of the ORM nulling orders.product_id
    orders: Mapped[list[Order]] = relationship(back_populates="product", passive_deletes="all")


class Order(Shop):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)

    product: Mapped[Product] = relationship(back_populates="orders")


class Tag(Shop):
    """A composite primary key, and a two-column unique constraint."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("label", "color"),)

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str | None] = mapped_column(String(40))
    color: Mapped[str | None] = mapped_column(String(20))


class Color(enum.Enum):
    """Declared in an order that is not alphabetical."""

    RED = "r"
    GREEN = "g"
    BLUE = "b"


class Reading(Shop):
    """Orderings of every kind: ties, NULLs, floats, strings, timestamps and enums."""

    __tablename__ = "readings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grp: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(20))
    taken: Mapped[datetime | None] = mapped_column(DateTime)
    color: Mapped[Color | None] = mapped_column(Enum(Color))


post_labels = Table(
    "post_labels",
    Shop.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True),
)


class Author(Shop):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str | None] = mapped_column(String(80))
    edits: Mapped[int] = mapped_column(
        Integer, default=0, onupdate=literal_column("authors.edits + 1")
    )

    posts: Mapped[list[Post]] = relationship(back_populates="author")


class Post(Shop):
    """A one-to-many from Author, a many-to-many to Label, and a unique index on a pair."""

    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_author_slug", "author_id", "slug", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    slug: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    views: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    author: Mapped[Author] = relationship(back_populates="posts")
    labels: Mapped[list[Label]] = relationship(secondary=post_labels, back_populates="posts")


class Label(Shop):
    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)

    posts: Mapped[list[Post]] = relationship(secondary=post_labels, back_populates="labels")


class Member(Shop):
    """An email unique among live members only (a full unique index on MySQL/MariaDB)."""

    __tablename__ = "members"
    __table_args__ = (
        Index(
            "uq_members_live_email",
            "email",
            unique=True,
            postgresql_where=text("live"),
            sqlite_where=text("live"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(80))
    live: Mapped[bool] = mapped_column(Boolean, default=True)


class Vehicle(Shop):
    """Single-table inheritance."""

    __tablename__ = "vehicles"
    __mapper_args__ = {  # noqa: RUF012 - SQLAlchemy reads it once, at mapping
        "polymorphic_on": "kind",
        "polymorphic_identity": "vehicle",
    }

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    plate: Mapped[str] = mapped_column(String(20), unique=True)
    seats: Mapped[int | None] = mapped_column(Integer)


class Car(Vehicle):
    __mapper_args__ = {"polymorphic_identity": "car"}  # noqa: RUF012 - read once, at mapping


class ProductRepository(Repository[Product, int]):
    async def by_sku(self, sku: str) -> Product | None:
        found = await self.list(Product.sku == sku)
        return found[0] if found else None


class OrderRepository(Repository[Order, int]):
    pass


class TagRepository(Repository[Tag, tuple[str, str]]):
    pass


class ReadingRepository(Repository[Reading, int]):
    pass


class AuthorRepository(Repository[Author, int]):
    pass


class PostRepository(Repository[Post, int]):
    pass


class LabelRepository(Repository[Label, int]):
    pass


class MemberRepository(Repository[Member, int]):
    pass


class VehicleRepository(Repository[Vehicle, int]):
    pass


class CarRepository(Repository[Car, int]):
    pass


class Counter(VersionedMixin, Shop):
    """Optimistic locking: every UPDATE checks and bumps ``version``."""

    __tablename__ = "counters"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(default=0)


class Job(Shop):
    """A queue of work items that concurrent workers claim."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    claimed_by: Mapped[int | None] = mapped_column(default=None)


class CounterRepository(Repository[Counter, int]):
    pass


class JobRepository(Repository[Job, int]):
    pass


class Note(MappedAsDataclass, Shop):
    """A dataclass model on a base that is not one: a required field, a field with a
    default, and two the constructor does not take (``init=False``)."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, init=False)
    title: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text, default="")
    edits: Mapped[int] = mapped_column(Integer, init=False, default=0)


class Gauge(Shop):
    """A column of every type whose values are checked before any SQL, and one (JSON) that
    is not."""

    __tablename__ = "gauges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    small: Mapped[int | None] = mapped_column(SmallInteger)
    big: Mapped[int | None] = mapped_column(BigInteger)
    ratio: Mapped[float | None] = mapped_column(Float)
    precise: Mapped[float | None] = mapped_column(Double)
    amount: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    code: Mapped[str | None] = mapped_column(String(8))
    body: Mapped[str | None] = mapped_column(Text)
    flag: Mapped[bool | None] = mapped_column(Boolean)
    day: Mapped[date | None] = mapped_column(Date)
    at: Mapped[datetime | None] = mapped_column(DateTime)
    clock: Mapped[time | None] = mapped_column(Time)
    color: Mapped[Color | None] = mapped_column(Enum(Color, name="gauge_color"))
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class NoteRepository(Repository[Note, int]):
    pass


class GaugeRepository(Repository[Gauge, int]):
    pass
