"""Soft-delete test models, on a base of their own (tables prefixed ``sd_``)."""

from __future__ import annotations

import uuid

from sqlalchemy import Computed, ForeignKey, Index, Integer, MetaData, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sqla_repo import (
    NAMING_CONVENTION,
    Repository,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
    VersionedMixin,
)


class SdBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SdAuthor(SdBase):
    """A model without the mixin whose relationship reaches soft-delete models."""

    __tablename__ = "sd_authors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    posts: Mapped[list[SdPost]] = relationship(back_populates="author", order_by="SdPost.id")


class SdPost(SoftDeleteMixin, SdBase):
    __tablename__ = "sd_posts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("sd_authors.id"))
    author: Mapped[SdAuthor | None] = relationship(back_populates="posts")
    notes: Mapped[list[SdNote]] = relationship(back_populates="post", order_by="SdNote.id")


class SdNote(SdBase, SoftDeleteMixin):  # the mixin after the base works too
    __tablename__ = "sd_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(String(100))
    post_id: Mapped[int] = mapped_column(ForeignKey("sd_posts.id"))
    post: Mapped[SdPost] = relationship(back_populates="notes")


class SdAccount(SoftDeleteMixin, SdBase):
    """A column unique among every row, marked ones included."""

    __tablename__ = "sd_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(50))


class SdMember(SoftDeleteMixin, SdBase):
    """Email unique among live rows only: a partial unique index (PostgreSQL, SQLite)."""

    __tablename__ = "sd_members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    __table_args__ = (
        Index(
            "uq_sd_members_live_email",
            "email",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )


class SdMariaMember(SoftDeleteMixin, SdBase):
    """Email unique among live rows only: a unique generated column (MariaDB)."""

    __tablename__ = "sd_maria_members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    live_email: Mapped[str | None] = mapped_column(
        String(255),
        Computed("CASE WHEN deleted_at IS NULL THEN email END", persisted=False),
        unique=True,
    )


class SdCounter(SoftDeleteMixin, VersionedMixin, SdBase):
    __tablename__ = "sd_counters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class SdPlain(SdBase):
    """A model without the mixin, reaching none."""

    __tablename__ = "sd_plains"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class SdArticle(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, SdBase):
    """The contract's example: every mixin at once."""

    __tablename__ = "sd_articles"
    title: Mapped[str] = mapped_column(String(200))


class SdStamped(SdBase, SoftDeleteMixin, VersionedMixin, TimestampMixin):
    """The mixins in another order, after the base."""

    __tablename__ = "sd_stamped"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Articles(Repository[SdArticle, uuid.UUID]):
    pass


class Stamps(Repository[SdStamped, int]):
    pass


class Authors(Repository[SdAuthor, int]):
    pass


class Posts(Repository[SdPost, int]):
    pass


class Notes(Repository[SdNote, int]):
    pass


class Accounts(Repository[SdAccount, int]):
    pass


class Members(Repository[SdMember, int]):
    pass


class MariaMembers(Repository[SdMariaMember, int]):
    pass


class Counters(Repository[SdCounter, int]):
    pass


class Plains(Repository[SdPlain, int]):
    pass


PORTABLE_TABLES = [
    m.__table__
    for m in (SdAuthor, SdPost, SdNote, SdAccount, SdCounter, SdPlain, SdArticle, SdStamped)
]
"""Tables every backend gets; the live-unique member table depends on the backend."""
