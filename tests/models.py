"""Models the tests store, on a DeclarativeBase of their own (not ``sqla_repo.Base``)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sqla_repo import Repository


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


class ProductRepository(Repository[Product, int]):
    async def by_sku(self, sku: str) -> Product | None:
        found = await self.list(Product.sku == sku)
        return found[0] if found else None


class OrderRepository(Repository[Order, int]):
    pass


class TagRepository(Repository[Tag, tuple[str, str]]):
    pass
