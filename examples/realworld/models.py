"""The tables: users and follows, articles with tags and favorites, comments.

Every key is a :class:`sqla_repo.BigIntPrimaryKeyMixin` ``id`` (comment ids are integers in
the API); articles and comments carry :class:`sqla_repo.TimestampMixin`'s aware UTC
``created_at``/``updated_at``. Names that must be unique compare byte for byte on every
backend: MariaDB's default collation would call ``Ann`` and ``ann`` (or ``ann `` with a
trailing space) the same, so those columns use ``utf8mb4_nopad_bin`` there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, MetaData, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
    query_expression,
    relationship,
)

from sqla_repo import NAMING_CONVENTION, BigIntPrimaryKeyMixin, TimestampMixin

USERNAME_LENGTH = 64
EMAIL_LENGTH = 255
IMAGE_LENGTH = 2048
TITLE_LENGTH = 200
SLUG_LENGTH = 255
DESCRIPTION_LENGTH = 1000
TAG_LENGTH = 64
BODY_LENGTH = 100_000
"""Characters of an article body, a comment body or a bio (MEDIUMTEXT on MariaDB)."""


def _exact(length: int) -> String:
    """``VARCHAR(length)`` that compares byte for byte on MariaDB too."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_nopad_bin"), "mysql", "mariadb"
    )


_LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


UTF8MB4 = {"mysql_charset": "utf8mb4"}
"""Every table holds any Unicode text on MariaDB, whatever the database's default."""


class Base(DeclarativeBase):
    """Constraints named by sqla_repo's convention, so that migrations can name them."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    @declared_attr.directive
    def __table_args__(cls) -> Any:  # noqa: N805 - a class-level directive
        return UTF8MB4


class User(BigIntPrimaryKeyMixin, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(_exact(USERNAME_LENGTH), unique=True)
    email: Mapped[str] = mapped_column(_exact(EMAIL_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    bio: Mapped[str | None] = mapped_column(_LongText)
    image: Mapped[str | None] = mapped_column(String(IMAGE_LENGTH))

    following: Mapped[bool | None] = query_expression()
    """Whether the reader follows this user: set only by the reads that ask for it."""


class Follow(Base):
    __tablename__ = "follows"

    follower_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Tag(BigIntPrimaryKeyMixin, Base):
    __tablename__ = "tags"

    name: Mapped[str] = mapped_column(_exact(TAG_LENGTH), unique=True)


class ArticleTag(Base):
    """An article's tag, at its place in the article's ``tagList``."""

    __tablename__ = "article_tags"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int]


class Article(BigIntPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "articles"
    __table_args__ = (Index("ix_articles_created_at_id", "created_at", "id"), UTF8MB4)

    slug: Mapped[str] = mapped_column(_exact(SLUG_LENGTH), unique=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_LENGTH))
    body: Mapped[str] = mapped_column(_LongText)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    author: Mapped[User] = relationship(lazy="raise")
    tags: Mapped[list[Tag]] = relationship(
        secondary="article_tags",
        order_by="ArticleTag.position",
        lazy="raise",
        viewonly=True,
    )

    favorited: Mapped[bool | None] = query_expression()
    """Whether the reader favorited it: set only by the reads that ask for it."""
    favorites_count: Mapped[int | None] = query_expression()
    """How many users favorited it: set only by the reads that ask for it."""


class Favorite(Base):
    __tablename__ = "favorites"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Comment(BigIntPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "comments"

    body: Mapped[str] = mapped_column(_LongText)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    author: Mapped[User] = relationship(lazy="raise")
